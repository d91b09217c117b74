"""JSON Lines exports (CMS dumps, the shared corpora): one article per line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from assistant.text.language import detect_language

from ..article import Article, derived_article_id, derived_title
from ..normalize import MetadataError, clean_text, normalize_lang, parse_datetime
from .base import ReaderError, ReadFailure, ReadResult, decode_bytes, display_path

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


def parse_mapping(spec: str) -> dict[str, str]:
    """'title=Headline, body=Story Text' -> {'title': 'Headline', 'body': 'Story Text'}."""
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        if "=" in part:
            ours, theirs = part.split("=", 1)
            if ours.strip() not in FIELDS:
                raise ReaderError(f"field mapping names unknown field '{ours.strip()}'; known: {', '.join(FIELDS)}")
            mapping[ours.strip()] = theirs.strip()
    return mapping


_default_mapping: dict[str, str] = {}


def set_default_mapping(spec: str) -> None:
    """Set the mapping used when a reader is given none (NEWSROOM_FIELD_MAP, via the pipeline)."""
    global _default_mapping
    _default_mapping = parse_mapping(spec)


def field_mapping(explicit: dict[str, str] | None) -> dict[str, str]:
    """The export-column mapping: given explicitly, else NEWSROOM_FIELD_MAP ('title=Headline,body=Story')."""
    if explicit is not None:
        for ours in explicit:
            if ours not in FIELDS:
                raise ReaderError(f"field mapping names unknown field '{ours}'; known: {', '.join(FIELDS)}")
        return dict(explicit)
    return dict(_default_mapping)


def apply_mapping(row: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Rename the export's columns to our field names (the mapping wins over FIELDS' aliases)."""
    if not mapping:
        return row
    out = {k: v for k, v in row.items() if k not in mapping.values()}
    for ours, theirs in mapping.items():
        if theirs in row:
            for alias in FIELDS[ours]:
                out.pop(alias, None)
            out[ours] = row[theirs]
    return out


def _pick(row: dict[str, Any], field: str) -> Any:
    for name in FIELDS[field]:
        if row.get(name) not in (None, ""):
            return row[name]
    return None


def _text(row: dict[str, Any], field: str) -> str:
    """A text field: a string (or a number, as exports write ids and years); anything else is refused."""
    value = _pick(row, field)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MetadataError(f"field '{field}': expected text, got {'a JSON ' + type(value).__name__ if not isinstance(value, bool) else 'true/false'}")
    return clean_text(value).strip()


def _date(row: dict[str, Any], field: str):
    """A date field; an out-of-range epoch or year is this field's error, not the file's."""
    try:
        return parse_datetime(_pick(row, field), field)
    except (OverflowError, OSError) as exc:
        raise MetadataError(f"field '{field}': date out of range ({exc})") from exc
    except ValueError as exc:
        if isinstance(exc, MetadataError):
            raise
        raise MetadataError(f"field '{field}': {exc}") from exc


def article_from_record(row: dict[str, Any], where: str, source_path: str, fallback_id: str) -> Article:
    """Map one export record onto an Article; raises MetadataError naming the bad field."""
    body = _text(row, "body")
    if not body:
        raise MetadataError("field 'body' is missing or empty")
    title = _text(row, "title")
    authors_raw = _pick(row, "authors") or []
    if isinstance(authors_raw, list) and not all(isinstance(a, str) for a in authors_raw) or isinstance(authors_raw, (dict, bool)):
        raise MetadataError("field 'authors': expected a name or a list of names")
    authors = [clean_text(a).strip() for a in (authors_raw if isinstance(authors_raw, list) else str(authors_raw).split(","))]
    raw_id = _pick(row, "id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (str, int, float))):
        raise MetadataError(f"field 'id': expected text or a number, got a JSON {type(raw_id).__name__}")
    lang = normalize_lang(_text(row, "lang")) or detect_language(title + "\n" + body)
    extra = {k: str(v) for k, v in row.items() if isinstance(v, (str, int, float)) and not any(k in names for names in FIELDS.values())}
    return Article(
        id=str(raw_id) if raw_id is not None else fallback_id,
        title=title or derived_title(body),
        body=body,
        url=_text(row, "url"),
        published=_date(row, "published"),
        source=_text(row, "source"),
        authors=[a for a in authors if a],
        lang=lang,
        section=_text(row, "section"),
        collection=_text(row, "collection") or "default",
        embargo_until=_date(row, "embargo_until"),
        source_path=source_path,
        extra=extra,
    )


class JsonlReader:
    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = mapping

    def read(self, path: Path) -> Iterator[ReadResult]:
        mapping = field_mapping(self.mapping)
        text = decode_bytes(path.read_bytes(), display_path(path))
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{display_path(path)}:{number}"
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ReaderError("expected a JSON object")
                yield article_from_record(apply_mapping(row, mapping), where, display_path(path), derived_article_id(display_path(path), str(number)))
            except (ValueError, ReaderError, MetadataError) as exc:
                yield ReadFailure(where, f"{exc}")
            except RecursionError:
                yield ReadFailure(where, "JSON nested too deeply to read")
