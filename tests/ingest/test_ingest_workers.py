"""Parsing in worker processes gives exactly what parsing in-process gives."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CORPORA, read_jsonl, write_jsonl
from readers_helpers import ATOM_XML, FR_BODY, NEWS_HTML, NITF_XML, RSS_XML, make_docx, make_eml, make_pdf, make_zip


def _archive(root: Path) -> Path:
    """Every format, a few broken files between them, across two folders."""
    a, b = root / "a", root / "b"
    a.mkdir(parents=True)
    b.mkdir()
    write_jsonl(a / "export.jsonl", read_jsonl(CORPORA / "xquad" / "corpus.zh.jsonl", limit=6)
                + [{"id": "bad"}] + read_jsonl(CORPORA / "xquad" / "corpus.ar.jsonl", limit=4))
    (a / "page.html").write_text(NEWS_HTML, encoding="utf-8")
    (a / "nitf.xml").write_text(NITF_XML, encoding="utf-8")
    (a / "empty.txt").write_bytes(b"")
    (a / "feed.rss").write_text(RSS_XML, encoding="utf-8")
    (b / "feed.atom").write_text(ATOM_XML, encoding="utf-8")
    (b / "note.md").write_text("# Note\n\n" + FR_BODY, encoding="utf-8")
    (b / "fake.pdf").write_text("not a pdf", encoding="utf-8")
    (b / "release.eml").write_bytes(make_eml())  # (a text attachment is dated by the clock: a readers bug)
    (b / "doc.pdf").write_bytes(make_pdf([FR_BODY], title="Port"))
    make_docx(b / "memo.docx", "Memo", [FR_BODY])
    (b / "bundle.zip").write_bytes(make_zip({"x/page.html": NEWS_HTML.encode(), "../evil.txt": b"escape"}))
    return root


def _store(assistant) -> list[tuple]:
    import qdrant_edge as q

    points, offset = [], None
    while True:
        records, offset = assistant.store.shard.scroll(q.ScrollRequest(offset=offset, limit=256, with_payload=True))
        points += [(str(r.id), sorted((k, str(v)) for k, v in r.payload.items())) for r in records]
        if offset is None:
            return sorted(points)


def _wait_until_ready(assistant, timeout_s: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not assistant.start_parsers().ready():
        assert time.monotonic() < deadline, "no parser process started"
        time.sleep(0.05)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_give_the_same_store_and_report_as_parsing_here(assistant_factory, tmp_path, workers):
    root = _archive(tmp_path / "archive")
    paths = [root / "b", root / "a", root / "missing.jsonl"]
    one = assistant_factory(data_dir=str(tmp_path / "one"), ingest_workers=0)
    many = assistant_factory(data_dir=str(tmp_path / "many"), ingest_workers=workers)
    assert one.start_parsers() is None
    many.start_parsers()
    _wait_until_ready(many)  # else the first files are read here while the workers boot
    r1, r2 = one.ingest(paths), many.ingest(paths)
    d1, d2 = r1.to_dict(), r2.to_dict()
    d1.pop("elapsed"), d2.pop("elapsed")
    assert d1 == d2
    assert r1.ingested >= 15 and len(r1.failed) >= 4
    failed = [f["path"] for f in r1.failed]
    assert failed.index(str(root / "b" / "fake.pdf")) < failed.index(str(root / "a" / "empty.txt"))  # file order
    assert _store(one) == _store(many)
    again = many.ingest(paths)
    assert again.unchanged == r1.ingested and again.ingested == again.updated == 0


def test_kept_parser_processes_recover_from_a_killed_worker_and_stop_with_the_assistant(assistant_factory, tmp_path):
    """A worker killed between two ingests (as a file crashing it would) leaves the next ingest
    whole; closing the assistant stops the processes for good."""
    import os
    import signal

    root = _archive(tmp_path / "archive")
    paths = [root / "b", root / "a"]
    here = assistant_factory(data_dir=str(tmp_path / "here"), ingest_workers=0)
    kept = assistant_factory(data_dir=str(tmp_path / "kept"), ingest_workers=1)
    pool = kept.start_parsers()
    _wait_until_ready(kept)
    (root / "a" / "new.md").write_text("# Port\n\n" + FR_BODY.replace("port", "quai"), encoding="utf-8")
    pids = list(pool.executor._processes)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    first = kept.ingest(paths)
    assert first.ingested >= 15 and not [f for f in first.failed if "died" in f["error"]]
    expected = here.ingest(paths)
    assert first.to_dict() | {"elapsed": 0} == expected.to_dict() | {"elapsed": 0}
    assert _store(kept) == _store(here)
    kept.close()
    assert not pool.running
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.start()


@pytest.mark.parametrize("batches_later", [1, 6])
def test_an_id_repeated_in_a_later_batch_leaves_one_version(assistant_factory, tmp_path, batches_later):
    """The writer thread may be a batch behind: a repeated id must still replace, not duplicate;
    and far later (past the window of queued batches) in a first import, which looks up only ids
    it has already planned."""
    from assistant.store.interface import SearchFilter
    from ingest.pipeline import BATCH_ARTICLES

    n = BATCH_ARTICLES * batches_later + 8
    rows = [{"id": f"n{i}", "title": f"Note {i}", "body": f"Short note number {i} about the harbour."} for i in range(n)]
    rows.append({"id": "n1", "title": "Note 1", "body": "The corrected note about the harbour budget."})
    a = assistant_factory()
    report = a.ingest([write_jsonl(tmp_path / "notes.jsonl", rows)])
    assert (report.ingested, report.updated) == (n, 1)
    stored = [p for p in a.store.scroll(SearchFilter(), ["article_id", "text"]) if p["article_id"] == "n1"]
    assert [p["text"] for p in stored] == ["The corrected note about the harbour budget."]


def test_prefetched_batches_keep_order_raise_in_order_and_stop_the_reader_on_close():
    from ingest.pipeline import _Prefetch

    closed = []

    def source():
        try:
            for i in range(1000):
                if i == 5:
                    raise ValueError("bad file")
                yield [i]
        finally:
            closed.append(True)

    src = source()
    got = []
    batches = _Prefetch(iter(src), src)
    try:
        with pytest.raises(ValueError, match="bad file"):
            for b in batches:
                got.append(b)
    finally:
        batches.close()
    assert got == [[0], [1], [2], [3], [4]] and closed == [True]

    def endless():
        try:
            i = 0
            while True:
                i += 1
                yield [i]
        finally:
            closed.append("endless")

    src = endless()
    batches = _Prefetch(iter(src), src, depth=2)
    first = next(iter(batches))
    batches.close()  # the consumer stops early (a write failed): the reader stops and closes its source
    assert first == [1] and not batches.thread.is_alive() and closed[-1] == "endless"


def test_workers_prepare_in_full_only_what_the_store_lacks(make_settings, tmp_path):
    """BM25 vectors and USE tokens come with an article only when the store does not hold it as
    it is (``known``); computed later they are the same, and the encoder's vectors from a worker's
    tokens equal its own, bit for bit, in batches that mix both."""
    import numpy as np

    from assistant.embedders.dense import UseEmbedder, passage_tokenizers
    from assistant.embedders.sparse import document_vector
    from ingest.payload import embed_text
    from ingest.workers import read_prepared

    settings = make_settings()
    rows = read_jsonl(CORPORA / "xquad" / "corpus.zh.jsonl", limit=3) + read_jsonl(CORPORA / "xquad" / "corpus.es.jsonl", limit=3)
    path = write_jsonl(tmp_path / "export.jsonl", rows)
    tokenizers = passage_tokenizers(settings)
    assert set(tokenizers) == {"use"}

    lazy = list(read_prepared(path, settings))  # as read in the ingesting process
    assert lazy and all(item.sparse is None and not item.tokens for item in lazy)
    stored = {lazy[0].key: {lazy[0].digest: len(lazy[0].chunks)},  # as it is
              lazy[1].key: {"an older version": len(lazy[1].chunks)}}
    full = list(read_prepared(path, settings, known=stored, tokenizers=tokenizers))
    assert [i.article.id for i in full] == [i.article.id for i in lazy]
    assert full[0].sparse is None and not full[0].tokens
    assert all(item.sparse is not None and len(item.tokens["use"]) == len(item.chunks) for item in full[1:])
    for item in full:
        assert item.sparse_vectors() == [document_vector(c.text) for c in item.chunks]

    texts = [embed_text(item.article, c, settings.embed_title) for item in full for c in item.chunks]
    tokens = [t for item in full for t in item.chunk_tokens("use")]
    assert None in tokens and any(t is not None for t in tokens)
    use = UseEmbedder(threads=1)
    assert np.array_equal(use.embed_passages(texts, tokens=tokens), use.embed_passages(texts))


def test_a_worker_prepares_a_large_file_only_as_far_as_the_ingesting_process_would(make_settings, tmp_path,
                                                                                    monkeypatch):
    """Over FULL_PREPARE_MAX_BYTES a file comes back hashed and chunked only (its tokens and BM25
    vectors would take several times its size in both processes)."""
    from assistant.embedders.dense import passage_tokenizers
    from ingest import workers

    settings = make_settings()
    path = write_jsonl(tmp_path / "export.jsonl", read_jsonl(CORPORA / "xquad" / "corpus.en.jsonl", limit=4))
    monkeypatch.setattr(workers, "_worker_settings", settings)
    monkeypatch.setattr(workers, "_worker_tokenizers", passage_tokenizers(settings))
    small = workers._read_in_worker(path, None, None, {}).items
    assert len(small) == 4 and all(item.sparse is not None and item.tokens for item in small)
    monkeypatch.setattr(workers, "FULL_PREPARE_MAX_BYTES", path.stat().st_size - 1)
    large = workers._read_in_worker(path, None, None, {}).items
    assert [i.digest for i in large] == [i.digest for i in small]
    assert all(item.sparse is None and not item.tokens for item in large)


@pytest.mark.parametrize("preset", [None, "7"])
def test_importing_the_package_makes_idle_blas_threads_sleep_at_once(preset):
    """OpenBLAS reads its thread timeout when numpy loads: importing ``assistant`` first sets it
    (2^4 cycles: idle threads sleep instead of spinning on the cores the parsers need); a value
    the environment already gives is kept."""
    import os
    import subprocess
    import sys

    probe = ("import assistant, ctypes, numpy\n"
             "from threadpoolctl import threadpool_info\n"
             "lib = [i['filepath'] for i in threadpool_info() if i['internal_api'] == 'openblas'][0]\n"
             "print(ctypes.CDLL(lib).openblas_thread_timeout())")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == (preset or "4")
