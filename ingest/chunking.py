"""Paragraph- and sentence-aware chunking with exact character offsets.

Works for every script: CJK text has no spaces between words, so tokens are
estimated per character there and sentences end at 。！？ as well as . ! ? ؟ ।.
Every chunk satisfies ``body[chunk.start:chunk.end] == chunk.text``, and no chunk or
sentence boundary falls inside a character sequence that reads as one (a letter and
its combining marks, an emoji joined by ZWJ, a surrogate pair). Every pattern runs
in linear time: archive text is untrusted, and a run of 40,000 dots must not hang.
"""
from __future__ import annotations

from dataclasses import dataclass

from assistant.text.sentences import Span, paragraphs, safe_cut, sentences, trimmed
from assistant.text.tokens import TOKEN_RE, count_tokens


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start: int
    end: int


def _split_long(text: str, span: Span, max_tokens: int) -> list[Span]:
    """Cut a sentence longer than max_tokens at token boundaries.

    A cut never separates a letter from its combining marks (or an emoji sequence):
    it moves back to an earlier token start, or forward only when a single such
    sequence is longer than max_tokens.
    """
    starts = [m.start() for m in TOKEN_RE.finditer(text, span.start, span.end)]
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
    pieces = [p for p in (trimmed(text, a, b) for a, b in zip(cuts, cuts[1:])) if p]
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
