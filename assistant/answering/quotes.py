"""Quote look-up: where a quotation or figure appears in the archive, earliest first.

Exact occurrences come from two places so that no script is missed: the text index's
phrase match (word-segmented languages) and the BM25 leg (which also indexes CJK
bigrams); every candidate is then confirmed by a substring match on normalized text,
so a hit always contains the words. When nothing matches exactly, sentences with
nearly the same wording (or a close translation) are returned, marked as such.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..embedders.interface import Embedder
from ..embedders.sparse import query_vector
from ..retrieval.passage import Passage
from ..store.interface import SearchFilter, Store
from ..text.sentences import sentences
from ..text.words import NOT_NAMES, SPEAKER_PATTERNS

_QUOTE_MARKS = "\"'“”‘’«»„‟‹›「」『』《》〈〉"
_SPACE_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Case-, width- and quote-mark-insensitive form used for matching."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate({ord(c): " " for c in _QUOTE_MARKS})
    return _SPACE_RE.sub(" ", text).strip()


def _normalized_with_map(text: str) -> tuple[str, list[int]]:
    """``normalize`` of text, plus for each output character its offset in ``text``."""
    out: list[str] = []
    where: list[int] = []
    prev_space = True
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if c in _QUOTE_MARKS or c.isspace():
                if prev_space:
                    continue
                c, prev_space = " ", True
            else:
                prev_space = False
            out.append(c)
            where.append(i)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def speaker(context: str) -> str | None:
    """Who the text says spoke, when the sentence says so; None otherwise."""
    for pattern in SPEAKER_PATTERNS:
        for m in pattern.finditer(context):
            who = m.group("who").strip(" ,.")
            if who.split()[0] not in NOT_NAMES:
                return who
    return None


@dataclass
class QuoteHit:
    quote: str  # the sentence that holds the words
    quote_start: int  # offsets of that sentence in the article body
    quote_end: int
    match_start: int  # offsets of the words themselves in the article body
    match_end: int
    exact: bool
    speaker: str | None
    passage: Passage

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("quote", "quote_start", "quote_end", "match_start", "match_end", "exact", "speaker")}
        out["passage"] = self.passage.to_dict()
        return out


@dataclass
class QuoteResult:
    words: str
    hits: list[QuoteHit] = field(default_factory=list)
    exact: bool = True  # False: nothing matched exactly; the hits are close wordings

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words, "exact": self.exact, "count": len(self.hits), "hits": [h.to_dict() for h in self.hits]}


def _sentence_around(p: Passage, start: int, end: int) -> tuple[str, int, int]:
    """The passage sentence(s) covering [start, end) (offsets inside the passage text)."""
    spans = [s for s in sentences(p.text) if s.end > start and s.start < end] or []
    if not spans:
        return p.text, 0, len(p.text)
    return p.text[spans[0].start : spans[-1].end], spans[0].start, spans[-1].end


def exact_hits(words: str, passages: list[Passage]) -> list[QuoteHit]:
    """Every occurrence of the words in the passages; one hit per place in an article."""
    needle = normalize(words)
    seen: set[tuple[tuple[str, str], int]] = set()
    hits: list[QuoteHit] = []
    for p in passages:
        hay, where = _normalized_with_map(p.text)
        pos = hay.find(needle)
        while pos >= 0 and needle:
            start, end = where[pos], where[pos + len(needle) - 1] + 1
            key = (p.key, p.start + start)
            if key not in seen:  # chunks overlap: the same place can be in two of them
                seen.add(key)
                sent, s0, s1 = _sentence_around(p, start, end)
                hits.append(QuoteHit(sent, p.start + s0, p.start + s1, p.start + start, p.start + end, True,
                                     speaker(sent) or speaker(p.text[max(0, s0 - 200) : s1 + 200]), p))
            pos = hay.find(needle, pos + 1)
    return hits


def close_hits(words: str, passages: list[Passage], embedder: Embedder, threshold: float) -> list[QuoteHit]:
    """Sentences whose wording is close to the words (paraphrase or translation)."""
    cands = [(p, s) for p in passages for s in sentences(p.text)]
    if not cands:
        return []
    vecs = embedder.embed_passages([p.text[s.start : s.end] for p, s in cands])
    qvec = embedder.embed_query(words)
    sims = vecs @ np.asarray(qvec, dtype=np.float32)
    hits = []
    for (p, s), sim in zip(cands, sims):
        if sim >= threshold:
            sent = p.text[s.start : s.end]
            hits.append(QuoteHit(sent, p.start + s.start, p.start + s.end, p.start + s.start, p.start + s.end, False,
                                 speaker(sent), p))
    return hits


def chronological(hits: list[QuoteHit]) -> list[QuoteHit]:
    return sorted(hits, key=lambda h: (h.passage.published or "9999", h.passage.article_id, h.match_start))


def candidates(words: str, store: Store, flt: SearchFilter, limit: int) -> list[Passage]:
    """Chunks that may hold the words: phrase matches plus the best BM25 matches."""
    found: dict[str, Passage] = {}
    for hit in store.phrase(words, flt, limit):
        found.setdefault(hit.id, Passage.from_hit(hit))
    sparse = query_vector(words)
    if sparse[0]:
        for hit in store.query({}, sparse, flt, limit=limit, candidates=limit):
            found.setdefault(hit.id, Passage.from_hit(hit))
    return list(found.values())
