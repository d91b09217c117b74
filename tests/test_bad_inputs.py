"""Hostile and broken inputs: each gives one clear failure naming the file, and the
batch goes on. Reader-level cases call the readers; the batch cases run the real
pipeline (store + default embedder) on a handful of files."""
from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

from ingest.article import Article
from ingest.readers import ReaderError, ReadFailure, reader_for
from ingest.readers.archive import ZipReader
from ingest.readers.base import decode_bytes
from readers_helpers import EN_BODY, FR_BODY, NEWS_HTML, NITF_XML, RSS_XML, make_encrypted_pdf, make_pdf, make_zip

XXE = """<?xml version="1.0"?>
<!DOCTYPE nitf [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nitf><body><body.content><p>&xxe;</p></body.content></body></nitf>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss><channel><item><title>x</title><description>&lol9;</description></item></channel></rss>"""

XXE_FEED = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY ext SYSTEM "http://attacker.example/x">]>
<rss><channel><item><title>t</title><description>&ext;</description></item></channel></rss>"""

DEEP_HTML = "<html><body>" + "<div>" * 100_000 + "deep text" + "</div>" * 100_000 + "</body></html>"


def garbage(n: int = 4096, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))


def read_all(path: Path) -> list:
    return list(reader_for(path).read(path))


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# -- readers ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["x.xml", "x.nitf"])
def test_xxe_refused(tmp_path, name):
    with pytest.raises(ReaderError, match="external entity"):
        read_all(write(tmp_path, name, XXE))


@pytest.mark.parametrize("name,data", [("b.xml", BILLION_LAUGHS), ("b.rss", BILLION_LAUGHS), ("e.rss", XXE_FEED)])
def test_entity_tricks_refused_in_feeds(tmp_path, name, data):
    with pytest.raises(ReaderError, match="refused XML"):
        read_all(write(tmp_path, name, data))


def test_malformed_xml(tmp_path):
    with pytest.raises(ReaderError, match="not well-formed"):
        read_all(write(tmp_path, "broken.nitf", NITF_XML[: len(NITF_XML) // 2]))


def test_deeply_nested_xml_is_refused(tmp_path):
    deep = "<nitf><body><body.content>" + "<p>" * 100_000 + "x" + "</p>" * 100_000 + "</body.content></body></nitf>"
    with pytest.raises(ReaderError, match="nested"):
        read_all(write(tmp_path, "deep.nitf", deep))


def test_deeply_nested_html_is_refused_quickly(tmp_path):
    with pytest.raises(ReaderError, match="nested"):
        read_all(write(tmp_path, "deep.html", DEEP_HTML))


def test_moderately_nested_html_still_reads(tmp_path):
    html = "<html><body>" + "<div>" * 60 + f"<p>{EN_BODY}</p>" + "</div>" * 60 + "</body></html>"
    [article] = read_all(write(tmp_path, "ok.html", html))
    assert "12 million euros" in article.body


def test_truncated_pdf(tmp_path):
    data = make_pdf(["Harbour budget approved"])
    with pytest.raises(ReaderError, match="truncated"):
        read_all(write(tmp_path, "t.pdf", data[: len(data) // 2]))


def test_encrypted_pdf(tmp_path):
    with pytest.raises(ReaderError, match="encrypted"):
        read_all(write(tmp_path, "e.pdf", make_encrypted_pdf(["Secret budget figures"])))


def test_pdf_without_text_layer(tmp_path):
    with pytest.raises(ReaderError, match="no text layer"):
        read_all(write(tmp_path, "scan.pdf", make_pdf([])))


def test_damaged_docx(tmp_path):
    with pytest.raises(ReaderError, match="docx"):
        read_all(write(tmp_path, "d.docx", make_zip({"hello.txt": b"not a word document"})))


def test_binary_garbage_is_not_text():
    with pytest.raises(ReaderError, match="binary"):
        decode_bytes(garbage(), "g.txt")
    no_nul = bytes(b for b in garbage(8192, seed=2) if b)
    with pytest.raises(ReaderError, match="binary"):
        decode_bytes(no_nul, "g.txt")


def test_invalid_utf8_bytes_are_replaced_without_mojibake(tmp_path):
    good = ('{"id": "ok-1", "title": "Fine", "body": "%s"}\n' % FR_BODY).encode()
    bad = b'{"id": "bad", "title": "x", "body": "\xff\xfe\xfa broken"}\n'
    items = read_all(write(tmp_path, "mixed.jsonl", good + bad + good.replace(b"ok-1", b"ok-2")))
    articles = {a.id: a for a in items if isinstance(a, Article)}
    assert set(articles) == {"ok-1", "bad", "ok-2"}
    # The file stays UTF-8: good lines keep their accents, the damaged bytes become U+FFFD.
    assert "approuvé" in articles["ok-1"].body and "approuvé" in articles["ok-2"].body
    assert articles["bad"].body == "\ufffd\ufffd\ufffd broken"


def test_garbage_mail_and_mailbox(tmp_path):
    with pytest.raises(ReaderError, match="not an e-mail"):
        read_all(write(tmp_path, "x.eml", "just some words, no headers at all\n\nbody"))
    with pytest.raises(ReaderError, match="not an mbox"):
        read_all(write(tmp_path, "x.mbox", "Subject: hi\n\nbody"))


def test_zip_bomb_by_ratio(tmp_path):
    data = make_zip({"bomb.txt": b"\0" * 20_000_000, "ok.txt": EN_BODY.encode()})
    items = read_all(write(tmp_path, "bomb.zip", data))
    failures = [i for i in items if isinstance(i, ReadFailure)]
    assert [f.where for f in failures] == [f"{tmp_path / 'bomb.zip'}!bomb.txt"]
    assert "zip bomb" in failures[0].error
    assert [a.source_path for a in items if isinstance(a, Article)] == [f"{tmp_path / 'bomb.zip'}!ok.txt"]


def test_zip_bomb_by_total_size_and_member_count(tmp_path):
    path = write(tmp_path, "big.zip", make_zip({f"m{i}.txt": EN_BODY.encode() for i in range(20)}))
    with pytest.raises(ReaderError, match="unpack to"):
        list(ZipReader(max_total_bytes=1000).read(path))
    with pytest.raises(ReaderError, match="members"):
        list(ZipReader(max_members=5).read(path))


def test_zip_path_traversal_refused_and_nothing_written(tmp_path):
    inner = tmp_path / "in"
    inner.mkdir()
    buf_path = inner / "evil.zip"
    with zipfile.ZipFile(buf_path, "w") as zf:
        zf.writestr("../../escaped.txt", EN_BODY)
        zf.writestr("/abs/escaped2.txt", EN_BODY)
        zf.writestr("C:/windows/escaped3.txt", EN_BODY)
        zf.writestr("fine/ok.txt", FR_BODY)
    items = read_all(buf_path)
    failures = {f.where: f.error for f in items if isinstance(f, ReadFailure)}
    assert len(failures) == 3
    assert failures[f"{buf_path}!../../escaped.txt"].endswith("path traversal ('..')")
    assert "absolute" in failures[f"{buf_path}!/abs/escaped2.txt"]
    assert [a.source_path for a in items if isinstance(a, Article)] == [f"{buf_path}!fine/ok.txt"]
    assert not list(tmp_path.rglob("escaped*"))


def test_zip_nested_more_than_one_level(tmp_path):
    data = make_zip({"a.zip": make_zip({"b.zip": make_zip({"c.txt": EN_BODY.encode()})})})
    [failure] = read_all(write(tmp_path, "n.zip", data))
    assert isinstance(failure, ReadFailure) and "nested" in failure.error
    assert failure.where == f"{tmp_path / 'n.zip'}!a.zip!b.zip"


def test_wrong_extension_inside_zip(tmp_path):
    data = make_zip({"report.html": make_pdf(["Harbour"]), "ok.txt": EN_BODY.encode()})
    items = read_all(write(tmp_path, "w.zip", data))
    [failure] = [i for i in items if isinstance(i, ReadFailure)]
    assert failure.where.endswith("w.zip!report.html") and "PDF" in failure.error


# -- the pipeline: one failed entry per bad file, the batch goes on -------------------------------
def _assistant(tmp_path: Path, **env: str):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    return Assistant(load_settings(env=dict(env), data_dir=str(tmp_path / "data")))


BAD_FILES: dict[str, tuple[bytes | str, str]] = {
    # name: (content, words the reason must contain)
    "empty.html": (b"", "empty"),
    "garbage.txt": (garbage(), "binary"),
    "pdf-named.html": (make_pdf(["Harbour budget approved"]), "PDF"),
    "html-named.pdf": (NEWS_HTML, "not a PDF"),
    "truncated.pdf": (make_pdf(["Harbour budget approved"])[:250], "truncated"),
    "encrypted.pdf": (make_encrypted_pdf(["Secret"]), "encrypted"),
    "xxe.xml": (XXE, "external entity"),
    "laughs.xml": (BILLION_LAUGHS, "entity"),
    "deep.html": (DEEP_HTML, "nested"),
    "zip-named.txt": (make_zip({"a.txt": b"text"}), "ZIP"),
    "broken.zip": (b"PK\x03\x04" + b"\x00" * 40, "ZIP"),
    "photo.csv": (b"\x89PNG\r\n\x1a\n" + garbage(200), "PNG"),
    "notes.unknownext": ("some text", "unsupported"),
}


@pytest.mark.slow
def test_batch_with_every_bad_input_goes_on(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, (data, _) in BAD_FILES.items():
        write(folder, name, data)
    write(folder, "good.html", NEWS_HTML)
    write(folder, "good.rss", RSS_XML)
    paths = [folder / name for name in sorted(BAD_FILES)] + [folder / "good.html", folder / "good.rss", folder / "missing.txt"]
    a = _assistant(tmp_path)
    try:
        report = a.ingest(paths)
    finally:
        a.close()
    by_path: dict[str, list[str]] = {}
    for entry in report.failed:
        by_path.setdefault(entry["path"], []).append(entry["error"])
    for name, (_, words) in BAD_FILES.items():
        errors = by_path.get(str(folder / name))
        assert errors is not None and len(errors) == 1, (name, by_path)
        assert words.lower() in errors[0].lower(), (name, errors[0])
        assert "\n" not in errors[0] and str(folder) not in errors[0], errors[0]
    assert by_path[str(folder / "missing.txt")] == ["no such file or folder"]
    assert list(by_path[f"{folder / 'good.rss'}#item3"]) and len(by_path) == len(BAD_FILES) + 2
    assert report.ingested == 3  # the page and two feed items


@pytest.mark.slow
def test_over_size_file_and_prune(tmp_path):
    from assistant.store.interface import SearchFilter
    from ingest.pipeline import ingest

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    write(folder, "a.txt", EN_BODY)
    write(folder / "sub", "b.txt", FR_BODY)
    write(folder, "pack.zip", make_zip({"one.txt": EN_BODY.encode(), "two.txt": FR_BODY.encode()}))
    big = write(folder, "big.txt", EN_BODY * 40)  # ~9 kB, over a 0.005 MB limit
    a = _assistant(tmp_path, NEWSROOM_MAX_FILE_MB="0.005")
    try:
        report = ingest([folder], a.store, a.embedders, a.settings)
        assert [f["path"] for f in report.failed] == [str(big)]
        assert "over the 0.005 MB limit" in report.failed[0]["error"]
        assert report.ingested == 4 and report.pruned == 0

        def stored() -> set[str]:
            return {p["source_path"] for p in a.store.scroll(SearchFilter(), ["source_path"])}

        assert stored() == {str(folder / "a.txt"), str(folder / "sub" / "b.txt"), f"{folder / 'pack.zip'}!one.txt",
                            f"{folder / 'pack.zip'}!two.txt"}
        # Remove a file and an archive member; break another file (kept: unreadable is not deleted).
        (folder / "sub" / "b.txt").unlink()
        write(folder, "pack.zip", make_zip({"one.txt": EN_BODY.encode()}))
        write(folder, "a.txt", b"\x00\x01\x02 binary now" * 10)
        report = ingest([folder], a.store, a.embedders, a.settings, prune=True)
        assert report.pruned == 2
        assert stored() == {str(folder / "a.txt"), f"{folder / 'pack.zip'}!one.txt"}
        assert report.unchanged + report.updated == 1  # one.txt again (member time may differ)
        # Without prune nothing is deleted; pruning a folder that was not given deletes nothing outside it.
        other = tmp_path / "other"
        other.mkdir()
        write(other, "c.txt", ES_TEXT)
        report = ingest([other], a.store, a.embedders, a.settings, prune=True)
        assert report.pruned == 0 and str(folder / "a.txt") in stored()
    finally:
        a.close()


ES_TEXT = "El puerto recibirá doce millones de euros para su renovación, anunció el alcalde el martes."
