"""Request limits for the server: body size, rate per verified user, failed-login back-off,
cross-site request refusal, and the security headers of every response.

One ASGI middleware in front of the API and the mounted Gradio app, so every route is bounded
the same way; errors are JSON ``{"error": ...}`` with the status a client can act on. Rates and
back-off are keyed by what the server verified (the logged-in user; for a failed login the
claimed name and the client address, ``X-Forwarded-For`` believed only from trusted proxies),
never by a header or cookie the client could invent.
"""
from __future__ import annotations

import ipaddress
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import unquote, urlsplit

from ..settings import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
JSON_ROUTES = ("/api/", "/v1/", "/mcp")  # JSON bodies (max_body_kb); other writes are uploads or the web app's


class TokenBucket:
    """Per-key token buckets: ``per_minute`` requests a minute, bursts up to ``per_minute``."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token for ``key``; return 0 when allowed, else the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 100_000:  # forget idle keys rather than grow without bound
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
            return (1.0 - tokens) / rate


@dataclass(frozen=True)
class LimitRules:
    max_body: int  # bytes, JSON API bodies
    max_upload: int  # bytes, uploads (multipart) and Gradio's own requests
    upload_mb: float = 0.0  # as configured, for messages
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()


def rules_from(settings: Settings) -> LimitRules:
    return LimitRules(
        max_body=settings.max_body_kb * 1024,
        max_upload=int(settings.max_upload_mb * 1024 * 1024) + 64 * 1024,  # room for multipart framing
        upload_mb=settings.max_upload_mb,
        allowed_origins=tuple(o.rstrip("/").lower() for o in (*settings.cors_origins, public_origin(settings)) if o),
        trusted_proxies=settings.trusted_proxies,
    )


def public_origin(settings: Settings) -> str:
    """The scheme://host[:port] of ``settings.public_url`` ("" when none is set)."""
    if not settings.public_url:
        return ""
    parts = urlsplit(settings.public_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def client_address(scope: Scope, headers: dict[str, str], trusted: tuple[str, ...]) -> str:
    """The client's address: the TCP peer, or, when the peer is a trusted proxy, the last address in
    ``X-Forwarded-For`` that is not itself a trusted proxy (what the nearest trusted proxy saw)."""
    peer = (scope.get("client") or ("-", 0))[0]
    if not trusted or not _in_networks(peer, trusted):
        return peer
    hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, trusted):
            return hop
    return peer


def _in_networks(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


# Failed logins back off instead of locking: a key's first FREE failures cost nothing, then each
# further failure doubles the wait before the next try, from BASE_S up to CAP_S; a success clears
# it, and failures older than FORGET_S are forgotten. Keys are (claimed user, client address), so
# nobody elsewhere can slow a named user down, and the client address alone (one address trying
# many names).
PAIR_FREE, ADDRESS_FREE = 5, 30
BACKOFF_BASE_S, BACKOFF_CAP_S, BACKOFF_FORGET_S = 1.0, 300.0, 3600.0


class Backoff:
    """Per-key failure counts and the wait they impose (see the constants above)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._fails: dict[tuple[str, ...], tuple[int, float]] = {}  # key -> (failures, last failure time)
        self._lock = threading.Lock()

    @staticmethod
    def keys(user: str, address: str) -> list[tuple[tuple[str, ...], int]]:
        return [(("pair", user, address), PAIR_FREE), (("address", address), ADDRESS_FREE)]

    def wait(self, user: str, address: str) -> float:
        """Seconds before ``user`` may try again from ``address`` (0: now)."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            for key, free in self.keys(user, address):
                fails, last = self._fails.get(key, (0, now))
                if fails > free and now - last < BACKOFF_FORGET_S:
                    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (fails - free - 1))
                    longest = max(longest, last + delay - now)
        return max(0.0, longest)

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._fails) > 100_000:  # forget old keys rather than grow without bound
                self._fails = {k: v for k, v in self._fails.items() if now - v[1] < BACKOFF_FORGET_S}
            for key, _ in self.keys(user, address):
                fails, last = self._fails.get(key, (0, now))
                self._fails[key] = (1 if now - last >= BACKOFF_FORGET_S else fails + 1, now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._fails.pop(("pair", user, address), None)


def too_many(wait: float, what: str) -> tuple[str, dict[str, str]]:
    """The 429 message and Retry-After header for a wait of ``wait`` seconds."""
    seconds = int(wait) + 1
    return f"{what}; try again in {seconds} s", {"retry-after": str(seconds)}


# Every page and response: no framing by other sites, no sniffing, and a content security policy
# that keeps scripts, styles, connections and forms to this origin (Gradio needs inline scripts
# and styles, and eval for its plots' expression language).
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; "
     b"worker-src 'self' blob:; frame-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
     b"frame-ancestors 'none'"),
)


