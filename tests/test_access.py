"""Logins, collections, embargo and limits: a user without access never learns a restricted or
embargoed article exists, through any route, filter, id or error message."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api.routes import create_api
from assistant.auth import Users, check_password, hash_password, load_users
from assistant.errors import ConfigError
from assistant.settings import load_settings
from conftest import write_jsonl
from edge_world import DESK as DESK_IDS
from edge_world import EMBARGOED_ID, RESTRICTED_ID, desk_rows

# Real articles; one restricted to a desk, one under embargo until 2099, one whose embargo ended in 2020.
DESK = set(DESK_IDS)
RESTRICTED = ("Grissom", "Chaffee", "plugs-out", RESTRICTED_ID, "Secret Desk Wire")
EMBARGOED = ("Scheele", "Priestley", "Lavoisier", "phlogiston", EMBARGOED_ID, "Embargo Wire")
PASSWORDS = {"alice": "alice-pw", "editor": "editor-pw"}


def basic(name: str, password: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password or PASSWORDS[name]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def write_users(path: Path, grants: dict[str, list[str]]) -> Path:
    lines = []
    for name, collections in grants.items():
        lines += [f"[users.{name}]", f'password = "{hash_password(PASSWORDS.get(name, "pw"))}"',
                  f"collections = {json.dumps(collections)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from assistant.service import Assistant

    root = tmp_path_factory.mktemp("access")
    rows = [{**r, "embargo_until": "2020-01-01"} if r["id"] == "xquad-13-01-en" else r for r in desk_rows()]
    users_file = write_users(root / "users.toml", {"alice": ["desk-a"], "editor": ["*"]})
    settings = load_settings(env={}, data_dir=str(root / "data"), embedders="minilm", users_file=str(users_file),
                             rate_per_minute=0)
    a = Assistant(settings)
    report = a.ingest([write_jsonl(root / "articles.jsonl", rows)])
    assert not report.failed and report.ingested == 6
    yield a, TestClient(create_api(a)), users_file
    a.close()


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _leaks(text: str, body: dict, markers: tuple[str, ...]) -> list[str]:
    """Markers in a response, not counting the words the caller sent themselves."""
    for s in sorted(_strings(body), key=len, reverse=True):
        text = text.replace(json.dumps(s, ensure_ascii=False)[1:-1], "").replace(s, "")
    return [m for m in markers if m.lower() in text.lower()]


PROBES = [
    ("/api/search", {"query": "Grissom White Chaffee named their flight Apollo 1"}),
    ("/api/search", {"query": "Apollo 1 spacecraft test", "mode": "dense"}),
    ("/api/search", {"query": "Grissom Chaffee", "mode": "sparse"}),
    ("/api/search", {"query": "who discovered oxygen first"}),
    ("/api/search", {"query": "flight", "collection": ["investigations"]}),
    ("/api/search", {"query": "flight", "collection": ["desk-a", "investigations"]}),
    ("/api/search", {"query": "flight", "source": ["Secret Desk Wire", "Embargo Wire"]}),
    ("/api/search", {"query": RESTRICTED_ID}),
    ("/api/search", {"query": "flight", "since": "1960-01-01", "until": "2100-01-01"}),
    ("/api/ask", {"question": "Which astronauts named their flight Apollo 1?"}),
    ("/api/ask", {"question": "Who discovered oxygen?", "stream": True}),
    ("/api/ask", {"question": "Which astronauts named their flight Apollo 1?", "collection": ["investigations"]}),
    ("/api/check", {"claim": "The astronauts named their flight Apollo 1 as a motivational focus."}),
    ("/api/check", {"claim": "Oxygen was discovered in Uppsala in 1773."}),
    ("/api/quote", {"words": "Grissom, White, and Chaffee"}),
    ("/api/quote", {"words": "decided to name their flight Apollo 1"}),
    ("/api/quote", {"words": "Oxygen was discovered independently"}),
    ("/api/coverage", {"query": "Apollo 1 launch countdown"}),
    ("/api/coverage", {"query": "oxygen discovery"}),
    ("/api/export", {"question": "Which astronauts named their flight Apollo 1?"}),
    ("/api/export", {"question": "Who coined the name oxygen?", "format": "csv"}),
    ("/api/search", {"query": "flight", "article_id": [RESTRICTED_ID]}),
    ("/api/search", {"query": "flight", "chunk_id": ["x"], "collections": ["*"]}),
    ("/api/search", {"query": "flight", "since": "Grissom Chaffee"}),
    ("/api/quote", {"words": "Grissom " * 400}),
]


def test_logins_are_required_and_checked(world):
    _, client, _ = world
    assert client.get("/healthz").status_code == 200  # the container health check needs no login
    for headers in ({}, basic("alice", "wrong"), basic("mallory", "alice-pw"), {"Authorization": "Basic !!"},
                    {"Authorization": "Bearer alice-pw"}):
        r = client.get("/api/stats", headers=headers)
        assert r.status_code == 401 and "log in" in r.json()["error"]
        assert r.headers["www-authenticate"].startswith("Basic")
    assert client.get("/api/stats", headers=basic("alice")).status_code == 200


def test_a_user_without_access_never_sees_restricted_or_embargoed_articles(world):
    _, client, _ = world
    for path, body in PROBES:
        r = client.post(path, json=body, headers=basic("alice"))
        assert r.status_code in (200, 400), (path, body, r.status_code)
        assert not _leaks(r.text, body, RESTRICTED + EMBARGOED), (path, body, r.text[:300])
    stats = client.get("/api/stats", headers=basic("alice")).json()
    assert stats["articles"] == len(DESK) and set(stats["sources"]) == {"Wikipedia (XQuAD)"}
    assert not _leaks(json.dumps(stats), {}, RESTRICTED + EMBARGOED)


def test_the_editor_sees_the_desk_but_nobody_sees_the_embargo(world):
    """The control: the same probes reach the restricted article for someone granted it."""
    _, client, _ = world
    seen = set()
    for path, body in [PROBES[i] for i in (0, 1, 2, 3, 9, 10, 12, 14, 17, 19, 20)]:
        r = client.post(path, json=body, headers=basic("editor"))
        assert not _leaks(r.text, body, EMBARGOED), (path, body, r.text[:300])
        seen.update(m for m in RESTRICTED if m in r.text)
    assert {"Grissom", "Chaffee", RESTRICTED_ID, "Secret Desk Wire"} <= seen
    r = client.post("/api/quote", json={"words": "Grissom, White, and Chaffee"}, headers=basic("editor"))
    assert [h["passage"]["article_id"] for h in r.json()["hits"]] == [RESTRICTED_ID]
    assert client.get("/api/stats", headers=basic("editor")).json()["articles"] == len(DESK) + 1
    # An embargo that has ended is no embargo.
    r = client.post("/api/quote", json={"words": "The embargo had a negative influence"}, headers=basic("alice"))
    assert [h["passage"]["article_id"] for h in r.json()["hits"]] == ["xquad-13-01-en"]


def test_users_file_and_password_hashes(tmp_path):
    h = hash_password("correct horse")
    assert h.startswith("scrypt$16384$8$1$") and h != hash_password("correct horse")  # salted
    assert check_password("correct horse", h) and not check_password("correct hors", h)
    assert not check_password("x", "scrypt$1$1$1$bad$bad") and not check_password("x", "md5$abc")
    users = load_users(load_settings(env={}, users_file=str(write_users(tmp_path / "u.toml", {"alice": ["desk-a"]}))))
    assert users.enabled and users.verify("alice", "alice-pw") and not users.verify("alice", "nope")
    assert users.collections_for("alice") == ("desk-a",) and users.collections_for("ghost") == ()
    assert users.collections_for(None) == () and Users(enabled=False).collections_for("anyone") is None
    bad = tmp_path / "bad.toml"
    bad.write_text('[users.bob]\npassword = "hunter2"\ncollections = ["a"]\n')
    with pytest.raises(ConfigError, match=r"bad.toml: \[users.bob\] password must be a hash"):
        load_users(load_settings(env={}, users_file=str(bad)))
    bad.write_text(f'[users.bob]\npassword = "{h}"\ncollections = "desk-a"\n')
    with pytest.raises(ConfigError, match=r"\[users.bob\] collections must be a list"):
        load_users(load_settings(env={}, users_file=str(bad)))
    # The CLI verb prints a hash that verifies.
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "hash-password"], input="s3cret pw\n",
                         capture_output=True, text=True, check=True).stdout.strip()
    assert check_password("s3cret pw", out) and not check_password("s3cret", out)


def test_serving_off_the_loopback_needs_logins_or_an_explicit_off(tmp_path):
    from assistant.api.server import check_serving

    local = load_settings(env={}, data_dir=str(tmp_path))
    assert not load_users(local).enabled
    check_serving(local, load_users(local))
    wide = local.with_overrides(host="0.0.0.0")
    assert load_users(wide).enabled
    with pytest.raises(ConfigError, match="no users: set NEWSROOM_USERS_FILE"):
        check_serving(wide, load_users(wide))
    off = wide.with_overrides(auth="off")
    with pytest.raises(ConfigError, match="set NEWSROOM_PUBLIC_URL"):  # the page's root URL never comes from headers
        check_serving(off, load_users(off))
    off = off.with_overrides(public_url="https://newsroom.example")
    check_serving(off, load_users(off))
    r = subprocess.run([sys.executable, "-m", "assistant.cli", "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin", "HOME": str(tmp_path)})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "NEWSROOM_USERS_FILE" in r.stderr


def test_limits_return_clear_errors(world):
    from assistant.service import Assistant

    a, _, users_file = world
    tight = Assistant(a.settings.with_overrides(max_body_kb=1, max_question_chars=50, rate_per_minute=3,
                                                cors_origins="https://desk.example"))
    client = TestClient(create_api(tight))
    codes = [client.post("/api/ask", json={"question": "q" * 60}, headers=basic("alice")) for _ in range(3)]
    assert [c.status_code for c in codes] == [400, 400, 400] and "limit is 50" in codes[0].json()["error"]
    r = client.post("/api/ask", json={"question": "q" * 60}, headers=basic("alice"))
    assert r.status_code == 429 and r.json()["error"].startswith("too many requests: the limit is 3 a minute")
    assert int(r.headers["retry-after"]) >= 1
    r = client.post("/api/search", json={"query": "x" * 2000}, headers=basic("editor"))  # editor: own bucket
    assert r.status_code == 413 and r.json() == {"error": "the request body is over the limit of 1 KB"}
    r = client.post("/api/search", content=(b"x" * 512 for _ in range(4)), headers={**basic("editor"),
                    "content-type": "application/json"})
    assert r.status_code == 413
    # Cross-site writes are refused; this server's own origin and configured ones are fine.
    fresh = TestClient(create_api(tight))
    for origin in ("null", "http://evil.example", "https://testserver.evil.example"):
        r = fresh.post("/api/search", json={}, headers={**basic("editor"), "Origin": origin})
        assert r.status_code == 403 and "cross-site" in r.json()["error"]
    for origin in ("http://testserver", "https://desk.example"):
        assert fresh.post("/api/search", json={}, headers={**basic("editor"), "Origin": origin}).status_code == 400
    preflight = {"Access-Control-Request-Method": "POST"}
    r = fresh.options("/api/search", headers={**preflight, "Origin": "http://evil.example"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = fresh.options("/api/search", headers={**preflight, "Origin": "https://desk.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://desk.example"


def test_gradio_serves_no_file_outside_its_uploads(tmp_path):
    """GET /gradio_api/file=<path> for the data folder, the users file, traversal and URLs: all refused."""
    from assistant.api.server import create_server

    data = tmp_path / "data"
    (data / "qdrant").mkdir(parents=True)
    secret = data / "qdrant" / "secret.txt"
    secret.write_text("embargoed draft")
    (tmp_path / "outside.txt").write_text("not served")
    settings = load_settings(env={}, data_dir=str(data), embedders="minilm", upload_temp_dir=str(tmp_path / "uploads"),
                             max_upload_mb=0.01)
    app, assistant = create_server(settings)
    try:
        with TestClient(app) as client:
            up = client.post("/gradio_api/upload", files={"files": ("note.txt", b"hello upload")})
            assert up.status_code == 200, up.text
            uploaded = up.json()[0]
            assert client.get(f"/gradio_api/file={uploaded}").text == "hello upload"  # the route works
            big = client.post("/gradio_api/upload", files={"files": ("big.txt", b"x" * 200_000)})
            assert big.status_code == 413 and "0.01 MB" in big.json()["error"]
            for target in (str(secret), str(secret).upper(), f"{data}/../data/qdrant/secret.txt",
                           str(secret).replace("/", "%2F"), f"{uploaded}/../../data/qdrant/secret.txt",
                           str(tmp_path / "outside.txt"), "/etc/passwd", "../../../../etc/passwd",
                           "%2e%2e/%2e%2e/etc/passwd", "http://127.0.0.1:1/x", "file:///etc/passwd"):
                r = client.get(f"/gradio_api/file={target}")
                assert r.status_code in (403, 404), (target, r.status_code)
                assert "embargoed draft" not in r.text and "root:" not in r.text
            # Strict CORS on Gradio's routes too (it defers to the parent app's CORS policy).
            r = client.options("/gradio_api/info", headers={"Origin": "http://evil.example",
                                                            "Access-Control-Request-Method": "GET"})
            assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
            r = client.post("/gradio_api/upload", files={"files": ("n.txt", b"x")}, headers={"Origin": "null"})
            assert r.status_code == 403
    finally:
        assistant.close()


def test_gradio_app_needs_a_login_when_logins_are_on(world, tmp_path):
    from assistant.api.server import create_server

    _, _, users_file = world
    settings = load_settings(env={}, data_dir=str(tmp_path / "data"), embedders="minilm", users_file=str(users_file),
                             upload_temp_dir=str(tmp_path / "uploads"))
    app, assistant = create_server(settings)
    try:
        with TestClient(app) as client:
            assert client.post("/gradio_api/upload", files={"files": ("n.txt", b"x")}).status_code in (401, 403)
            assert client.get("/gradio_api/info").status_code in (401, 403)
            assert client.post("/login", data={"username": "alice", "password": "nope"}).status_code >= 400
            assert client.post("/login", data={"username": "alice", "password": "alice-pw"}).status_code == 200
            up = client.post("/gradio_api/upload", files={"files": ("n.txt", b"logged in")})
            assert up.status_code == 200 and client.get(f"/gradio_api/file={up.json()[0]}").text == "logged in"
            assert client.get("/api/stats").status_code == 401  # the API wants its own credentials
            assert client.get("/api/stats", headers=basic("alice")).json()["articles"] == 0
    finally:
        assistant.close()


def test_uploads_go_only_into_granted_collections(world):
    _, client, _ = world

    def upload(user: str | None, text: str, collection: str | None = None):
        row = json.dumps({"id": f"up-{text.split()[1]}", "title": "Harbour note", "body": text, "lang": "en"})
        data = {"collection": collection} if collection else {}
        return client.post("/api/ingest", files={"files": ("note.jsonl", row.encode())}, data=data,
                           headers=basic(user) if user else {})

    assert upload(None, "The harbour crane was repaired on Monday.").status_code == 401
    r = upload("alice", "The harbour crane was repaired on Monday.", "investigations")
    assert r.status_code == 403 and r.json() == {"error": "you may not upload into that collection"}
    assert upload("alice", "The harbour crane was repaired on Monday.").json()["ingested"] == 1  # her one desk
    assert upload("editor", "The lighthouse keeper filed a complaint.", "investigations").json()["ingested"] == 1
    for user, words, expected in (("alice", "harbour crane was repaired", 1), ("alice", "lighthouse keeper filed", 0),
                                  ("editor", "lighthouse keeper filed", 1)):
        hits = client.post("/api/quote", json={"words": words}, headers=basic(user)).json()["hits"]
        assert len(hits) == expected and all(h["passage"]["collection"] in ("desk-a", "investigations") for h in hits)
    r = client.post("/api/quote", json={"words": "harbour crane was repaired"}, headers=basic("alice"))
    assert r.json()["hits"][0]["passage"]["collection"] == "desk-a"
