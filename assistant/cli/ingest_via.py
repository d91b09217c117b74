"""`newsroom ingest --via URL`: send files to a running app's ``POST /api/ingest``.

The embedded store is held by one process; while the app holds it, files go through
the app. Folders are expanded here as a local ingest would; files travel in requests
of at most ``max_upload_mb`` (the server's default body limit) and 64 files, and the
reports come back merged into one. Each file is sent under its absolute path, which
the server uses as the file's name in reports, ``source_path`` and derived ids, as a
local ingest of the same file would; its modification time goes along (``Last-Modified``).
"""
from __future__ import annotations

import time
from contextlib import ExitStack
from email.utils import formatdate
from pathlib import Path
from typing import Callable, Iterable

import httpx

from ingest.pipeline import IngestReport, iter_files

from ..errors import BackendError, InputError
from ..settings import Settings

FILES_PER_REQUEST = 64


def _batches(files: list[Path], limit: int) -> Iterable[list[Path]]:
    batch: list[Path] = []
    size = 0
    for path in files:
        n = path.stat().st_size
        if batch and (size + n > limit or len(batch) >= FILES_PER_REQUEST):
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += n
    if batch:
        yield batch


def _merge(total: IngestReport, part: dict) -> None:
    for key in ("ingested", "unchanged", "updated", "chunks"):
        setattr(total, key, getattr(total, key) + int(part.get(key, 0)))
    total.failed.extend({"path": str(f.get("path", "")), "error": str(f.get("error", ""))} for f in part.get("failed", []))


def _error(url: str, response: httpx.Response) -> str:
    try:
        message = response.json().get("error") or response.text
    except ValueError:
        message = response.text
    return " ".join(str(message).split())[:300] or f"HTTP {response.status_code}"


def ingest_via(url: str, paths: Iterable[Path], settings: Settings, collection: str | None = None,
               progress: Callable[[IngestReport], None] | None = None, timeout: float = 3600.0) -> IngestReport:
    """Send ``paths`` (files, and the supported files inside folders) to the app at ``url``."""
    base = url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise InputError(f"--via needs an http:// or https:// address, not {url!r}")
    report = IngestReport()
    started = time.perf_counter()
    limit = int(settings.max_upload_mb * 1024 * 1024)
    files: list[Path] = []
    for path in iter_files([Path(p) for p in paths]):
        if not path.is_file():
            report.fail(str(path), "no such file or folder")
        elif path.stat().st_size > limit:
            report.fail(str(path), f"file is over the {settings.max_upload_mb:g} MB upload limit (NEWSROOM_MAX_UPLOAD_MB)")
        else:
            files.append(path)
    auth = (settings.api_user, settings.api_password) if settings.api_user else None
    data = {"collection": collection} if collection else {}
    with httpx.Client(auth=auth, timeout=httpx.Timeout(timeout, connect=10.0)) as client:
        for batch in _batches(files, limit):
            with ExitStack() as stack:
                parts = [("files", (str(p.resolve()), stack.enter_context(open(p, "rb")), "application/octet-stream",
                                    {"Last-Modified": formatdate(p.stat().st_mtime, usegmt=True)}))
                         for p in batch]
                try:
                    response = client.post(f"{base}/api/ingest", files=parts, data=data)
                except httpx.HTTPError as exc:
                    raise BackendError(f"cannot reach the app at {base}: {exc}") from exc
            if response.status_code == 401:
                raise BackendError(f"the app at {base} asks for a login: set NEWSROOM_API_USER and NEWSROOM_API_PASSWORD")
            if response.status_code == 413 and len(batch) == 1:
                report.fail(str(batch[0]), _error(base, response))
                continue
            if response.status_code != 200:
                raise BackendError(f"the app at {base} refused the files (HTTP {response.status_code}): {_error(base, response)}")
            _merge(report, response.json())
            report.elapsed = time.perf_counter() - started
            if progress:
                progress(report)
    report.elapsed = time.perf_counter() - started
    return report
