"""kill -9 during `newsroom ingest`, then a re-run: the store ends exactly as a clean run leaves it.

Ten kills at seeded random moments spread over a run, on a fresh store and on an update
of a stored archive, plus one while the store folder is created and one right after the
first upsert; after each, the same command is run to completion and the store is
compared with a clean run's, point by point. Every other killed run parses in two
worker processes, which must not outlive it.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPORA, read_jsonl, start_app, write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # ~60 s on 2 quiet cores; shared machines are slower

LANGS = ("en", "zh", "es", "de", "ru", "ar")
PER_LANG = 34
# Small chunks: most articles get two or three, so a half-written article would show.
# Short texts keep the encoder (the cost of each run) cheap.
ENV = {"NEWSROOM_CHUNK_MAX_TOKENS": "8", "NEWSROOM_CHUNK_MIN_TOKENS": "4", "NEWSROOM_CHUNK_OVERLAP_TOKENS": "0",
       "NEWSROOM_EMBED_TITLE": "false", "NEWSROOM_EMBEDDERS": "use"}


def _short(body: str, lang: str, size: int) -> str:
    return body[: size * 2] if lang == "zh" else " ".join(body.split()[:size])


def _archive(folder: Path, edited: bool) -> Path:
    """A few hundred short articles in six languages, one JSONL export per language.

    The edited version changes every 8th article (some grow a chunk, some shrink to
    one) and adds new ones: the update path (new chunks in, old ones out) is exercised.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for i, lang in enumerate(LANGS):
        rows = read_jsonl(CORPORA / "xquad" / f"corpus.{lang}.jsonl")[i * PER_LANG : (i + 1) * PER_LANG + 4]
        out = []
        for n, r in enumerate(rows[:PER_LANG]):
            size = 11
            if edited and n % 8 == 0:
                size = 26 if n % 16 == 0 else 5
            out.append({"id": f"{lang}-{n}", "title": r["title"], "lang": lang, "source": "xquad",
                        "body": _short(r["body"], lang, size)})
        if edited:
            out += [{"id": f"{lang}-new-{n}", "title": r["title"], "lang": lang, "source": "xquad",
                     "body": _short(r["body"], lang, 12)} for n, r in enumerate(rows[PER_LANG:])]
        write_jsonl(folder / f"{lang}.jsonl", out)
    return folder


def _command(data: Path, archive: Path, workers: int = 1) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, **ENV, "NEWSROOM_DATA_DIR": str(data), "NEWSROOM_INGEST_WORKERS": str(workers)}
    return [sys.executable, "-m", "assistant.cli", "-v", "ingest", str(archive), "--json", "--strict"], env


def _run(data: Path, archive: Path) -> float:
    cmd, env = _command(data, archive)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return time.perf_counter() - started


def _kill_after(data: Path, archive: Path, when: float | str, workers: int) -> None:
    """Start the ingest and SIGKILL it after ``when`` seconds, or at a named moment:
    'create' (the store folder is being made) or 'upsert' (right after the first upsert)."""
    import psutil

    cmd, env = _command(data, archive, workers)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    children: list[psutil.Process] = []
    try:
        if when == "upsert":
            for line in proc.stderr:
                if "upserted" in line:
                    break
            else:
                pytest.fail("the ingest ended without logging an upsert")
        elif when == "create":
            while not (data / "qdrant.creating").exists() and proc.poll() is None:
                time.sleep(0.0005)
        else:
            try:
                proc.wait(timeout=when)
            except subprocess.TimeoutExpired:
                pass
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    # Parser processes notice their parent is gone and end on their own.
    _, alive = psutil.wait_procs(children, timeout=20)
    alive = [c for c in alive if _running(c)]
    for child in alive:
        child.kill()
    assert not alive, "parser processes outlived the killed ingest"


def _running(proc) -> bool:
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE  # a zombie has ended; only its reaper is missing
    except psutil.NoSuchProcess:
        return False


def _snapshot(data: Path) -> list[tuple]:
    """Every stored point as (id, article, chunk index, chunk count, content hash), checked for wholeness."""
    import qdrant_edge as q

    from assistant.store.edge import EdgeStore

    store = EdgeStore(data / "qdrant", {"use": 512})
    try:
        points, offset = [], None
        while True:
            records, offset = store.shard.scroll(q.ScrollRequest(offset=offset, limit=512, with_payload=True))
            for r in records:
                p = r.payload
                assert str(r.id) == p["chunk_id"]
                points.append((str(r.id), p["article_id"], p["chunk_index"], p["n_chunks"], p["content_hash"]))
            if offset is None:
                break
    finally:
        store.close()
    assert len({p[0] for p in points}) == len(points), "duplicate point ids"
    articles: dict[str, list[tuple]] = {}
    for p in points:
        articles.setdefault(p[1], []).append(p)
    for article_id, chunks in articles.items():
        assert len({c[4] for c in chunks}) == 1, f"{article_id}: two versions stored"
        assert sorted(c[2] for c in chunks) == list(range(chunks[0][3])), f"{article_id}: half-written"
    return sorted(points)