def same_origin(headers: dict[str, str], allowed: tuple[str, ...]) -> bool:
    """True when the request has no Origin, or an Origin that is this host or explicitly allowed."""
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in allowed:
        return True
    if origin == "null" or "://" not in origin:
        return False
    host = urlsplit(origin).netloc
    return bool(host) and host in {headers.get("host", "").lower(), headers.get("x-forwarded-host", "").lower()}


class LimitsMiddleware:
    """Body size (413), cross-site writes (403), Gradio's file route kept to files (no URL proxying),
    rates (429) for the web app's events per verified user (else per client address), failed web
    logins backed off per claimed user and address, and the security headers on every response.
    The HTTP API's own rate and login back-off are applied where its credentials are verified
    (``api/routes.py``), never from a header or cookie the client could invent."""

    def __init__(self, app: Callable, rules: LimitRules, bucket: TokenBucket, backoff: Backoff,
                 web_user: Callable[[dict[str, str]], str | None] = lambda headers: None):
        self.app = app
        self.rules = rules
        self.bucket = bucket
        self.backoff = backoff
        self.web_user = web_user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if method in UNSAFE_METHODS and not same_origin(headers, self.rules.allowed_origins):
            await send_error(send, 403, "cross-site request refused: the Origin is not this server")
            return
        if "/file=" in path and "://" in unquote(path.split("/file=", 1)[1]):
            await send_error(send, 403, "this server does not fetch URLs")
            return
        address = client_address(scope, headers, self.rules.trusted_proxies)
        login = method == "POST" and path.rstrip("/").endswith("/login")
        if method == "POST" and path.rstrip("/").endswith(("/queue/join", "/upload")) and not path.startswith("/api/"):
            user = self.web_user(headers)  # the web app's events: per verified user, else per address
            wait = self.bucket.take(f"user:{user}" if user else f"ip:{address}")
            if wait:
                message, extra = too_many(wait, f"too many requests: the limit is {self.bucket.per_minute} a minute")
                await send_error(send, 429, message, extra)
                return
        if method not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        json_api = path.startswith(JSON_ROUTES) and not path.startswith("/api/ingest")
        limit = self.rules.max_body if json_api or login else self.rules.max_upload
        what = f"the request body is over the limit of {limit // 1024} KB" if json_api or login else \
            f"the upload is over the limit of {self.rules.upload_mb:g} MB"
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await send_error(send, 413, what)  # the HTTP server holds the body to its declared length
            return
        if length is not None and not login:
            await self.app(scope, receive, send)
            return
        # Chunked body (or a login form to read): read it (up to the limit) before the app sees any of it.
        chunks: list[dict[str, Any]] = []
        seen = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > limit:
                await send_error(send, 413, what)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            return chunks.pop(0) if chunks else await receive()

        if login:
            await self._login(scope, headers, b"".join(m.get("body", b"") for m in chunks), address, replay, send)
            return
        await self.app(scope, replay, send)

    async def _login(self, scope: Scope, headers: dict[str, str], body: bytes, address: str,
                     receive: Receive, send: Send) -> None:
        """The web app's login form: back off per (claimed user, address), learn the outcome from the reply."""
        user = await _form_username(scope, headers, body)
        wait = self.backoff.wait(user, address)
        if wait:
            message, extra = too_many(wait, "too many failed logins")
            await send_error(send, 429, message, extra)
            return
        state = {"status": 0}

        async def observed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if message["status"] == 200:
                    self.backoff.succeeded(user, address)
                elif message["status"] in (400, 401, 403):
                    self.backoff.failed(user, address)
            await send(message)

        await self.app(scope, receive, observed)


async def _form_username(scope: Scope, headers: dict[str, str], body: bytes) -> str:
    """The ``username`` field of a login form (URL-encoded or multipart), as the login route reads it."""
    from starlette.requests import Request

    sent = False

    async def once() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request({**scope, "headers": scope.get("headers", [])}, once).form()
        value = form.get("username")
        return value.strip() if isinstance(value, str) else ""
    except Exception:  # a malformed form: the login route refuses it; it still counts against the address
        return ""


def _with_security_headers(send: Send) -> Send:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped
