"""Metadata normalization: dates with time zones, language codes, plain strings."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone

from dateutil import parser as dateparser


class MetadataError(ValueError):
    """A metadata field has a value that cannot be understood."""


def parse_datetime(value: object, field: str = "published") -> datetime | None:
    """Parse a date or datetime into an aware datetime (UTC when the source has no zone).

    Accepts ISO 8601, RFC 2822 (feeds, mail) and epoch seconds. Empty means unknown.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), tz=timezone.utc)
    elif isinstance(value, str):
        try:
            dt = dateparser.parse(value.strip())
        except (ValueError, OverflowError) as exc:
            raise MetadataError(f"field '{field}': cannot read date {value[:40]!r}") from exc
    else:
        raise MetadataError(f"field '{field}': expected a date string, got {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def clean_text(value: object) -> str:
    """NFC-normalized text without control characters (tabs and newlines kept)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C" or ch == "\u200d")


def normalize_lang(code: str) -> str:
    """'zh-CN' -> 'zh', 'EN_us' -> 'en'."""
    return re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0] if code else ""