def test_kill_9_during_ingest_then_rerun_gives_the_clean_store(tmp_path):
    v1 = _archive(tmp_path / "v1", edited=False)
    v2 = _archive(tmp_path / "v2", edited=True)
    clean1, clean2 = tmp_path / "clean1", tmp_path / "clean2"
    full = _run(clean1, v1)
    expected1 = _snapshot(clean1)
    assert len({p[1] for p in expected1}) == len(LANGS) * PER_LANG
    assert len(expected1) > 1.8 * len(LANGS) * PER_LANG  # most articles have several chunks
    shutil.copytree(clean1, clean2)
    update = _run(clean2, v2)
    expected2 = _snapshot(clean2)
    assert expected2 != expected1 and len({p[1] for p in expected2}) == len(LANGS) * (PER_LANG + 4)

    rng = random.Random(20261124)
    # (archive to ingest, store it starts from, expected end state, when to kill)
    trials: list[tuple[Path, Path | None, list[tuple], float | str]] = [
        (v1, None, expected1, "create"), (v1, None, expected1, "upsert")]
    trials += [(v1, None, expected1, rng.uniform(0.1, 0.95) * full) for _ in range(6)]
    trials += [(v2, clean1, expected2, rng.uniform(0.1, 0.95) * update) for _ in range(4)]
    for n, (archive, start_from, expected, when) in enumerate(trials):
        data = tmp_path / f"trial{n}"
        if start_from is not None:
            shutil.copytree(start_from, data)
        _kill_after(data, archive, when, workers=1 if n % 2 else 0)  # parsing in a process or in-process
        _run(data, archive)
        assert _snapshot(data) == expected, f"trial {n} (killed at {when}) differs from a clean run"
        shutil.rmtree(data)


def test_a_store_folder_left_half_created_is_rebuilt_and_a_foreign_one_refused(tmp_path):
    from assistant.errors import ConfigError
    from assistant.store.edge import EdgeStore
    from assistant.store.interface import SearchFilter

    half = tmp_path / "half" / "qdrant"
    (half / "wal").mkdir(parents=True)
    (half / "wal" / "tmp-open-1").write_bytes(b"\0" * 64)  # what a kill during Edge's own creation leaves
    (half.parent / "qdrant.creating").mkdir()  # and a kill during ours
    store = EdgeStore(half, {"use": 512})
    assert store.count(SearchFilter()) == 0
    store.close()
    assert not (half.parent / "qdrant.creating").exists()
    foreign = tmp_path / "foreign" / "qdrant"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    for _ in range(2):  # the refusal gives the lock back
        with pytest.raises(ConfigError, match="no Qdrant Edge store"):
            EdgeStore(foreign, {"use": 512})
    assert (foreign / "notes.txt").read_text() == "mine"


def test_the_app_killed_mid_upload_loses_nothing_stored(tmp_path):
    """The server is SIGKILLed while an upload is being written; what was stored stays whole."""
    import threading

    import httpx

    data = tmp_path / "data"
    env = {**os.environ, "NEWSROOM_EMBEDDERS": "use", "NEWSROOM_DATA_DIR": str(data), "NEWSROOM_INGEST_WORKERS": "0"}
    first = write_jsonl(tmp_path / "first.jsonl", read_jsonl(CORPORA / "xquad" / "corpus.zh.jsonl", 20))
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(first)], env=env, check=True, timeout=300,
                   capture_output=True)
    before = _snapshot(data)
    wire = tmp_path / "wire.jsonl"
    write_jsonl(wire, read_jsonl(CORPORA / "xquad" / "corpus.en.jsonl"))  # 240 articles

    def upload(url: str) -> httpx.Response | None:
        try:
            return httpx.post(url + "/api/ingest", files=[("files", ("wire.jsonl", wire.read_bytes()))], timeout=600)
        except httpx.HTTPError:
            return None  # the server died under it

    server, url = start_app(env)
    try:
        sender = threading.Thread(target=upload, args=(url,))
        sender.start()
        deadline = time.time() + 300
        while time.time() < deadline:  # kill once part of the upload is stored
            chunks = httpx.get(url + "/api/stats", timeout=30).json()["chunks"]
            if chunks > len(before):
                break
            time.sleep(0.2)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(30)
        sender.join(60)
    finally:
        server.kill()
    after = _snapshot(data)  # whole articles only, no duplicates
    assert set(before) <= set(after), "the restart lost stored articles"
    assert len({p[1] for p in after}) < 20 + 240, "the kill came after the upload had finished"

    server, url = start_app(env)
    try:
        done = upload(url)
        assert done is not None and done.status_code == 200, done
    finally:
        server.kill()
        server.wait(30)
    final = _snapshot(data)
    assert set(before) <= set(final) and len({p[1] for p in final}) == 20 + 240
