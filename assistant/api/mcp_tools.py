"""The archive's tools for AI assistants over the Model Context Protocol (the official SDK).

Tools: ``search``, ``ask``, ``check_claim``, ``find_quote``, ``coverage``; the holdings as the resource
``newsroom://holdings``. Over streamable HTTP (the app's ``/mcp``, or ``newsroom mcp --transport http``)
every request logs in as on the app (HTTP Basic, or ``Bearer NAME:PASSWORD``; same users file, same
check) and each tool sees only that user's collections. Over stdio (``newsroom mcp``) the server runs
as one user (``--user NAME``), or sees everything when logins are off. The embargo holds everywhere.
"""
from __future__ import annotations

import functools
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, AsyncIterator, Callable

import anyio
from fastapi import FastAPI
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import NewsroomError
from ..service import Assistant, Filters
from .access import Principal
from .bearer import bearer_or_basic

PRINCIPAL_KEY = "newsroom.principal"  # where the login middleware leaves the caller in the ASGI scope
# The collections the message being handled may see, set for each message (None = all); nothing by default.
_SEEN: ContextVar[tuple[str, ...] | None] = ContextVar("newsroom_mcp_collections", default=())
HTTP_PATH = "/mcp"  # the streamable HTTP endpoint, as the SDK and MCP clients expect
INSTRUCTIONS = (
    "A news archive. Answers quote archive passages and cite them as [n]; each citation names the article, "
    "outlet, date, URL and the exact passage. When the archive does not answer, ask says so and why: report "
    "that rather than answering from memory. Filters: lang (ISO 639-1 codes), source (outlet names), "
    "since/until (YYYY-MM-DD)."
)


def _tool(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """The service's one-line errors reach the model as the tool's error text."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except NewsroomError as exc:
            raise ToolError(str(exc)) from exc

    return call


def create_mcp(assistant: Assistant, stdio_collections: tuple[str, ...] | None) -> MCPServer:
    """The MCP server over ``assistant``; ``stdio_collections`` is what a stdio client may see (None = all).

    Over HTTP the collections come from each request's login (see ``http_app``); a request that
    arrives over HTTP without one sees nothing.
    """
    server = MCPServer("newsroom", title="Newsroom archive", instructions=INSTRUCTIONS, log_level="WARNING")

    async def caller(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request is None:  # stdio
            seen = stdio_collections
        else:
            principal = ctx.request.scope.get(PRINCIPAL_KEY)
            seen = principal.collections if isinstance(principal, Principal) else ()
        token = _SEEN.set(seen)
        try:
            return await call_next(ctx)
        finally:
            _SEEN.reset(token)

    server.middleware.append(caller)

    def filters(lang: list[str] | None, source: list[str] | None, since: str | None, until: str | None) -> Filters:
        return Filters(lang=lang, source=source, since=since, until=until)

    @server.tool(description="Find archive passages about a query, best first (any language finds every language). "
                             "Returns {results: [{article_id, chunk_id, title, source (outlet), url, published, lang, "
                             "text (the passage), start, end (its span in the article), score, duplicates (the same "
                             "story in other outlets)}]}.")
    @_tool
    def search(query: str, k: int = 8, lang: list[str] | None = None, source: list[str] | None = None,
               since: str | None = None, until: str | None = None) -> dict[str, Any]:
        passages = assistant.search(query, filters(lang, source, since, until), k=k, collections=_SEEN.get())
        return {"results": [p.to_result() for p in passages]}

    @server.tool(description="Answer a question from the archive. Returns {answer (sentences ending in [n] markers), "
                             "citations: [{n, title, source, published, url, quote (the cited sentence), text}], "
                             "abstained, why_abstained (why the archive does not answer), warnings, sources (all "
                             "passages read)}. Quote the answer with its citations; if abstained, say so and why.")
    @_tool
    def ask(question: str, lang: list[str] | None = None, source: list[str] | None = None,
            since: str | None = None, until: str | None = None) -> dict[str, Any]:
        return assistant.ask(question, filters(lang, source, since, until), collections=_SEEN.get()).to_dict()

    @server.tool(description="Check a claim against the archive. Returns {verdict (supported / contradicted / mixed "
                             "/ not_in_archive, or null when no language model is configured), counts per stance, "
                             "evidence: [{stance (supports / contradicts / mentions), quote, reason, passage}], "
                             "explanation}.")
    @_tool
    def check_claim(claim: str, lang: list[str] | None = None, source: list[str] | None = None,
                    since: str | None = None, until: str | None = None) -> dict[str, Any]:
        return assistant.check(claim, filters(lang, source, since, until), collections=_SEEN.get()).to_dict()

    @server.tool(description="Find every place a quotation or figure appears, earliest first, whatever the quote "
                             "marks or case. Returns {exact (false: no exact match, the hits are close wordings or "
                             "translations), count, hits: [{quote (the sentence), speaker (who said it, when the "
                             "sentence says), passage}]}.")
    @_tool
    def find_quote(words: str, lang: list[str] | None = None, source: list[str] | None = None,
                   since: str | None = None, until: str | None = None) -> dict[str, Any]:
        return assistant.quote(words, filters(lang, source, since, until), collections=_SEEN.get()).to_dict()

    @server.tool(description="How much the archive covered a topic over time. Returns {query, articles (matching "
                             "articles), months: matching articles per month and language}.")
    @_tool
    def coverage(query: str, lang: list[str] | None = None, source: list[str] | None = None,
                 since: str | None = None, until: str | None = None) -> dict[str, Any]:
        return assistant.coverage(query, filters(lang, source, since, until), collections=_SEEN.get())

    @server.resource("newsroom://holdings", name="holdings", mime_type="application/json",
                     description="What the archive holds that you may see: articles by language, outlet and year.")
    def holdings() -> dict[str, Any]:
        return assistant.holdings(collections=_SEEN.get())

    return server


class _Login:
    """ASGI middleware: each HTTP request logs in as on the app; the caller goes into the scope."""

    def __init__(self, app: Any, login: Callable[[Request], Principal]):
        self.app = app
        self.login = login

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            try:  # scrypt on a worker thread, off the event loop
                principal = await anyio.to_thread.run_sync(self.login, Request(scope))
            except HTTPException as exc:
                await JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)(scope, receive, send)
                return
            scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


def guarded(assistant: Assistant, principal: Callable[[Request], Principal]) -> tuple[MCPServer, Any]:
    """The MCP server and its streamable HTTP app (at ``/mcp``) behind ``principal``, the app's login check."""
    server = create_mcp(assistant, stdio_collections=())
    inner = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=assistant.settings.host)
    return server, _Login(inner, bearer_or_basic(principal))


def mount(api: FastAPI, assistant: Assistant, principal: Callable[[Request], Principal]) -> None:
    """Serve MCP at ``/mcp`` on the app itself: its store (which one process holds), logins and limits.

    The MCP sessions run inside the app's lifespan (uvicorn runs it; a TestClient only in ``with``).
    """
    server, app = guarded(assistant, principal)
    api.router.add_route(HTTP_PATH, app, include_in_schema=False)
    previous = api.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with server.session_manager.run(), previous(app_) as state:
            yield state

    api.router.lifespan_context = lifespan
