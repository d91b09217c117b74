"""Files sent to ``POST /api/ingest``: saved to a per-request folder, ingested, removed.

Uploads land under ``<data_dir>/uploads/<random>/`` with sanitized names (never a path
outside that folder), each limited to ``max_file_mb`` (and the server's upload limit)
while it is copied; the report names every file by the name it was sent with. A part's
``Last-Modified`` header becomes the copy's modification time (plain text and Markdown
files take their date from it), so sending a file again finds it unchanged.
"""
from __future__ import annotations

import os
import re
import shutil
import unicodedata
import uuid
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from ingest.pipeline import IngestReport

from .service import Assistant

_COPY_BLOCK = 1 << 20
_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)


class Upload(Protocol):
    """What an uploaded file offers (Starlette's UploadFile)."""

    filename: str | None
    file: BinaryIO


def display_name(filename: str | None, index: int) -> str:
    """The name a file was sent with, made printable (it appears in reports and source paths)."""
    name = "".join(ch for ch in (filename or "") if unicodedata.category(ch)[0] != "C").strip()
    return name[:500] or f"upload-{index + 1}"


def disk_name(name: str, index: int) -> str:
    """A safe file name for the temporary copy: the last path part, plain characters, suffix kept."""
    base = re.split(r"[\\/]", name)[-1]
    base = _UNSAFE.sub("_", unicodedata.normalize("NFKC", base)).strip("._") or "file"
    stem, dot, suffix = base.rpartition(".")
    if dot and stem:
        base = f"{stem[:100]}.{suffix[:16].lower()}"
    return f"{index:04d}-{base[:120]}"


def _copy_limited(source: BinaryIO, dest: Path, limit: int) -> bool:
    """Copy at most ``limit`` bytes; False (and nothing kept) when the file is larger."""
    copied = 0
    with open(dest, "wb") as out:
        while block := source.read(_COPY_BLOCK):
            copied += len(block)
            if copied > limit:
                break
            out.write(block)
    if copied > limit:
        dest.unlink()
        return False
    return True


def _keep_mtime(upload: Upload, dest: Path) -> None:
    """Give the copy the time the sender's part names (``Last-Modified``): text files date by it."""
    value = (getattr(upload, "headers", None) or {}).get("last-modified")
    if not value:
        return
    try:
        stamp = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return
    os.utime(dest, (stamp, stamp))


def scrub_paths(report: IngestReport, names: dict[str, str], folder: Path) -> IngestReport:
    """Report lines name each file as it was sent; no server path (the temporary copy's folder) remains."""
    for line in report.failed:
        for key in ("path", "error"):
            text = line.get(key, "")
            for temp, name in sorted(names.items(), key=lambda item: -len(item[0])):
                text = text.replace(temp, name)
            line[key] = text.replace(str(folder), "…")
    return report


def ingest_uploads(assistant: Assistant, files: list[Upload], collection: str | None = None) -> IngestReport:
    """Save ``files`` to a temporary folder under the data folder, ingest them (no prune), delete them."""
    settings = assistant.settings
    limit_mb = min(settings.max_file_mb, getattr(settings, "max_upload_mb", settings.max_file_mb))
    root = (settings.data_dir / "uploads").resolve()
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        paths: list[Path] = []
        names: dict[str, str] = {}
        refused = IngestReport()
        for index, upload in enumerate(files):
            name = display_name(upload.filename, index)
            dest = folder / disk_name(name, index)
            if dest.resolve().parent != folder:  # cannot happen with disk_name; checked all the same
                refused.fail(name, "unsafe file name")
                continue
            if not _copy_limited(upload.file, dest, int(limit_mb * 1024 * 1024)):
                refused.fail(name, f"file is over the {limit_mb:g} MB upload limit")
                continue
            _keep_mtime(upload, dest)
            paths.append(dest)
            names[str(dest)] = name
        report = assistant.ingest(paths, names=names, collection=collection, untrusted=True) if paths else IngestReport()
        report.failed = refused.failed + report.failed
        return scrub_paths(report, names, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
