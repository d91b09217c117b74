"""Citation checking: every [n] must name a given passage that supports its sentence.

Support is the best match between the answer sentence and any sentence of the cited
passage: the larger of the embedding cosine (works across languages) and the share of
the sentence's words found in that passage sentence (catches exact wording).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..embedders.interface import Embedder
from ..embedders.sparse import tokenize
from ..retrieval.passage import Passage
from ..text.scripts import CJK_CHAR
from ..text.sentences import sentences
from ..text.words import STOPWORDS

CITE_RE = re.compile(r"\s*\[(\d{1,3})\]")
_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\((\S+?)\)")
_URL_RE = re.compile(r"(?:https?|ftp|javascript|data):[^\s)\]>\"']+", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass
class Quote:
    """The passage sentence that best supports an answer sentence."""

    text: str
    start: int  # offsets in the article body
    end: int
    support: float


@dataclass
class CheckedSentence:
    text: str
    citations: list[int]
    supported: bool
    support: float
    quotes: dict[int, Quote] = field(default_factory=dict)
    novel: list[str] = field(default_factory=list)  # names/numbers its sources never mention


@dataclass
class CheckResult:
    sentences: list[CheckedSentence]
    removed: list[str]  # what was taken out, and why


def sanitize(text: str, allowed_urls: set[str]) -> tuple[str, list[str]]:
    """Remove images, markup and links that are not the sources' own URLs."""
    removed: list[str] = []

    def image(m: re.Match) -> str:
        removed.append(f"image removed: {m.group(0)[:80]}")
        return ""

    def link(m: re.Match) -> str:
        if m.group(2) not in allowed_urls:
            removed.append(f"link removed: {m.group(2)[:80]}")
        return f"[{m.group(1)}]" if m.group(1).isdigit() else m.group(1)  # "[1](url)" is a citation

    def url(m: re.Match) -> str:
        if m.group(0) in allowed_urls:
            return m.group(0)
        removed.append(f"link removed: {m.group(0)[:80]}")
        return ""

    def tag(m: re.Match) -> str:
        removed.append(f"markup removed: {m.group(0)[:80]}")
        return ""

    text = _IMAGE_RE.sub(image, text)
    text = _MD_LINK_RE.sub(link, text)
    text = _URL_RE.sub(url, text)
    text = _TAG_RE.sub(tag, text)
    return text, removed


_ENTITY_RE = re.compile(r"\d+(?:[.,]\d+)*|(?<=[\s(\"'«“])[A-ZÀ-ÖØ-Þ][\w'-]+")


def content_tokens(text: str) -> set[str]:
    """Words that carry meaning: no function words, no single CJK characters."""
    return {t for t in tokenize(text) if t not in STOPWORDS and (len(t) > 1 if not CJK_CHAR.match(t) else len(t) == 2)}


def novel_facts(claim: str, passages_text: str) -> list[str]:
    """Numbers and names in the claim that its cited passages never mention.

    Only checked when both are in the same kind of script: names and digits survive
    translation between Latin-script languages, not into Chinese.
    """
    if bool(CJK_CHAR.search(claim)) != bool(CJK_CHAR.search(passages_text)):
        return []
    haystack = " ".join(tokenize(passages_text))
    missing = []
    for m in _ENTITY_RE.finditer(" " + claim):
        token = " ".join(tokenize(m.group(0)))
        if token and token not in STOPWORDS and token not in haystack:
            missing.append(m.group(0))
    return missing


def _overlap(claim_tokens: set[str], passage_sentence: str) -> float:
    if not claim_tokens:
        return 0.0
    return len(claim_tokens & content_tokens(passage_sentence)) / len(claim_tokens)


def best_quotes(
    claims: list[str], cited: list[list[Passage]], embedder: Embedder
) -> list[dict[int, Quote]]:
    """For each claim and each passage it cites: the best-supporting sentence."""
    psents: dict[str, list[tuple[str, int, int]]] = {}
    for passages in cited:
        for p in passages:
            if p.chunk_id not in psents:
                psents[p.chunk_id] = [
                    (p.text[s.start : s.end], p.start + s.start, p.start + s.end) for s in sentences(p.text)
                ] or [(p.text, p.start, p.end)]
    flat = [s for ss in psents.values() for s in ss]
    vecs = embedder.embed_passages([c for c in claims] + [s[0] for s in flat]) if flat else np.zeros((0, 1))
    claim_vecs, sent_vecs = vecs[: len(claims)], vecs[len(claims) :]
    index = {}
    pos = 0
    for chunk_id, ss in psents.items():
        index[chunk_id] = (pos, pos + len(ss))
        pos += len(ss)
    out: list[dict[int, Quote]] = []
    for i, (claim, passages) in enumerate(zip(claims, cited)):
        ctoks = content_tokens(claim)
        quotes: dict[int, Quote] = {}
        for j, p in enumerate(passages):
            lo, hi = index[p.chunk_id]
            best: Quote | None = None
            for k in range(lo, hi):
                text, start, end = flat[k]
                score = max(float(sent_vecs[k] @ claim_vecs[i]), _overlap(ctoks, text))
                if best is None or score > best.support:
                    best = Quote(text, start, end, round(score, 4))
            if best:
                quotes[j] = best
        out.append(quotes)
    return out


def check_answer(
    text: str,
    passages: list[Passage],
    embedder: Embedder,
    threshold: float,
) -> CheckResult:
    """Split an answer into sentences, drop citations to passages not given, score support."""
    removed: list[str] = []
    # Each line (a list item, a paragraph) ends its sentence, full stop or not.
    raws = [line[s.start : s.end] for line in text.splitlines() for s in sentences(line)]
    parsed: list[tuple[str, list[int]]] = []
    for raw in raws:
        numbers: list[int] = []
        for m in CITE_RE.finditer(raw):
            n = int(m.group(1))
            if 1 <= n <= len(passages):
                if n not in numbers:
                    numbers.append(n)
            else:
                removed.append(f"citation [{n}] removed: no source {n} was given")
        clean = CITE_RE.sub("", raw).strip()
        if not clean:
            # A bare "[2]" after the sentence end belongs to the previous sentence.
            if parsed and numbers:
                parsed[-1][1].extend(n for n in numbers if n not in parsed[-1][1])
            continue
        parsed.append((clean, numbers))
    if not parsed:
        return CheckResult([], removed)
    cited = [[passages[n - 1] for n in nums] for _, nums in parsed]
    quotes = best_quotes([c for c, _ in parsed], cited, embedder)
    checked: list[CheckedSentence] = []
    for (clean, nums), qs, cited_passages in zip(parsed, quotes, cited):
        by_n = {nums[j]: q for j, q in qs.items()}
        support = max((q.support for q in by_n.values()), default=0.0)
        novel = novel_facts(clean, " ".join(p.title + " " + p.text for p in cited_passages)) if nums else []
        supported = bool(nums) and support >= threshold and not novel
        checked.append(CheckedSentence(clean, nums, supported, support, by_n, novel))
    return CheckResult(checked, removed)
