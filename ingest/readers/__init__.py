"""One reader per format family; ``reader_for(path)`` picks one by file name."""
from __future__ import annotations

from pathlib import Path

from .base import Reader, ReadFailure, ReaderError, ReadResult
from .html import HtmlReader
from .jsonl import JsonlReader
from .text import MarkdownReader, TextReader

_REGISTRY: dict[str, Reader] = {
    ".jsonl": JsonlReader(),
    ".ndjson": JsonlReader(),
    ".txt": TextReader(),
    ".text": TextReader(),
    ".md": MarkdownReader(),
    ".markdown": MarkdownReader(),
    ".html": HtmlReader(),
    ".htm": HtmlReader(),
}


def supported_suffixes() -> list[str]:
    return sorted(_REGISTRY)


def reader_for(path: Path) -> Reader | None:
    return _REGISTRY.get(path.suffix.lower())


__all__ = ["Reader", "ReadFailure", "ReaderError", "ReadResult", "reader_for", "supported_suffixes"]
