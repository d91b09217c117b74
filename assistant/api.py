"""FastAPI with the Gradio app mounted at /: one process, one Assistant.

Every /api/* route takes the caller's collections from their login (HTTP Basic when logins
are on) and passes them to the Assistant, which applies them and the embargo in the store.
Errors are JSON ``{"error": "..."}``: 400 input, 401/403 access, 413 size, 429 rate, 503 backend.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Literal, NamedTuple

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from . import export
from .answer import Answer
from .auth import Users, is_loopback, load_users
from .errors import ConfigError, InputError, NewsroomError
from .limits import LimitsMiddleware, TokenBucket, rules_from
from .service import Assistant, Filters
from .settings import Settings

log = logging.getLogger(__name__)
Names = list[str] | None


class FilterBody(BaseModel):
    """The CLI's filters; ``collection`` narrows within the caller's grants (never widens them)."""

    model_config = ConfigDict(extra="forbid")
    lang: Names = Field(default=None, max_length=50)
    since: str | None = Field(default=None, max_length=64)
    until: str | None = Field(default=None, max_length=64)
    source: Names = Field(default=None, max_length=200)
    collection: Names = Field(default=None, max_length=200)

    def filters(self) -> Filters:
        return Filters(lang=self.lang, source=self.source, since=self.since, until=self.until)


class SearchBody(FilterBody):
    query: str
    k: int | None = Field(default=None, ge=1, le=100)
    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"


class AskBody(FilterBody):
    question: str
    history: list[tuple[str, str]] | None = Field(default=None, max_length=20)
    stream: bool = False


class ExportBody(FilterBody):
    question: str
    history: list[tuple[str, str]] | None = Field(default=None, max_length=20)
    format: Literal["md", "csv"] = "md"


class CheckBody(FilterBody):
    claim: str


class QuoteBody(FilterBody):
    words: str


class CoverageBody(FilterBody):
    query: str


class Principal(NamedTuple):
    """Who is calling and what they may see (collections None = every collection)."""

    name: str | None
    collections: tuple[str, ...] | None


def narrowed(granted: tuple[str, ...] | None, requested: list[str] | None) -> tuple[str, ...] | None:
    """The collections a query may see: the request's ``collection`` filter within the grant."""
    if not requested:
        return granted
    wanted = tuple(dict.fromkeys(c for c in requested if c))
    if granted is None:
        return wanted
    return tuple(c for c in wanted if c in granted)


def upload_collection(principal: Principal, requested: str | None) -> str | None:
    """The collection an upload by ``principal`` goes into (None = the articles' own / default).

    With logins on, a user may write only into a collection granted to them; with one grant and
    no request, that one.
    """
    requested = (requested or "").strip() or None
    granted = principal.collections
    if granted is None:
        return requested
    if requested is None:
        if len(granted) == 1:
            return granted[0]
        raise InputError("name the collection to upload into (form field 'collection')")
    if requested not in granted:
        raise AccessDenied("you may not upload into that collection")
    return requested


class AccessDenied(NewsroomError):
    """Logged in, but not allowed (403)."""


