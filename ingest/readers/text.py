"""Plain text and Markdown files: one article each."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from assistant.text.language import detect_language

from ..article import Article, derived_article_id
from ..normalize import clean_text, normalize_lang, parse_datetime
from .base import ReaderError, ReadResult, decode_bytes, display_path, identity_path
from .unstructured_offline import partition_text_elements

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


def _file_date(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[match.end() :]


def _article(path: Path, title: str, body: str, meta: dict[str, str]) -> Article:
    body = body.strip()
    if not body:
        raise ReaderError(f"{display_path(path)}: no text in the file")
    return Article(
        id=meta.get("id") or derived_article_id(identity_path(path)),
        title=meta.get("title") or title or path.stem,
        body=body,
        url=meta.get("url", ""),
        published=parse_datetime(meta.get("date") or meta.get("published")) or _file_date(path),
        source=meta.get("source", ""),
        authors=[a.strip() for a in meta.get("authors", meta.get("author", "")).split(",") if a.strip()],
        lang=normalize_lang(meta.get("lang", "")) or detect_language(title + "\n" + body),
        section=meta.get("section", ""),
        collection=meta.get("collection", "default"),
        source_path=display_path(path),
    )


class TextReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        text = clean_text(decode_bytes(path.read_bytes(), display_path(path)))
        meta, text = _front_matter(text)
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        yield _article(path, first[:200], text, meta)


class MarkdownReader:
    """Markdown rendered to text by unstructured, so citations quote prose, not markup."""

    def read(self, path: Path) -> Iterator[ReadResult]:
        text = clean_text(decode_bytes(path.read_bytes(), display_path(path)))
        meta, text = _front_matter(text)
        elements = partition_text_elements(text, "md")
        title = next((e.text for e in elements if e.category == "Title"), "")
        yield _article(path, title, "\n\n".join(e.text for e in elements), meta)
