"""The archive as a LangChain retriever: embedded (an Assistant in this process) or remote (a running app).

Each Document's ``page_content`` is the passage; its ``metadata`` is the search result shape of
the CLI's ``--json`` and ``POST /api/search`` less the text (article_id, chunk_id, title, source
(the outlet), url, published, lang, start and end (the passage's span in the article body), score,
duplicates), so a citation can be built from it. Remote calls send the user's login, and the app
applies that user's collections and the embargo; embedded, the process sees the whole store it holds.
"""
from __future__ import annotations

from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import SecretStr, model_validator

from .errors import BackendError, ConfigError
from .service import Assistant, Filters

SEARCH_PATH = "/api/search"  # api/routes.py's search route: same body, same result shape


def to_document(result: dict[str, Any]) -> Document:
    """A search result (``Passage.to_result()``, locally or from the API) as a Document."""
    return Document(page_content=result["text"], id=result["chunk_id"],
                    metadata={k: v for k, v in result.items() if k != "text"})


def format_documents(docs: list[Document]) -> str:
    """Numbered sources for a prompt: ``[n] title — outlet, date`` then the passage."""
    blocks = []
    for n, d in enumerate(docs, 1):
        m = d.metadata
        blocks.append(f"[{n}] {m.get('title', '')} — {m.get('source', '')}, {(m.get('published') or '')[:10]}\n"
                      f"{d.page_content}")
    return "\n\n".join(blocks)


class NewsroomRetriever(BaseRetriever):
    """Passages from the news archive, best first.

    Give ``assistant`` (embedded: ``Assistant(load_settings())``) or ``url`` of a running app
    (``newsroom serve``) with ``username``/``password`` when it asks for logins. The filters are the
    CLI's: ``lang``, ``source`` (outlets), ``since``/``until`` (dates), ``collection`` (narrows, never
    widens, what the login may see); ``k`` passages (default: the archive's NEWSROOM_TOP_K).
    """

    assistant: Any = None
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    k: int | None = None
    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"
    lang: list[str] | None = None
    source: list[str] | None = None
    since: str | None = None
    until: str | None = None
    collection: list[str] | None = None
    timeout: float = 120.0

    @model_validator(mode="after")
    def _one_archive(self) -> "NewsroomRetriever":
        if (self.assistant is None) == (self.url is None):
            raise ConfigError("give NewsroomRetriever either assistant= (embedded) or url= (a running app), not both")
        if self.assistant is not None and not isinstance(self.assistant, Assistant):
            raise ConfigError("assistant= must be an assistant.service.Assistant")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"url= needs an http:// or https:// address, not {self.url!r}")
        return self

    def _filters(self) -> Filters:
        return Filters(lang=self.lang, source=self.source, since=self.since, until=self.until)

    def _request(self, query: str) -> dict[str, Any]:
        body = {"query": query, "mode": self.mode, "lang": self.lang, "source": self.source, "since": self.since,
                "until": self.until, "collection": self.collection, "k": self.k}
        auth = (self.username, self.password.get_secret_value() if self.password else "") if self.username else None
        return {"url": self.url.rstrip("/") + SEARCH_PATH, "json": {k: v for k, v in body.items() if v is not None},
                "auth": auth}

    def _documents(self, response: httpx.Response) -> list[Document]:
        if response.status_code == 401:
            raise BackendError(f"the app at {self.url} asks for a login: give username= and password=")
        if response.status_code != 200:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise BackendError(f"the app at {self.url} refused the search (HTTP {response.status_code}): {message}")
        return [to_document(r) for r in response.json()["results"]]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        if self.assistant is not None:
            collections = tuple(self.collection) if self.collection else None
            passages = self.assistant.search(query, self._filters(), k=self.k, mode=self.mode, collections=collections)
            return [to_document(p.to_result()) for p in passages]
        request = self._request(query)
        try:
            with httpx.Client(timeout=self.timeout) as client:
                return self._documents(client.post(request["url"], json=request["json"], auth=request["auth"]))
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the app at {self.url}: {exc}") from exc

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun) -> list[Document]:
        if self.assistant is not None:  # the service is synchronous: a worker thread, as LangChain's default
            return await super()._aget_relevant_documents(query, run_manager=run_manager)
        request = self._request(query)
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                return self._documents(await client.post(request["url"], json=request["json"], auth=request["auth"]))
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the app at {self.url}: {exc}") from exc
