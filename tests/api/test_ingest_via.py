"""Ingest through the running app: POST /api/ingest and `newsroom ingest --via URL`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from fastapi.testclient import TestClient

from assistant.api.routes import create_api
from assistant.store.interface import SearchFilter
from conftest import CORPORA, read_jsonl, start_app, write_jsonl
from readers_helpers import FR_BODY, NEWS_HTML


def _post(client, files, **data):
    # As `newsroom ingest --via` sends them: with the file's time (text files take their date from it).
    stamp = {"Last-Modified": "Tue, 05 Mar 2024 09:30:00 GMT"}
    return client.post("/api/ingest", files=[("files", (*f, stamp)) for f in files], data=data)


def test_upload_route_saves_ingests_and_removes_the_files(assistant_factory, tmp_path):
    a = assistant_factory(max_file_mb=0.05)
    client = TestClient(create_api(a))
    rows = read_jsonl(CORPORA / "xquad" / "corpus.zh.jsonl", limit=3)
    export = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    files = [
        ("desk/page.html", NEWS_HTML.encode(), "text/html"),
        ("../../etc/cron.d/export.jsonl", export, "application/octet-stream"),
        ("Bilan été.md", ("# Note\n\n" + FR_BODY).encode(), "text/markdown"),
        ("empty.txt", b"", "text/plain"),
        ("huge.txt", b"word " * 20000, "text/plain"),
    ]
    r = _post(client, files, collection="desk-a")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ingested"] == 5 and report["chunks"] >= 5
    assert {f["path"]: f["error"] for f in report["failed"]} == {
        "empty.txt": "empty file (0 bytes)", "huge.txt": "file is over the 0.05 MB upload limit"}
    # Stored under the names they were sent with, never the temporary copies, in the given collection.
    sources = {p["source_path"] for p in a.store.scroll(SearchFilter(), ["source_path"])}
    assert sources == {"desk/page.html", "../../etc/cron.d/export.jsonl", "Bilan été.md"}
    assert a.status()["articles"] == 5 and set(a.store.facet("collection", SearchFilter())) == {"desk-a"}
    note = [p for p in a.store.scroll(SearchFilter(), ["source_path", "published"]) if p["source_path"] == "Bilan été.md"]
    assert note[0]["published"].startswith("2024-03-05T09:30:00")
    uploads = a.settings.data_dir / "uploads"
    assert uploads.is_dir() and not any(uploads.iterdir())
    assert not (tmp_path.parent / "etc").exists()
    # Sending the same files again changes nothing: ids do not depend on the temporary folder.
    again = _post(client, files[:3], collection="desk-a").json()
    assert (again["ingested"], again["unchanged"]) == (0, 5)
    r = client.post("/api/ingest", data={"collection": "x"})
    assert r.status_code == 400 and "files" in r.json()["error"]


def test_upload_names_are_made_safe():
    from assistant.uploads import disk_name, display_name

    assert display_name("a\x00b\n.md", 0) == "ab.md" and display_name(None, 2) == "upload-3"
    assert disk_name("../../etc/x y.JSONL", 3) == "0003-x_y.jsonl"
    assert disk_name("..\\..\\boot.ini", 0) == "0000-boot.ini" and disk_name("...", 1) == "0001-file"


def test_cli_sends_files_to_the_running_app_with_a_login(tmp_path):
    from assistant.auth import hash_password

    users = tmp_path / "users.toml"
    users.write_text(f'[users.ingester]\npassword = "{hash_password("s3cret-pass")}"\ncollections = ["*"]\n')
    data = tmp_path / "data"
    env = {**os.environ, "NEWSROOM_DATA_DIR": str(data), "NEWSROOM_USERS_FILE": str(users),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    archive = tmp_path / "archive"
    (archive / "sub").mkdir(parents=True)
    write_jsonl(archive / "a.jsonl", read_jsonl(CORPORA / "xquad" / "corpus.es.jsonl", limit=4))
    (archive / "sub" / "page.html").write_text(NEWS_HTML, encoding="utf-8")
    (archive / "sub" / "bad.pdf").write_text("not a pdf", encoding="utf-8")
    server, url = start_app(env)
    try:
        def newsroom(*args, **extra_env):
            return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                                  env={**env, **extra_env}, timeout=240)

        held = newsroom("ingest", str(archive))
        assert held.returncode == 3 and "--via" in held.stderr  # the app holds the store
        refused = newsroom("ingest", "--via", url, str(archive))
        assert refused.returncode != 0 and "NEWSROOM_API_USER" in refused.stderr
        login = {"NEWSROOM_API_USER": "ingester", "NEWSROOM_API_PASSWORD": "s3cret-pass"}
        sent = newsroom("ingest", "--via", url, str(archive), "--json", **login)
        assert sent.returncode == 0, sent.stderr
        report = json.loads(sent.stdout)
        assert report["ingested"] == 5 and report["unchanged"] == 0
        assert [f["path"] for f in report["failed"]] == [str((archive / "sub" / "bad.pdf").resolve())]
        text = newsroom("ingest", "--via", url, str(archive), "--strict", **login)
        assert text.returncode == 1 and text.stdout.startswith("ingested 0, updated 0, unchanged 5")
        assert "bad.pdf" in text.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The same files ingested locally are the same articles (ids from the files' own paths).
    local = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(archive / "sub"), "--json"],
                           capture_output=True, text=True, env=env, timeout=240)
    assert json.loads(local.stdout)["unchanged"] == 1
