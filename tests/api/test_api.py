"""The HTTP API over the same service object: every endpoint, streaming, errors, the schema."""
from __future__ import annotations

import json

import pytest
from fastapi import Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from assistant.api.routes import create_api
from conftest import SAMPLES, SEED, read_jsonl, write_jsonl
from llm_server import ScriptedLLM

ENGLISH = ("xquad-00-00-en", "xquad-01-01-en", "xquad-12-00-en", "xquad-13-01-en", "xquad-14-02-en")


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    root = tmp_path_factory.mktemp("api")
    rows = [r for r in read_jsonl(SAMPLES / "articles.jsonl") if r["id"] in ENGLISH]
    a = Assistant(load_settings(env={}, data_dir=str(root / "data"), embedders="minilm", rate_per_minute=0))
    assert not a.ingest([write_jsonl(root / "en.jsonl", rows)]).failed
    yield TestClient(create_api(a))
    a.close()


def test_endpoints_mirror_the_cli(assistant_factory):
    a = assistant_factory()
    a.ingest([SEED])
    client = TestClient(create_api(a))
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.post("/api/search", json={"query": "Huawei Cloud", "k": 2, "lang": ["fr"]})
    assert r.status_code == 200 and 1 <= len(r.json()["results"]) <= 2
    r = client.post("/api/ask", json={"question": "Qui a signé l'accord au nom des deux parties ?"})
    body = r.json()
    assert r.status_code == 200 and "Liu Tao" in body["answer"] and body["citations"][0]["n"] == 1
    assert client.get("/api/stats").json()["articles"] == 1
    r = client.post("/api/search", json={"query": "x", "since": "yesterday-ish"})
    assert r.status_code == 400 and "since" in r.json()["error"]
    r = client.post("/api/ask", json={"question": "x" * 5000})
    assert r.status_code == 400 and "limit" in r.json()["error"]


def test_search_filters_and_modes(client):
    r = client.post("/api/search", json={"query": "who discovered oxygen", "k": 3})
    results = r.json()["results"]
    assert r.status_code == 200 and results[0]["article_id"] == "xquad-12-00-en"
    assert set(results[0]) == {"article_id", "chunk_id", "title", "source", "url", "published", "lang", "text",
                               "start", "end", "score", "duplicates"}  # the CLI's --json shape
    r = client.post("/api/search", json={"query": "Scheele Priestley", "mode": "sparse", "k": 1})
    assert r.json()["results"][0]["article_id"] == "xquad-12-00-en"
    assert client.post("/api/search", json={"query": "oxygen", "lang": ["zh"]}).json()["results"] == []
    assert client.post("/api/search", json={"query": "oxygen", "source": ["Nobody"]}).json()["results"] == []


def test_ask_json_and_server_sent_events(client):
    q = {"question": "Who coined the name oxygen?"}
    plain = client.post("/api/ask", json=q).json()
    assert "Lavoisier" in plain["answer"] and plain["citations"][0]["article_id"] == "xquad-12-00-en"
    for request in ({"json": {**q, "stream": True}}, {"json": q, "headers": {"Accept": "text/event-stream"}}):
        r = client.post("/api/ask", **request)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.text)
        assert [e for e, _ in events[:-1]] == ["token"] * (len(events) - 1) and events[-1][0] == "answer"
        assert "".join(d["text"] for _, d in events[:-1]) == events[-1][1]["answer"] == plain["answer"]
        assert events[-1][1]["citations"] == plain["citations"]
    # Bad input is a plain JSON error even when streaming was asked for.
    r = client.post("/api/ask", json={"question": "  ", "stream": True})
    assert r.status_code == 400 and r.json() == {"error": "the question is empty"}


