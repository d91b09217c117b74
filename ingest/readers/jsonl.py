"""JSON Lines exports (CMS dumps, the shared corpora): one article per line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ..article import Article, derived_article_id
from ..normalize import MetadataError, clean_text, detect_language, normalize_lang, parse_datetime
from .base import ReaderError, ReadFailure, ReadResult, decode_bytes

# Our field <- accepted names in the export, first match wins.
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "guid", "article_id", "uid"),
    "title": ("title", "headline"),
    "body": ("body", "text", "content", "article_body"),
    "url": ("url", "link", "canonical_url"),
    "published": ("published", "date", "published_at", "pubdate", "datePublished"),
    "source": ("source", "outlet", "publisher", "site_name"),
    "lang": ("lang", "language"),
    "authors": ("authors", "author", "byline"),
    "section": ("section", "category", "desk"),
    "collection": ("collection",),
    "embargo_until": ("embargo_until", "embargo"),
}


def _pick(row: dict[str, Any], field: str) -> Any:
    for name in FIELDS[field]:
        if row.get(name) not in (None, ""):
            return row[name]
    return None


def article_from_record(row: dict[str, Any], where: str, source_path: str, fallback_id: str) -> Article:
    """Map one export record onto an Article; raises MetadataError naming the bad field."""
    body = clean_text(_pick(row, "body")).strip()
    if not body:
        raise MetadataError(f"field 'body' is missing or empty")
    title = clean_text(_pick(row, "title")).strip()
    authors_raw = _pick(row, "authors") or []
    authors = [clean_text(a).strip() for a in (authors_raw if isinstance(authors_raw, list) else str(authors_raw).split(","))]
    raw_id = _pick(row, "id")
    lang = normalize_lang(str(_pick(row, "lang") or "")) or detect_language(title + "\n" + body)
    extra = {k: str(v) for k, v in row.items() if isinstance(v, (str, int, float)) and not any(k in names for names in FIELDS.values())}
    return Article(
        id=str(raw_id) if raw_id is not None else fallback_id,
        title=title or body.split("\n", 1)[0][:120],
        body=body,
        url=clean_text(_pick(row, "url")).strip(),
        published=parse_datetime(_pick(row, "published")),
        source=clean_text(_pick(row, "source")).strip(),
        authors=[a for a in authors if a],
        lang=lang,
        section=clean_text(_pick(row, "section")).strip(),
        collection=clean_text(_pick(row, "collection")).strip() or "default",
        embargo_until=parse_datetime(_pick(row, "embargo_until"), "embargo_until"),
        source_path=source_path,
        extra=extra,
    )


class JsonlReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        text = decode_bytes(path.read_bytes(), str(path))
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ReaderError("expected a JSON object")
                yield article_from_record(row, where, str(path), derived_article_id(str(path), str(number)))
            except (ValueError, ReaderError, MetadataError) as exc:
                yield ReadFailure(where, f"{exc}")
