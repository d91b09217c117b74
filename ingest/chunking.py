"""Paragraph- and sentence-aware chunking with exact character offsets.

Works for every script: CJK text has no spaces between words, so tokens are
estimated per character there and sentences end at 。！？ as well as . ! ? ؟ ।.
Every chunk satisfies ``body[chunk.start:chunk.end] == chunk.text``, and no chunk or
sentence boundary falls inside a character sequence that reads as one (a letter and
its combining marks, an emoji joined by ZWJ, a surrogate pair). Every pattern runs
in linear time: archive text is untrusted, and a run of 40,000 dots must not hang.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from assistant.unicode_ranges import CJK

# One token per CJK/kana/hangul character, one per word or number elsewhere (a run
# of more than MAX_WORD_CHARS letters, as in Thai or a base64 blob, counts one token
# per MAX_WORD_CHARS so that no "word" can make a chunk unbounded), one per other
# symbol: close to what multilingual subword tokenizers count.
MAX_WORD_CHARS = 24
_TOKEN_RE = re.compile(rf"[{CJK}]|[^\W{CJK}]{{1,{MAX_WORD_CHARS}}}|[^\w\s]", re.UNICODE)
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


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start: int
    end: int


def count_tokens(text: str) -> int:
    """Approximate subword tokens in any script (no tokenizer download needed)."""
    return len(_TOKEN_RE.findall(text))


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def paragraphs(text: str) -> list[Span]:
    spans: list[Span] = []
    pos = 0
    for m in _PARAGRAPH_RE.finditer(text):
        span = _trimmed(text, pos, m.start())
        if span:
            spans.append(span)
        pos = m.end()
    span = _trimmed(text, pos, len(text))
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
        span = _trimmed(text, pos, m.end())
        if span:
            spans.append(span)
        pos = m.end()
    span = _trimmed(text, pos, hi)
    if span:
        spans.append(span)
    return spans


def _split_long(text: str, span: Span, max_tokens: int) -> list[Span]:
    """Cut a sentence longer than max_tokens at token boundaries.

    A cut never separates a letter from its combining marks (or an emoji sequence):
    it moves back to an earlier token start, or forward only when a single such
    sequence is longer than max_tokens.
    """
    starts = [m.start() for m in _TOKEN_RE.finditer(text, span.start, span.end)]
    cuts = [span.start]
    prev = 0
    while prev + max_tokens < len(starts):
        i = prev + max_tokens
        while i > prev and not safe_cut(text, starts[i]):
            i -= 1
        if i == prev:
            i = prev + max_tokens
            while i < len(starts) and not safe_cut(text, starts[i]):
                i += 1
            if i == len(starts):
                break
        cuts.append(starts[i])
        prev = i
    cuts.append(span.end)
    pieces = [p for p in (_trimmed(text, a, b) for a, b in zip(cuts, cuts[1:])) if p]
    return pieces or [span]


def chunk_text(
    text: str,
    max_tokens: int = 320,
    min_tokens: int = 200,
    overlap_tokens: int = 50,
) -> list[Chunk]:
    """Pack sentences into chunks of about min..max tokens.

    A chunk closes at a paragraph end once it holds min_tokens, and never grows past
    max_tokens. The next chunk repeats the previous chunk's last sentence when that
    sentence is at most overlap_tokens long, so a fact cut at a boundary is whole in
    one of the two chunks.
    """
    units: list[tuple[Span, int, bool]] = []  # sentence, tokens, ends a paragraph
    for para in paragraphs(text):
        sents = sentences(text, para)
        for i, sent in enumerate(sents):
            n = count_tokens(text[sent.start : sent.end])
            last = i == len(sents) - 1
            if n > max_tokens:
                parts = _split_long(text, sent, max_tokens)
                for j, part in enumerate(parts):
                    units.append((part, count_tokens(text[part.start : part.end]), last and j == len(parts) - 1))
            else:
                units.append((sent, n, last))

    chunks: list[Chunk] = []
    current: list[tuple[Span, int, bool]] = []
    size = 0

    def close() -> None:
        start, end = current[0][0].start, current[-1][0].end
        chunks.append(Chunk(len(chunks), text[start:end], start, end))

    for unit in units:
        if current and size + unit[1] > max_tokens:
            close()
            tail = current[-1]
            current, size = ([tail], tail[1]) if tail[1] <= overlap_tokens and tail[1] + unit[1] <= max_tokens else ([], 0)
        current.append(unit)
        size += unit[1]
        if unit[2] and size >= min_tokens:
            close()
            current, size = [], 0
    if current:
        # A short tail that only repeats the overlap sentence adds nothing.
        if not (chunks and current[-1][0].end <= chunks[-1].end):
            close()
    return chunks
