"""Metadata normalization: dates with time zones, languages, plain strings."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from functools import lru_cache

from dateutil import parser as dateparser

_ZH_HANT_HINT = re.compile(r"[\u4e00-\u9fff]")


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


@lru_cache(maxsize=1)
def _langid():
    import py3langid

    return py3langid


def detect_language(text: str) -> str:
    """Best-guess ISO 639-1 language of a text, offline (py3langid's bundled model).

    Mixed-language articles get the language of the majority of their text; CJK
    characters are weighed per character since they carry a word each.
    """
    sample = text[:4000]
    if not sample.strip():
        return ""
    cjk = len(_ZH_HANT_HINT.findall(sample))
    letters = sum(1 for ch in sample if ch.isalpha())
    if letters and cjk / letters > 0.3:
        return "zh"
    lang, _ = _langid().classify(sample)
    return lang