class _Credentials:
    """HTTP Basic checks with a short-lived memo, so scrypt's cost is paid once per client, not per request."""

    def __init__(self, users: Users, ttl: float = 300.0):
        self.users = users
        self.ttl = ttl
        self._salt = os.urandom(16)
        self._ok: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def user(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            name, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if not sep:
            return None
        key = hashlib.sha256(self._salt + name.encode() + b"\0" + password.encode()).digest()
        now = time.monotonic()
        with self._lock:
            if self._ok.get(key, 0.0) > now:
                return name
        if not self.users.verify(name, password):
            return None
        with self._lock:
            if len(self._ok) > 10_000:
                self._ok = {k: t for k, t in self._ok.items() if t > now}
            self._ok[key] = now + self.ttl
        return name


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


def create_api(assistant: Assistant, users: Users | None = None) -> FastAPI:
    """The HTTP API over ``assistant``; ``users`` defaults to the settings' users file and auth mode."""
    settings = assistant.settings
    users = users if users is not None else load_users(settings)
    credentials = _Credentials(users)
    api = FastAPI(title="Newsroom assistant", version="0.1.0",
                  description="Cited answers from a news archive. Errors are JSON {\"error\": \"...\"}.")
    # Gradio defers to a parent CORSMiddleware: no other origin may call, unless configured.
    api.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=True,
                       allow_methods=["GET", "POST"], allow_headers=["authorization", "content-type"])
    api.add_middleware(LimitsMiddleware, rules=rules_from(settings), bucket=TokenBucket(settings.rate_per_minute))
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

    def principal(request: Request) -> Principal:
        if not users.enabled:
            return Principal(None, None)
        name = credentials.user(request)
        if name is None:
            raise HTTPException(401, "log in: send HTTP Basic credentials of a user in the users file",
                                headers={"WWW-Authenticate": 'Basic realm="newsroom", charset="UTF-8"'})
        return Principal(name, users.collections_for(name))

    api.state.principal = principal  # for routes added elsewhere (the ingest route)

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
        events = assistant.ask_stream(body.question, body.filters(), history=body.history,
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
        answer = assistant.ask(body.question, body.filters(), history=body.history,
                               collections=narrowed(who.collections, body.collection)).to_dict()
        if body.format == "csv":
            text, media = export.to_csv(answer), "text/csv; charset=utf-8"
        else:
            text, media = export.to_markdown(answer), "text/markdown; charset=utf-8"
        return Response(text, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="answer.{body.format}"'})

    @api.get("/api/stats")
    def stats(who: Principal = Depends(principal)) -> dict[str, Any]:
        return assistant.status(collections=who.collections)

    @api.post("/api/ingest")
    def ingest_files(files: list[UploadFile] = File(..., description="files to ingest (repeat the field)"),
                     collection: str | None = Form(None, description="the collection the articles go into"),
                     who: Principal = Depends(principal)) -> dict[str, Any]:
        """Ingest uploaded files (no prune); the report names each file as it was sent."""
        from .uploads import ingest_uploads

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


def upload_dir(settings: Settings) -> Path:
    """Gradio's dedicated upload folder: outside the data folder, which Gradio may never serve."""
    import tempfile

    folder = Path(settings.upload_temp_dir or Path(tempfile.gettempdir()) / "newsroom-uploads").expanduser().resolve()
    data = settings.data_dir.expanduser().resolve()
    if folder == data or data in folder.parents:
        raise ConfigError(f"NEWSROOM_UPLOAD_TEMP_DIR ({folder}) must be outside the data folder ({data})")
    return folder


def check_serving(settings: Settings, users: Users) -> None:
    """Refuse an open server off the loopback, and logins with nobody to log in."""
    if users.enabled and not users.users:
        raise ConfigError("logins are on but there are no users: set NEWSROOM_USERS_FILE to a users file "
                          "(hashes from `newsroom hash-password`), or NEWSROOM_AUTH=off")
    if not users.enabled and not is_loopback(settings.host) and settings.auth != "off":
        raise ConfigError(f"refusing to serve on {settings.host} without logins: set NEWSROOM_USERS_FILE "
                          "or, if a proxy in front already checks access, NEWSROOM_AUTH=off")


def create_server(settings: Settings) -> tuple[FastAPI, Assistant]:
    """The API with the Gradio app mounted at / (logins, upload limits and file-route hardening applied)."""
    users = load_users(settings)
    check_serving(settings, users)
    folder = upload_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():  # a folder planted in a shared /tmp
        raise ConfigError(f"the upload folder {folder} belongs to another user: set NEWSROOM_UPLOAD_TEMP_DIR")
    folder.chmod(0o700)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)  # before Gradio builds its app and components
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from .web import CSS, create_app

    assistant = Assistant(settings)
    api = create_api(assistant, users)
    data = settings.data_dir.expanduser().resolve()
    blocked = [str(data)]
    if settings.users_file:
        blocked.append(str(Path(settings.users_file).expanduser().resolve()))
    app = gr.mount_gradio_app(
        api,
        create_app(assistant, users).queue(max_size=64, default_concurrency_limit=4),
        path="/",
        auth=users.verify if users.enabled else None,
        auth_message="Newsroom assistant: log in with your newsroom account." if users.enabled else None,
        allowed_paths=[],
        blocked_paths=blocked,
        max_file_size=int(settings.max_upload_mb * 1024 * 1024),
        enable_monitoring=False,
        show_error=False,
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
        css=CSS,
    )
    return app, assistant


def serve(settings: Settings) -> None:
    import uvicorn

    app, assistant = create_server(settings)
    assistant.store  # open the store now: a held store fails here with a clear message, not on first question
    assistant.start_parsers()  # in the background: the first upload then waits for no parser process to boot
    print(f"newsroom: serving on http://{settings.host}:{settings.port}  (mode: {assistant.mode})", flush=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        assistant.close()
