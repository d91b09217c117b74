"""Desks that hold: each attack the red team made on a running app, reproduced as a client sends it.

A real server (``newsroom serve``, logins on): a reporter who sees only "public", an editor who sees
every desk, an admin; the web app's own upload and event routes driven over HTTP exactly as the
browser drives them (``/login``, ``/gradio_api/upload``, ``/gradio_api/queue/join``). The server
believes ``X-Forwarded-For`` from the loopback (a trusted proxy), so tests can speak from several
client addresses. Article identity per desk and lexical statistics have their own tests
(test_access.py).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from assistant.auth import hash_password
from conftest import SAMPLES, read_jsonl, start_app, write_jsonl

PASSWORD = "red team pw"
NOTE = {"id": "note-1", "title": "Tram note", "lang": "en",
        "body": "The tram depot in Harbourtown reopened on Friday after repairs to the overhead lines."}


def _users(path: Path) -> Path:
    pw = hash_password(PASSWORD)
    path.write_text(f'[users.reporter]\npassword = "{pw}"\ncollections = ["public"]\n\n'
                    f'[users.editor]\npassword = "{pw}"\ncollections = ["*"]\n\n'
                    f'[users.admin]\npassword = "{pw}"\ncollections = ["*"]\nadmin = true\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("redteam")
    data, uploads = root / "data", root / "uploads"
    # What a crash mid-upload leaves behind: start-up must clear it.
    (data / "uploads" / "dead-upload").mkdir(parents=True)
    (data / "uploads" / "dead-upload" / "0000-draft.jsonl").write_text("half a file")
    (uploads / "deadbeef").mkdir(parents=True)
    (uploads / "deadbeef" / "old.txt").write_text("left by a killed server")
    (data / "inside-data.txt").write_text("a file inside the data folder")
    (root / "other-desk-export.jsonl").write_text(json.dumps({**NOTE, "id": "exp-1", "title": "Other desk export"}))
    rows = [r for r in read_jsonl(SAMPLES / "articles.jsonl")][:3]
    rows.append({"id": "js-link", "title": "Scripted link", "lang": "en", "url": "javascript:alert(1)",
                 "body": "The harbour ferry timetable changes in spring, when the evening crossings return."})
    env = {**os.environ, "NEWSROOM_DATA_DIR": str(data), "NEWSROOM_EMBEDDERS": "minilm",
           "NEWSROOM_USERS_FILE": str(_users(root / "users.toml")), "NEWSROOM_UPLOAD_TEMP_DIR": str(uploads),
           "NEWSROOM_TRUSTED_PROXIES": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False"}
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(write_jsonl(root / "a.jsonl", rows))],
                   env=env, check=True, capture_output=True)
    proc, url = start_app(env)
    yield {"url": url, "root": root, "data": data, "uploads": uploads}
    proc.terminate()
    proc.wait(timeout=20)


_addresses = iter(range(1, 250))


def client(server, user: str | None = None, address: str | None = None) -> httpx.Client:
    """A client from its own address (X-Forwarded-For through the trusted loopback proxy)."""
    address = address or f"198.51.100.{next(_addresses)}"
    c = httpx.Client(base_url=server["url"], timeout=120, headers={"X-Forwarded-For": address})
    if user:
        assert c.post("/login", data={"username": user, "password": PASSWORD}).status_code == 200
    return c


def _ingest_event(c: httpx.Client) -> tuple[int, int]:
    """The Library's ingest handler, as the page's config names it: (fn_index, trigger id)."""
    config = c.get("/config").json()
    elem = {x["id"]: x.get("props", {}).get("elem_id") for x in config["components"]}
    for index, dep in enumerate(config["dependencies"]):
        if "nr-upload" in [elem.get(i) for i in dep["inputs"]]:
            return index, dep["targets"][0][0]
    raise AssertionError("no ingest handler in the app's config")


def _join(c: httpx.Client, path: str, session: str) -> httpx.Response:
    fn, trigger = _ingest_event(c)
    value = {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(path).name}
    return c.post("/gradio_api/queue/join", json={"data": [[value], "public", "en"], "fn_index": fn,
                                                  "trigger_id": trigger, "session_hash": session, "event_data": None})


def _completed(c: httpx.Client, session: str) -> dict:
    with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("msg") == "process_completed":
                    return event
    raise AssertionError("the event never completed")


def _files_under(folder: Path) -> list[str]:
    return [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]


def test_web_ingest_takes_only_files_the_user_uploaded_there(server):
    reporter, editor = client(server, "reporter"), client(server, "editor")
    users_file = server["root"] / "users.toml"
    targets = [str(users_file), str(server["data"] / "inside-data.txt"), str(server["root"] / "other-desk-export.jsonl"),
               "/etc/hostname", f"{server['uploads']}/../users.toml", "http://127.0.0.1:1/x"]
    for n, target in enumerate(targets):
        r = _join(reporter, target, f"attack-{n}")
        assert r.status_code == 403 and "only files you uploaded" in r.json()["error"], (target, r.text)
    # The same body without a content type, or calling itself text: refused at the door too (this FastAPI
    # answers those 422 itself, but the guard does not rely on how a later release reads them).
    fn, trigger = _ingest_event(reporter)
    body = json.dumps({"data": [[{"path": str(users_file), "meta": {"_type": "gradio.FileData"}}], "public", "en"],
                       "fn_index": fn, "trigger_id": trigger, "session_hash": "bare", "event_data": None})
    for content_type in (None, "text/plain"):
        request = reporter.build_request("POST", "/gradio_api/queue/join", content=body.encode())
        if content_type:
            request.headers["content-type"] = content_type
        else:
            request.headers.pop("content-type", None)
        r = reporter.send(request)
        assert r.status_code == 403, (content_type, r.status_code, r.text)
    copied = _files_under(server["uploads"])
    assert not any("scrypt$" in text or "Other desk export" in text or "inside the data folder" in text
                   for text in copied), "a refused file was copied into the upload folder"
    # Another user's upload is theirs alone.
    up = editor.post("/gradio_api/upload", files={"files": ("desk.jsonl", json.dumps({**NOTE, "id": "ed-1"}).encode())})
    assert up.status_code == 200
    assert _join(reporter, up.json()[0], "foreign").status_code == 403
    # The reporter's own upload goes through, once.
    up = reporter.post("/gradio_api/upload", files={"files": ("note.jsonl", json.dumps(NOTE).encode())})
    own = up.json()[0]
    assert _join(reporter, own, "own").status_code == 200
    assert "1 new" in _completed(reporter, "own")["output"]["data"][0]
    hits = reporter.post("/api/search", json={"query": "tram depot Harbourtown"}, auth=("reporter", PASSWORD))
    assert hits.json()["results"][0]["title"] == "Tram note"
    assert _join(reporter, own, "again").status_code == 403  # claimed and removed: not a second time


def test_failed_logins_back_off_per_claimed_user_and_address_whatever_the_headers(server):
    attacker = client(server)
    codes = []
    for n in range(12):
        headers = {"Authorization": f"Basic {json.dumps(n)}", "Cookie": f"access-token-decoy{n}=x{n}"}
        codes.append(attacker.post("/login", data={"username": "reporter", "password": "wrong"}, headers=headers)
                     .status_code)
    assert codes[:5] == [400] * 5 and 429 in codes, codes  # invented headers and cookies change nothing
    r = attacker.post("/login", data={"username": "reporter", "password": "wrong"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "failed logins" in r.json()["error"]
    # The real reporter, from elsewhere, is not slowed down; the same holds for the API's Basic logins.
    assert client(server).post("/login", data={"username": "reporter", "password": PASSWORD}).status_code == 200
    api_attacker = client(server)
    api_codes = [api_attacker.get("/api/stats", auth=("reporter", "wrong")).status_code for _ in range(12)]
    assert api_codes[:5] == [401] * 5 and 429 in api_codes, api_codes
    assert client(server).get("/api/stats", auth=("reporter", PASSWORD)).status_code == 200


def test_rates_are_kept_per_verified_user_not_per_claimed_name(server):
    # 65 requests with a wrong password claiming to be the reporter lock nobody else out.
    noisy = client(server)
    for _ in range(65):
        noisy.get("/api/stats", headers={"Authorization": "Basic cmVwb3J0ZXI6d3Jvbmc="})  # reporter:wrong
    assert client(server).get("/api/stats", auth=("reporter", PASSWORD)).status_code == 200
    # Anonymous requests from one address use up that address, not everyone's.
    anonymous = client(server)
    statuses = [anonymous.get("/api/stats").status_code for _ in range(62)]
    assert statuses.count(401) >= 59 and statuses[-1] == 429
    assert client(server).get("/api/stats").status_code == 401


def test_one_bound_on_history_and_everything_else_a_request_carries(server):
    editor = client(server)
    auth = ("editor", PASSWORD)
    r = editor.post("/api/ask", json={"question": "Where was it signed?", "history": [["Who signed?", "x" * 250_000]]},
                    auth=auth)
    assert r.status_code == 400 and "history holds" in r.json()["error"]
    many = [["q", "a"]] * 21
    r = editor.post("/api/ask", json={"question": "And then?", "history": many}, auth=auth)
    assert r.status_code == 400 and "history has 21 turns; the limit is 20" in r.json()["error"]
    r = editor.post("/api/search", json={"query": "tram", "source": ["x" * 300]}, auth=auth)
    assert r.status_code == 400 and "source" in r.json()["error"]
    # OpenAI-style messages are a history too.
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Who discovered oxygen?"},
                {"role": "assistant", "content": [{"type": "text", "text": "Scheele and Priestley."}]}]
    r = editor.post("/api/ask", json={"question": "When?", "history": messages}, auth=auth)
    assert r.status_code == 200 and "answer" in r.json()
    r = editor.post("/api/ask", json={"question": "When?", "history": [{"role": "wizard", "content": "x"}]}, auth=auth)
    assert r.status_code == 400 and "history" in r.json()["error"]


def test_invalid_code_points_are_a_400_naming_the_field(server):
    editor = client(server)
    auth = ("editor", PASSWORD)
    for path, body, field in (("/api/search", '{"query": "\\ud800 tram"}', "query"),
                              ("/api/ask", '{"question": "tram \\udfff"}', "question"),
                              ("/api/ask", '{"question": "tram", "history": [["\\ud800", "a"]]}', "history"),
                              ("/api/quote", '{"words": "tram\\u0000depot"}', "words"),
                              ("/api/search", '{"query": "tram", "lang": ["\\ud83d"]}', "lang")):
        r = editor.post(path, content=body, headers={"content-type": "application/json"}, auth=auth)
        assert r.status_code == 400 and f"field '{field}" in r.json()["error"], (body, r.status_code, r.text)
    assert editor.get("/healthz").status_code == 200  # the server is still up


def test_the_service_refuses_invalid_text_from_any_face(tmp_path):
    from assistant.errors import InputError
    from assistant.service import Assistant
    from assistant.settings import load_settings

    a = Assistant(load_settings(env={}, data_dir=str(tmp_path / "data"), embedders="minilm"))
    try:
        for call in (lambda: a.search("\ud800 tram"), lambda: a.ask("tram", history=[("\udc00", "")]),
                     lambda: a.quote("tram\ufffe"), lambda: a.search("tram", filters=_filters(lang=["\ud800"]))):
            with pytest.raises(InputError, match="no text may carry"):
                call()
    finally:
        a.close()


def _filters(**kw):
    from assistant.service import Filters

    return Filters(**kw)


def test_no_server_paths_to_non_admins(server):
    reporter, admin = client(server), client(server)
    stats = reporter.get("/api/stats", auth=("reporter", PASSWORD)).json()
    assert stats["store"] == "embedded" and str(server["data"]) not in json.dumps(stats)
    assert admin.get("/api/stats", auth=("admin", PASSWORD)).json()["store"] == str(server["data"] / "qdrant")
    broken = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
    r = reporter.post("/api/ingest", files={"files": ("broken.pdf", broken)}, auth=("reporter", PASSWORD))
    assert r.status_code == 200 and r.json()["failed"], r.text
    text = json.dumps(r.json())
    assert "uploads" not in text and str(server["data"]) not in text and "broken.pdf" in text


def test_schema_behind_login_framing_refused_root_url_from_configuration(server):
    anonymous = client(server)
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert anonymous.get(path).status_code == 401
        assert anonymous.get(path, auth=("reporter", PASSWORD)).status_code == 200
    reporter = client(server, "reporter")
    page = reporter.get("/", headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    config = reporter.get("/config", headers={"X-Forwarded-Host": "evil.example"}).json()
    assert config["root"] == server["url"] and "evil.example" not in page.text
    api = reporter.get("/api/stats", auth=("reporter", PASSWORD))
    assert api.headers["x-frame-options"] == "DENY"


def test_start_up_clears_upload_leftovers(server):
    assert not (server["data"] / "uploads" / "dead-upload").exists()
    assert not (server["uploads"] / "deadbeef").exists()


def test_unsafe_links_never_reach_api_citations(server):
    editor = client(server)
    auth = ("editor", PASSWORD)
    results = editor.post("/api/search", json={"query": "harbour ferry timetable", "k": 20}, auth=auth).json()["results"]
    scripted = [r for r in results if r["article_id"] == "js-link"]
    assert scripted and all(r["url"] == "" for r in scripted)
    body = editor.post("/api/ask", json={"question": scripted[0]["text"][:200]}, auth=auth).text
    assert "javascript:" not in body


def test_the_upload_ledger_claims_each_file_once_and_only_inside_its_folder(tmp_path):
    from assistant.errors import InputError
    from assistant.web.files import UploadLedger

    folder = tmp_path / "uploads"
    (folder / "abc").mkdir(parents=True)
    own = folder / "abc" / "note.txt"
    own.write_text("x")
    (tmp_path / "users.toml").write_text("secret")
    (folder / "abc" / "link.txt").symlink_to(tmp_path / "users.toml")  # inside by name, outside in fact
    ledger = UploadLedger(folder)
    ledger.record("alice", [str(own), "/etc/hostname", str(folder / ".." / "users.toml"), str(folder / "abc" / "link.txt")])
    assert not ledger.owns("bob", str(own)) and not ledger.owns("alice", "/etc/hostname")
    assert not ledger.owns("alice", str(folder / "abc" / "link.txt"))
    assert not ledger.owns("alice", str(folder / ".." / "users.toml"))
    assert ledger.claim("alice", str(own)) == own.resolve()
    with pytest.raises(InputError):
        ledger.claim("alice", str(own))


def test_failed_login_back_off_doubles_to_a_cap_and_never_locks():
    from assistant.api.limits import ADDRESS_FREE, BACKOFF_CAP_S, PAIR_FREE, Backoff

    now = [0.0]
    backoff = Backoff(clock=lambda: now[0])
    for _ in range(PAIR_FREE):
        assert backoff.wait("reporter", "203.0.113.9") == 0
        backoff.failed("reporter", "203.0.113.9")
    waits = []
    for _ in range(30):  # an attacker who waits out every delay and fails again
        now[0] += backoff.wait("reporter", "203.0.113.9")
        backoff.failed("reporter", "203.0.113.9")
        waits.append(backoff.wait("reporter", "203.0.113.9"))
    assert waits[:3] == [1.0, 2.0, 4.0] and max(waits) == BACKOFF_CAP_S  # doubling, then capped: never a lock
    assert backoff.wait("reporter", "198.51.100.7") == 0  # the reporter elsewhere is untouched
    assert backoff.wait("editor", "203.0.113.9") > 0  # one address trying many names backs off too
    assert ADDRESS_FREE > PAIR_FREE
    backoff.succeeded("reporter", "203.0.113.9")
    assert backoff.wait("reporter", "198.51.100.7") == 0
