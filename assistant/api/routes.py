"""The HTTP API's routes over one Assistant.

Every /api/* route takes the caller's collections from their login (HTTP Basic when logins
are on) and passes them to the Assistant, which applies them and the embargo in the store.
Errors are JSON ``{"error": "..."}``: 400 input, 401/403 access, 413 size, 429 rate, 503 backend.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterator

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from ..answering import export
from ..answering.answer import Answer
from ..auth import Users, load_users
from ..errors import InputError, NewsroomError
from ..service import Assistant
from ..web.files import UploadLedger
from ..web.sessions import WebSessions
from .access import AccessDenied, Credentials, Principal, narrowed, upload_collection
from .bodies import AskBody, CheckBody, CoverageBody, ExportBody, History, Message, QuoteBody, SearchBody
from .file_guard import FileGuard
from .limits import Backoff, LimitsMiddleware, TokenBucket, client_address, rules_from, too_many

log = logging.getLogger(__name__)


def _history(history: History) -> list[Any] | None:
    """The body's history as the service takes it: pairs, or messages as plain dicts."""
    if history is None:
        return None
    return [h.model_dump() if isinstance(h, Message) else h for h in history]


def _validation_message(exc: RequestValidationError) -> str:
    """One line naming the field and the reason, never echoing the value sent."""
    parts = []
    for err in exc.errors()[:3]:
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        where = f"field '{'.'.join(loc)}'" if loc else "the request body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is malformed"


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def create_api(assistant: Assistant, users: Users | None = None, sessions: WebSessions | None = None,
               ledger: UploadLedger | None = None) -> FastAPI:
    """The HTTP API over ``assistant``; ``users`` defaults to the settings' users file and auth mode.

    ``sessions`` and ``ledger``: the web app's logins and uploads, when the Gradio app is mounted on it
    (``create_server``): its events are then rate-limited per user and its file values guarded."""
    settings = assistant.settings
    users = users if users is not None else load_users(settings)
    credentials = Credentials(users)
    api = FastAPI(title="Newsroom assistant", version="0.1.0", openapi_url=None, docs_url=None, redoc_url=None,
                  description="Cited answers from a news archive. Errors are JSON {\"error\": \"...\"}.")
    # Gradio defers to a parent CORSMiddleware: no other origin may call, unless configured.
    api.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=True,
                       allow_methods=["GET", "POST"], allow_headers=["authorization", "content-type"])
    rules, bucket, backoff = rules_from(settings), TokenBucket(settings.rate_per_minute), Backoff()
    if ledger is not None and sessions is not None:  # added first, so it runs inside the limits (bodies bounded)
        api.add_middleware(FileGuard, ledger=ledger, sessions=sessions)
    api.add_middleware(LimitsMiddleware, rules=rules, bucket=bucket, backoff=backoff,
                       web_user=sessions.user if sessions is not None else lambda headers: None)
    api.state.users = users

    @api.exception_handler(NewsroomError)
    async def newsroom_error(_: Request, exc: NewsroomError) -> JSONResponse:
        status = 400 if isinstance(exc, InputError) else 403 if isinstance(exc, AccessDenied) else 503
        return JSONResponse({"error": str(exc)}, status_code=status)

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=400)

    @api.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return JSONResponse({"error": "internal error; the server log has the details"}, status_code=500)

    def limited(key: str) -> None:
        wait = bucket.take(key)
        if wait:
            message, extra = too_many(wait, f"too many requests: the limit is {bucket.per_minute} a minute")
            raise HTTPException(429, message, headers=extra)

    def principal(request: Request) -> Principal:
        """The verified caller. Rates are kept per verified user (per client address with logins off,
        or for requests that prove no user); failed logins back off per claimed name and address."""
        address = client_address(request.scope, {k.lower(): v for k, v in request.headers.items()},
                                 rules.trusted_proxies)
        if not users.enabled:
            limited(f"ip:{address}")
            return Principal(None, None, admin=True)
        claim = credentials.claimed(request)
        if claim is not None:
            wait = backoff.wait(claim[0], address)
            if wait:
                message, extra = too_many(wait, "too many failed logins")
                raise HTTPException(429, message, headers=extra)
        if claim is None or not credentials.verify(*claim):
            if claim is not None:
                backoff.failed(claim[0], address)
            limited(f"ip:{address}")
            raise HTTPException(401, "log in: send HTTP Basic credentials of a user in the users file",
                                headers={"WWW-Authenticate": 'Basic realm="newsroom", charset="UTF-8"'})
        name = claim[0]
        backoff.succeeded(name, address)
        limited(f"user:{name}")
        return Principal(name, users.collections_for(name), users.is_admin(name))

    api.state.principal = principal  # for routes added elsewhere (the ingest route)
    from .connectors import add_connectors  # here: they import this module's request models
    add_connectors(api, assistant, principal)  # /v1 (OpenAI-compatible chat) and /mcp

    # The schema and its two readers, behind the same login as the routes they describe.
    @api.get("/openapi.json", include_in_schema=False)
    def openapi(_: Principal = Depends(principal)) -> JSONResponse:
        return JSONResponse(api.openapi())

    @api.get("/docs", include_in_schema=False)
    def docs(_: Principal = Depends(principal)) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{api.title} - API")

    @api.get("/redoc", include_in_schema=False)
    def redoc(_: Principal = Depends(principal)) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{api.title} - API")

    @api.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "mode": assistant.mode}

    @api.post("/api/search")
    def search(body: SearchBody, who: Principal = Depends(principal)) -> dict[str, Any]:
        results = assistant.search(body.query, body.filters(), k=body.k, mode=body.mode,
                                   collections=narrowed(who.collections, body.collection))
        return {"results": [p.to_result() for p in results]}

    @api.post("/api/ask", response_model=None)
    def ask(body: AskBody, request: Request, who: Principal = Depends(principal)) -> dict[str, Any] | Response:
        """A cited answer; server-sent events (`token`, then `answer`, or `error`) when streaming is asked for."""
        events = assistant.ask_stream(body.question, body.filters(), history=_history(body.history),
                                      collections=narrowed(who.collections, body.collection))
        if not (body.stream or "text/event-stream" in request.headers.get("accept", "")):
            answer = [e for e in events if isinstance(e, Answer)][-1]
            return answer.to_dict()
        first = next(events)  # bad input fails here, as a plain JSON error
        return StreamingResponse(_stream(first, events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @api.post("/api/check")
    def check(body: CheckBody, who: Principal = Depends(principal)) -> dict[str, Any]:
        return assistant.check(body.claim, body.filters(), collections=narrowed(who.collections, body.collection)).to_dict()

    @api.post("/api/quote")
    def quote(body: QuoteBody, who: Principal = Depends(principal)) -> dict[str, Any]:
        return assistant.quote(body.words, body.filters(), collections=narrowed(who.collections, body.collection)).to_dict()

    @api.post("/api/coverage")
    def coverage(body: CoverageBody, who: Principal = Depends(principal)) -> dict[str, Any]:
        return assistant.coverage(body.query, body.filters(), collections=narrowed(who.collections, body.collection))

    @api.post("/api/export", response_class=Response,
              responses={200: {"content": {"text/markdown": {}, "text/csv": {}}}})
    def export_answer(body: ExportBody, who: Principal = Depends(principal)) -> Response:
        """The answer to ``question`` with its citations, as Markdown or CSV (asked afresh, access checked)."""
        answer = assistant.ask(body.question, body.filters(), history=_history(body.history),
                               collections=narrowed(who.collections, body.collection)).to_dict()
        if body.format == "csv":
            text, media = export.to_csv(answer), "text/csv; charset=utf-8"
        else:
            text, media = export.to_markdown(answer), "text/markdown; charset=utf-8"
        return Response(text, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="answer.{body.format}"'})

    @api.get("/api/stats")
    def stats(who: Principal = Depends(principal)) -> dict[str, Any]:
        return assistant.status(collections=who.collections, locations=who.admin)

    @api.post("/api/ingest")
    def ingest_files(files: list[UploadFile] = File(..., description="files to ingest (repeat the field)"),
                     collection: str | None = Form(None, description="the collection the articles go into"),
                     who: Principal = Depends(principal)) -> dict[str, Any]:
        """Ingest uploaded files (no prune); the report names each file as it was sent."""
        from ..uploads import ingest_uploads

        return ingest_uploads(assistant, files, upload_collection(who, collection)).to_dict()

    return api


def _stream(first: str | Answer, events: Iterator[str | Answer]) -> Iterator[str]:
    try:
        for event in _chain(first, events):
            if isinstance(event, Answer):
                yield _sse("answer", event.to_dict())
            elif event:
                yield _sse("token", {"text": event})
    except NewsroomError as exc:
        yield _sse("error", {"error": str(exc)})
    except Exception:  # the client gets a line it can show; the log gets the trace
        log.exception("streamed answer failed")
        yield _sse("error", {"error": "internal error; the server log has the details"})


def _chain(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[str | Answer]:
    yield first
    yield from rest
