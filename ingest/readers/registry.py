"""The readers by file-name suffix: ``reader_for(path)`` picks one.

The package registers every format it reads on import (``ingest/readers/__init__.py``); the
archive and mail readers look their members and attachments up here.
"""
from __future__ import annotations

from pathlib import Path

from .base import Reader

_REGISTRY: dict[str, Reader] = {}


def supported_suffixes() -> list[str]:
    return sorted(_REGISTRY)


def reader_for(path: Path) -> Reader | None:
    return _REGISTRY.get(path.suffix.lower())


def register(suffix: str, reader: Reader) -> None:
    """Add or replace the reader for a suffix (e.g. a CsvReader with a field mapping)."""
    _REGISTRY[suffix.lower() if suffix.startswith(".") else "." + suffix.lower()] = reader
