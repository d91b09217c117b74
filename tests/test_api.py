"""The HTTP API over the same service object."""
from __future__ import annotations

from fastapi.testclient import TestClient

from assistant.api import create_api
from conftest import SEED


def test_endpoints(assistant_factory):
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
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]
