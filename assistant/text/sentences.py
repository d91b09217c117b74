"""Paragraph and sentence spans with exact character offsets, in every script.

Sentences end at . ! ? ; … ؟ । followed by white space, and directly after 。！？；; a period
after an abbreviation or before a lowercase word does not end one. No boundary falls inside a
character sequence that reads as one (a letter and its combining marks, an emoji joined by ZWJ,
a surrogate pair). Every pattern runs in linear time: archive text is untrusted, and a run of
40,000 dots must not hang.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A sentence ends after terminal punctuation (plus closing quotes/brackets) that is
# followed by whitespace, or directly after a full-width terminator. The run of marks
# is matched from its first mark only and possessively: no quadratic backtracking.
_SENTENCE_END_RE = re.compile(
    r"(?:(?<![.!?;…؟।])[.!?;…؟।]++(?:[\"'”’)\]]|[ \u00a0\u202f]?»)*(?=\s)|(?<![。！？；])[。！？；]++[”’」』）】\"']*+)",
    re.UNICODE,
)
_ZWJ = "\u200d"
_PARAGRAPH_RE = re.compile(r"\n\s*\n|\n")
# A period after these does not end a sentence (titles, company forms, initials).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st co corp inc ltd plc llc no vs etc e.g i.e cf al fig approx dept gen gov sen rep "
    "jan feb mar apr jun jul aug sep sept oct nov dec m mme mlle mm sra sr srta dra av art p pp".split()
)
_WORD_BEFORE_RE = re.compile(r"([^\W\d_]+(?:\.[^\W\d_]+)*)\.+$", re.UNICODE)


def _attaches(ch: str) -> bool:
    """A character that belongs to the one before it: combining mark, variation
    selector, emoji skin tone or tag, or a low surrogate."""
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
        or "\U000e0020" <= ch <= "\U000e007f"
        or "\udc00" <= ch <= "\udfff"
    )


def safe_cut(text: str, i: int) -> bool:
    """True when ``text`` may be cut at ``i`` without splitting what reads as one character."""
    if i <= 0 or i >= len(text):
        return True
    before, after = text[i - 1], text[i]
    if before.isspace() or after.isspace():
        return True
    if before == _ZWJ or _attaches(after) or after == _ZWJ:
        return False
    return True


def _is_boundary(text: str, end: int, hi: int) -> bool:
    """Reject a '.'-style boundary after an abbreviation or before a lowercase word."""
    if not safe_cut(text, end):
        return False
    mark = text[end - 1]
    if mark in "。！？；!?;؟।":
        return True
    j = end
    while j < hi and text[j].isspace():
        j += 1
    if j < hi and (text[j].islower() or text[j] in "(,;:"):
        return False
    word = _WORD_BEFORE_RE.search(text, max(0, end - 20), end)
    if word:
        w = word.group(1)
        if w.lower() in _ABBREVIATIONS or (len(w) == 1 and w.isupper()):
            return False
    return True


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def paragraphs(text: str) -> list[Span]:
    spans: list[Span] = []
    pos = 0
    for m in _PARAGRAPH_RE.finditer(text):
        span = trimmed(text, pos, m.start())
        if span:
            spans.append(span)
        pos = m.end()
    span = trimmed(text, pos, len(text))
    if span:
        spans.append(span)
    return spans


def sentences(text: str, within: Span | None = None) -> list[Span]:
    """Sentence spans of ``text`` (or of one span of it), whitespace trimmed."""
    lo, hi = (within.start, within.end) if within else (0, len(text))
    spans: list[Span] = []
    pos = lo
    for m in _SENTENCE_END_RE.finditer(text, lo, hi):
        stripped_end = m.end()
        while text[stripped_end - 1] in "\"'”’»)]」』）】 \u00a0\u202f":
            stripped_end -= 1
        if not safe_cut(text, m.end()) or not _is_boundary(text, stripped_end, hi):
            continue
        span = trimmed(text, pos, m.end())
        if span:
            spans.append(span)
        pos = m.end()
    span = trimmed(text, pos, hi)
    if span:
        spans.append(span)
    return spans
