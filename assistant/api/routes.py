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
import shutil
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, NamedTuple

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from . import export
from .answer import Answer
from .auth import Users, is_loopback, load_users
from .errors import ConfigError, InputError, NewsroomError
from .inputs import MAX_DATE_CHARS, MAX_FILTER_CHARS, MAX_FILTER_VALUES, invalid_char
from .limits import Backoff, LimitsMiddleware, TokenBucket, client_address, rules_from, too_many
from .service import Assistant, Filters
from .settings import Settings
from .web_files import FileGuard, UploadLedger
from .web_sessions import WebSessions

log = logging.getLogger(__name__)
UPLOAD_LEFTOVER_AGE_S = 24 * 3600.0  # with a shared server store, older uploads are surely abandoned


def _valid(text: str) -> str:
    """Refuse code points no text may carry; pydantic's error then names the field."""
    bad = invalid_char(text)
    if bad:
        raise ValueError(f"holds a character no text may carry ({bad}); send valid Unicode")
    return text


Text = Annotated[str, AfterValidator(_valid)]
Name = Annotated[str, Field(max_length=MAX_FILTER_CHARS), AfterValidator(_valid)]
Names = list[Name] | None
# The service bounds the whole history (turns and characters: ``inputs.check_history``); this
# keeps a body from carrying more items than that before it is read.
MAX_HISTORY_ITEMS = 100


class Message(BaseModel):
    """One OpenAI-style chat message: ``{"role": "user" | "assistant" | "system", "content": ...}``."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["user", "assistant", "system", "developer", "tool"]
    content: Text | list[dict[str, Any]] | None = None


History = list[tuple[Text, Text] | Message] | None


class FilterBody(BaseModel):
    """The CLI's filters; ``collection`` narrows within the caller's grants (never widens them)."""

    model_config = ConfigDict(extra="forbid")
    lang: Names = Field(default=None, max_length=MAX_FILTER_VALUES)
    since: Text | None = Field(default=None, max_length=MAX_DATE_CHARS)
    until: Text | None = Field(default=None, max_length=MAX_DATE_CHARS)
    source: Names = Field(default=None, max_length=MAX_FILTER_VALUES)
    collection: Names = Field(default=None, max_length=MAX_FILTER_VALUES)

    def filters(self) -> Filters:
        return Filters(lang=self.lang, source=self.source, since=self.since, until=self.until)


def _history(history: History) -> list[Any] | None:
    """The body's history as the service takes it: pairs, or messages as plain dicts."""
    if history is None:
        return None
    return [h.model_dump() if isinstance(h, Message) else h for h in history]


class SearchBody(FilterBody):
    query: Text
    k: int | None = Field(default=None, ge=1, le=100)
    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"


class AskBody(FilterBody):
    question: Text
    history: History = Field(default=None, max_length=MAX_HISTORY_ITEMS,
                             description="earlier turns: [question, answer] pairs or {role, content} messages")
    stream: bool = False


class ExportBody(FilterBody):
    question: Text
    history: History = Field(default=None, max_length=MAX_HISTORY_ITEMS)
    format: Literal["md", "csv"] = "md"


class CheckBody(FilterBody):
    claim: Text


class QuoteBody(FilterBody):
    words: Text


class CoverageBody(FilterBody):
    query: Text


class Principal(NamedTuple):
    """Who is calling and what they may see (collections None = every collection)."""

    name: str | None
    collections: tuple[str, ...] | None
    admin: bool = False  # may see server paths (logins off, or a users-file admin)


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

    @staticmethod
    def claimed(request: Request) -> tuple[str, str] | None:
        """The (name, password) an HTTP Basic header claims; None when there is no well-formed one."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            name, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (name, password) if sep else None

    def verify(self, name: str, password: str) -> bool:
        key = hashlib.sha256(self._salt + name.encode() + b"\0" + password.encode()).digest()
        now = time.monotonic()
        with self._lock:
            if self._ok.get(key, 0.0) > now:
                return True
        if not self.users.verify(name, password):
            return False
        with self._lock:
            if len(self._ok) > 10_000:
                self._ok = {k: t for k, t in self._ok.items() if t > now}
            self._ok[key] = now + self.ttl
        return True


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
    credentials = _Credentials(users)
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
    if not settings.public_url and not is_loopback(settings.host):
        raise ConfigError(f"serving on {settings.host}: set NEWSROOM_PUBLIC_URL to the address users open "
                          "(e.g. https://newsroom.example); the page never takes it from request headers")


def public_url(settings: Settings) -> str:
    """The app's root URL as configured (on the loopback: this server's own address)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def clean_upload_leftovers(settings: Settings, folder: Path) -> int:
    """Remove what uploads left behind (a server killed mid-upload): the web app's upload folder, and
    ``<data>/uploads`` when this server holds the embedded store alone (a shared server store may have
    other app processes uploading: there only leftovers older than a day go). Returns the count."""
    removed = 0
    api_cutoff = time.time() - (0 if settings.embedded else UPLOAD_LEFTOVER_AGE_S)
    for root, cutoff in ((folder, time.time()), (settings.data_dir / "uploads", api_cutoff)):
        for entry in root.iterdir() if root.is_dir() else ():
            try:
                if entry.lstat().st_mtime > cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
            except OSError as exc:
                log.warning("could not remove upload leftover %s: %s", entry, exc)
    return removed


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

    from .web_files import UploadLedger
    from .web_sessions import WebSessions

    clean_upload_leftovers(settings, folder)
    assistant = Assistant(settings)
    data = settings.data_dir.expanduser().resolve()
    blocked = [str(data)]
    if settings.users_file:
        blocked.append(str(Path(settings.users_file).expanduser().resolve()))
    ledger, sessions = UploadLedger(folder), WebSessions()
    api = create_api(assistant, users, sessions, ledger)
    app = gr.mount_gradio_app(
        api,
        create_app(assistant, users, ledger).queue(max_size=64, default_concurrency_limit=4),
        path="/",
        root_path=public_url(settings),
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
    sessions.bind(app)
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
