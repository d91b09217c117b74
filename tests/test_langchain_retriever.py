"""The LangChain retriever, embedded and against a running app, and a chain built with it (no network)."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel

from assistant.errors import BackendError, ConfigError
from assistant.langchain_retriever import NewsroomRetriever, format_documents
from conftest import start_app
from edge_world import APOLLO, EMBARGOED, EMBEDDERS, PASSWORDS, RESTRICTED, RESTRICTED_ID, build_world, leaks

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("lc"))


@pytest.fixture(scope="module")
def embedded(world):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    a = Assistant(load_settings(env={}, data_dir=str(world.data), embedders=EMBEDDERS, ingest_workers=0))
    yield a
    a.close()


def test_embedded_documents_carry_what_a_citation_needs(embedded):
    docs = NewsroomRetriever(assistant=embedded, k=3).invoke(APOLLO)
    assert 1 <= len(docs) <= 3 and docs[0].metadata["article_id"] == RESTRICTED_ID
    top = docs[0]
    result = embedded.search(APOLLO, k=3)[0]
    assert top.page_content == result.text and top.id == result.chunk_id
    assert set(top.metadata) == {"article_id", "chunk_id", "title", "source", "url", "published", "lang", "start",
                                 "end", "score", "duplicates"}
    assert top.metadata["end"] - top.metadata["start"] == len(top.page_content)
    # Filters are fields; the embargo holds even in-process.
    assert NewsroomRetriever(assistant=embedded, lang=["zh"]).invoke(APOLLO) == []
    assert NewsroomRetriever(assistant=embedded, source=["Nobody"]).invoke(APOLLO) == []
    assert NewsroomRetriever(assistant=embedded, until="1900-01-01").invoke(APOLLO) == []
    desk = NewsroomRetriever(assistant=embedded, collection=["desk-a"], k=10).invoke(APOLLO)
    assert desk and not leaks(str(desk), RESTRICTED + EMBARGOED)
    assert not leaks(str(NewsroomRetriever(assistant=embedded, k=20).invoke("Who discovered oxygen?")), EMBARGOED)
    # Async gives the same documents.
    assert asyncio.run(NewsroomRetriever(assistant=embedded, k=3).ainvoke(APOLLO)) == docs


def test_the_readme_chain_with_a_fake_chat_model(embedded, capsys):
    """The README's chain block, run with langchain-core's parrot model (it answers with the prompt it was given)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (block,) = [b for b in blocks if "chain = " in b]
    # What the README's block before it defines: the retriever (embedded here) and format_documents.
    scope = {"retriever": NewsroomRetriever(assistant=embedded, k=3), "llm": ParrotFakeChatModel(),
             "format_documents": format_documents}
    exec(compile(block, "README.md", "exec"), scope)
    printed = capsys.readouterr().out
    assert printed.startswith("Sources:\n[1] ") and printed.rstrip().endswith("Question: Who signed the agreement?")
    out = scope["chain"].invoke(APOLLO)
    assert out.startswith("Sources:\n[1] ") and "Grissom" in out and out.endswith(f"Question: {APOLLO}")
    assert asyncio.run(scope["chain"].ainvoke(APOLLO)) == out


def test_one_archive_must_be_named(embedded):
    with pytest.raises(ConfigError, match="either"):
        NewsroomRetriever()
    with pytest.raises(ConfigError, match="either"):
        NewsroomRetriever(assistant=embedded, url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="http"):
        NewsroomRetriever(url="127.0.0.1:7860")


def test_remote_with_logins_and_a_restricted_desk(world, embedded):
    embedded.close()  # the app takes the store over
    proc, url = start_app(world.env())
    try:
        editor = NewsroomRetriever(url=url, username="editor", password=PASSWORDS["editor"], k=3)
        docs = editor.invoke(APOLLO)
        assert docs[0].metadata["article_id"] == RESTRICTED_ID and "Grissom" in docs[0].page_content
        assert asyncio.run(editor.ainvoke(APOLLO)) == docs
        alice = NewsroomRetriever(url=url, username="alice", password=PASSWORDS["alice"], k=10)
        for query in (APOLLO, "Grissom Chaffee", "Who discovered oxygen?"):
            seen = alice.invoke(query) + asyncio.run(alice.ainvoke(query))
            assert seen and not leaks(str(seen), RESTRICTED + EMBARGOED), query
        narrowed = NewsroomRetriever(url=url, username="alice", password=PASSWORDS["alice"], collection=["investigations"])
        assert narrowed.invoke(APOLLO) == []
        assert NewsroomRetriever(url=url, username="editor", password=PASSWORDS["editor"], lang=["fr"]).invoke(APOLLO) == []
        with pytest.raises(BackendError, match="login"):
            NewsroomRetriever(url=url, username="alice", password="wrong").invoke(APOLLO)
        with pytest.raises(BackendError, match="login"):
            NewsroomRetriever(url=url).invoke(APOLLO)
        with pytest.raises(BackendError, match="since"):
            NewsroomRetriever(url=url, username="alice", password=PASSWORDS["alice"], since="soon").invoke(APOLLO)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
