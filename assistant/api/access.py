"""Who calls the API and what they may see: the principal, its collections, the collection an
upload goes into, and HTTP Basic checks remembered briefly (scrypt's cost once per client)."""
from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from typing import NamedTuple

from fastapi import Request

from ..auth import Users
from ..errors import InputError, NewsroomError


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


class Credentials:
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
