"""The embeddings backend for OpenAI-compatible servers (TEI, vLLM, Infinity), batched."""
from __future__ import annotations

from conftest import CORPORA, read_jsonl, write_jsonl
from llm_server import ScriptedLLM


def test_ingest_and_search_through_an_embeddings_server(assistant_factory, tmp_path):
    rows = read_jsonl(CORPORA / "xquad" / "corpus.en.jsonl", 70)
    corpus = write_jsonl(tmp_path / "c.jsonl", rows)
    with ScriptedLLM(lambda m: "") as server:
        a = assistant_factory(embedders="openai:test-embed", embed_base_url=server.base_url)
        report = a.ingest([corpus])
        assert report.ingested == 70 and not report.failed
        assert max(server.embedding_batches) <= 64 and len(server.embedding_batches) >= 3  # batched
        assert a.status()["embedders"] == ["openai_test-embed"]
        target = rows[40]
        hits = a.search(target["body"][:200], k=3)
        assert hits[0].article_id == target["id"]