def test_streamed_failure_ends_with_an_error_event(assistant_factory, tmp_path):
    class BrokenStream(ScriptedLLM):
        async def _chat(self, request: Request):

            def events():
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": "Lavoisier named "}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
                raise RuntimeError("the model server fell over")

            return StreamingResponse(events(), media_type="text/event-stream")

    rows = [r for r in read_jsonl(SAMPLES / "articles.jsonl") if r["id"] == "xquad-12-00-en"]
    with BrokenStream(lambda m: "") as server:
        a = assistant_factory(embedders="minilm", llm_base_url=server.base_url, llm_model="m", llm_timeout=5,
                              llm_max_retries=0)
        a.ingest([write_jsonl(tmp_path / "o.jsonl", rows)])
        r = TestClient(create_api(a)).post("/api/ask", json={"question": "Who coined the name oxygen?", "stream": True})
    # Nothing cited had arrived, so nothing was previewed and the stream had not begun: a plain JSON
    # error, as for an endpoint that is down (an abstention would wrongly say the archive does not answer).
    assert r.status_code == 503 and "stopped in the middle of the answer" in r.json()["error"]


def test_check_quote_coverage_stats(client):
    r = client.post("/api/check", json={"claim": "Oxygen was discovered by Carl Wilhelm Scheele in Uppsala."})
    body = r.json()
    assert r.status_code == 200 and body["claim"].startswith("Oxygen") and body["mode"] == "extractive"
    assert body["evidence"] and body["evidence"][0]["passage"]["article_id"] == "xquad-12-00-en"
    r = client.post("/api/quote", json={"words": "Grissom, White, and Chaffee"})
    hits = r.json()["hits"]
    assert r.json()["exact"] and [h["passage"]["article_id"] for h in hits] == ["xquad-14-02-en"]
    assert "Grissom, White, and Chaffee" in hits[0]["quote"]
    r = client.post("/api/coverage", json={"query": "oil embargo"})
    assert r.status_code == 200 and r.json()["articles"] >= 1
    stats = client.get("/api/stats").json()
    assert stats["articles"] == len(ENGLISH) and stats["languages"] == {"en": stats["chunks"]}


def test_export_markdown_and_csv(client):
    q = {"question": "Who coined the name oxygen?"}
    md = client.post("/api/export", json=q)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert 'filename="answer.md"' in md.headers["content-disposition"]
    assert md.text.startswith("## Who coined the name oxygen?") and "Lavoisier" in md.text and "### Sources" in md.text
    csv_r = client.post("/api/export", json={**q, "format": "csv"})
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_r.text)))
    assert csv_r.headers["content-type"].startswith("text/csv") and rows[0]["n"] == "1"
    assert list(rows[0]) == ["n", "title", "outlet", "date", "url", "quote", "passage"]
    assert rows[0]["title"] == "Oxygen" and rows[0]["quote"] in rows[0]["passage"]
    assert client.post("/api/export", json={**q, "format": "pdf"}).status_code == 400


def test_errors_are_json_lines_a_client_can_show(client):
    r = client.post("/api/search", json={"k": 2})
    assert r.status_code == 400 and r.json() == {"error": "field 'query': Field required"}
    r = client.post("/api/search", json={"query": "x", "k": 500})
    assert r.status_code == 400 and "field 'k'" in r.json()["error"] and "500" not in r.json()["error"]
    r = client.post("/api/search", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    r = client.post("/api/search", json={"query": "x", "article_id": ["xquad-12-00-en"]})
    assert r.status_code == 400 and r.json()["error"] == "field 'article_id': Extra inputs are not permitted"
    r = client.post("/api/quote", json={"words": "w" * 3000})
    assert r.status_code == 400 and "limit is 2000" in r.json()["error"]


def test_openapi_schema_lists_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/healthz", "/api/search", "/api/ask", "/api/check", "/api/quote", "/api/export", "/api/stats",
                  "/api/coverage", "/api/ingest"):
        assert route in paths, route
    served = {r.path for r in client.app.routes if getattr(r, "path", "").startswith("/api/")}
    assert served <= set(paths), served - set(paths)  # no API route left out of the schema
    assert "claim" in json.dumps(client.get("/openapi.json").json()["components"]["schemas"]["CheckBody"])
