"""Request limits for the server: body size, rate per user, and cross-site request refusal.

One ASGI middleware in front of the API and the mounted Gradio app, so every route is bounded
the same way; errors are JSON ``{"error": ...}`` with the status a client can act on.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import unquote, urlsplit

from .settings import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


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


def rules_from(settings: Settings) -> LimitRules:
    return LimitRules(
        max_body=settings.max_body_kb * 1024,
        max_upload=int(settings.max_upload_mb * 1024 * 1024) + 64 * 1024,  # room for multipart framing
        upload_mb=settings.max_upload_mb,
        allowed_origins=tuple(o.rstrip("/").lower() for o in settings.cors_origins),
    )


async def send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def basic_user(headers: dict[str, str]) -> str | None:
    """The user name in an HTTP Basic header (unverified: for rate keys only)."""
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(value[6:].strip(), validate=True).decode("utf-8").partition(":")[0] or None
    except (ValueError, UnicodeDecodeError):
        return None


def _gradio_login(headers: dict[str, str]) -> str | None:
    """The web app's login token (one per logged-in browser), as a rate key."""
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name.startswith("access-token") and value:
            return "web:" + value
    return None


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
    """Body size (413), rate per user on /api/*, logins and app events (429), cross-site writes (403),
    and Gradio's file route kept to files (no URL proxying)."""

    def __init__(self, app: Callable, rules: LimitRules, bucket: TokenBucket):
        self.app = app
        self.rules = rules
        self.bucket = bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if method in UNSAFE_METHODS and not same_origin(headers, self.rules.allowed_origins):
            await send_error(send, 403, "cross-site request refused: the Origin is not this server")
            return
        if "/file=" in path and "://" in unquote(path.split("/file=", 1)[1]):
            await send_error(send, 403, "this server does not fetch URLs")
            return
        if path.startswith("/api/") or (method == "POST" and path.rstrip("/").endswith(("/login", "/queue/join"))):
            client = scope.get("client") or ("-", 0)
            key = basic_user(headers) or _gradio_login(headers) or f"@{client[0]}"
            wait = self.bucket.take(key)
            if wait:
                await send_error(send, 429, f"too many requests: the limit is {self.bucket.per_minute} a minute; "
                                 f"try again in {int(wait) + 1} s", {"retry-after": str(int(wait) + 1)})
                return
        if method not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        json_api = path.startswith("/api/") and not path.startswith("/api/ingest")
        limit = self.rules.max_body if json_api else self.rules.max_upload
        what = f"the request body is over the limit of {limit // 1024} KB" if json_api else \
            f"the upload is over the limit of {self.rules.upload_mb:g} MB"
        length = headers.get("content-length")
        if length is not None:  # the HTTP server holds the body to its declared length
            if not length.isdigit() or int(length) > limit:
                await send_error(send, 413, what)
                return
            await self.app(scope, receive, send)
            return
        # Chunked body: read it (up to the limit) before the app sees any of it.
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

        await self.app(scope, replay, send)
