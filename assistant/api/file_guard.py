"""The guard in front of the mounted Gradio app: it records each user's uploads in the web app's
ledger (``web/files.py``) and refuses any event whose file values name another path."""
from __future__ import annotations

import json
from typing import Any, Iterator

from ..web.files import REFUSED, UploadLedger
from ..web.sessions import WebSessions
from .limits import Receive, Scope, Send, send_error


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
