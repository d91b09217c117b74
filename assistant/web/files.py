"""Files the web app may hand to a handler: only those this user uploaded to this app.

Gradio checks that a file value points into its upload cache only in an app it started with
``launch()``; mounted on our server (``mount_gradio_app``) it takes any path a client names,
and copies that file into its cache before the handler runs. So the server keeps its own
ledger: every file Gradio's ``/upload`` route stored is recorded against the user who sent it
(``WebSessions``: the login Gradio verified; "" with logins off), and ``FileGuard`` refuses any
event whose file values name a path that is not this user's own upload in the app's upload
folder, before Gradio sees the request. Handlers then ``claim`` each file from the ledger (the
same rule, checked again where the file is used).
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError
from .limits import Receive, Scope, Send, send_error
from .web_sessions import WebSessions

# How long an upload may wait for the handler that uses it (a user uploads, then clicks Ingest).
UPLOAD_CLAIM_TTL_S = 6 * 3600.0
MAX_LEDGER_ENTRIES = 100_000
REFUSED = "file refused: only files you uploaded to this app can be used"


@dataclass
class UploadLedger:
    """Which user uploaded which file into ``folder`` (resolved real paths)."""

    folder: Path
    ttl_s: float = UPLOAD_CLAIM_TTL_S
    _owner: dict[str, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.folder = Path(os.path.realpath(self.folder))

    def _inside(self, path: str) -> str | None:
        real = os.path.realpath(path)
        return real if Path(real).is_relative_to(self.folder) and real != str(self.folder) else None

    def record(self, owner: str, paths: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._owner) > MAX_LEDGER_ENTRIES:
                self._owner = {p: v for p, v in self._owner.items() if now - v[1] < self.ttl_s}
            for path in paths:
                real = self._inside(path)
                if real is not None:
                    self._owner[real] = (owner, now)

    def owns(self, owner: str, path: str) -> bool:
        real = self._inside(path)
        with self._lock:
            entry = self._owner.get(real or "")
        return entry is not None and entry[0] == owner and time.monotonic() - entry[1] < self.ttl_s

    def claim(self, owner: str, path: str) -> Path:
        """The file, once: it must be ``owner``'s upload in the folder; InputError otherwise."""
        if not self.owns(owner, path):
            raise InputError(REFUSED)
        real = self._inside(path) or ""
        with self._lock:
            self._owner.pop(real, None)
        return Path(real)


def file_values(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in an event's data that names a file (has a ``path``), however deep."""
    if isinstance(value, dict):
        if "path" in value:
            yield value
        for item in value.values():
            yield from file_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_values(item)


class FileGuard:
    """ASGI middleware in front of the mounted Gradio app: records uploads, refuses foreign file values."""

    def __init__(self, app: Any, ledger: UploadLedger, sessions: WebSessions):
        self.app = app
        self.ledger = ledger
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "POST" or "/gradio_api/" not in path:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        owner = self.sessions.user(headers) or ""
        if path.rstrip("/").endswith("/gradio_api/upload"):
            await self.app(scope, receive, self._recording(send, owner))
            return
        if headers.get("content-type", "").lower().startswith("multipart/"):  # only /upload takes files as parts
            await self.app(scope, receive, send)
            return
        body, messages = await _read_body(receive)
        try:
            data = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            data = None  # not JSON (whatever its content type says): Gradio answers malformed bodies itself
        for value in file_values(data):
            named = value.get("path")
            if not isinstance(named, str) or not self.ledger.owns(owner, named):
                await send_error(send, 403, REFUSED)
                return

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _recording(self, send: Send, owner: str) -> Send:
        """Pass the upload's response through, recording the paths it names when it succeeded."""
        state: dict[str, Any] = {"status": 0, "body": b""}

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body" and state["status"] == 200:
                state["body"] += message.get("body", b"")
                if not message.get("more_body", False):
                    try:
                        paths = json.loads(state["body"])
                    except (ValueError, UnicodeDecodeError):
                        paths = []
                    if isinstance(paths, list):
                        self.ledger.record(owner, [p for p in paths if isinstance(p, str)])
            await send(message)

        return wrapped


async def _read_body(receive: Receive) -> tuple[bytes, list[dict[str, Any]]]:
    """The whole request body (its size was bounded by ``LimitsMiddleware``), and its messages to replay."""
    messages: list[dict[str, Any]] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return body, messages
