"""Files the web app may hand to a handler: only those this user uploaded to this app.

Gradio checks that a file value points into its upload cache only in an app it started with
``launch()``; mounted on our server (``mount_gradio_app``) it takes any path a client names,
and copies that file into its cache before the handler runs. So the server keeps its own
ledger: every file Gradio's ``/upload`` route stored is recorded against the user who sent it
(``WebSessions``: the login Gradio verified; "" with logins off), and ``FileGuard``
(``api/file_guard.py``) refuses any event whose file values name a path that is not this user's
own upload in the app's upload folder, before Gradio sees the request. Handlers then ``claim``
each file from the ledger (the same rule, checked again where the file is used).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

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
