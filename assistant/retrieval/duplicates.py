"""Near-duplicate collapse: one story copied by several outlets is one result, its copies listed."""
from __future__ import annotations

import re

from ..store.interface import ArticleKey
from ..text.folding import fold
from ..text.scripts import CJK_CHAR
from .passage import Passage


def shingles(text: str) -> set[str]:
    """Word 3-grams (character 4-grams where the text is mostly CJK) of the folded text."""
    folded = fold(text)
    if len(CJK_CHAR.findall(folded)) * 2 > len(folded.replace(" ", "")):
        chars = folded.replace(" ", "")
        return {chars[i : i + 4] for i in range(len(chars) - 3)}
    words = re.findall(r"\w+", folded)
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


def near_duplicate(a: set[str], b: set[str], threshold: float) -> bool:
    """Most of the shorter text's shingles are in the other (a copy, trimmed or lightly edited)."""
    small = min(len(a), len(b))
    return small >= 8 and len(a & b) >= threshold * small


def collapse_duplicates(passages: list[Passage], threshold: float, keep: int, lookahead: int) -> list[Passage]:
    """Keep rank order; an article whose passage copies a better-ranked article's passage is
    folded into that result (its outlet, date and link listed in ``duplicates``), all its chunks.

    Stops ``lookahead`` passages after the ``keep``-th distinct one (what is shown), so the
    cost stays bounded by the page size, not the candidate count.
    """
    kept: list[tuple[Passage, set[str]]] = []
    folded_into: dict[ArticleKey, Passage] = {}
    out: list[Passage] = []
    stop = len(passages)
    for i, p in enumerate(passages):
        if i >= stop:
            break
        if p.key in folded_into:
            continue
        sh = shingles(p.text)
        twin = next((k for k, ksh in kept if k.key != p.key and near_duplicate(sh, ksh, threshold)), None)
        if twin is not None:
            folded_into[p.key] = twin
            twin.duplicates.append({"article_id": p.article_id, "title": p.title, "source": p.source,
                                    "published": p.published, "url": p.url, "lang": p.lang})
            continue
        if len(out) < keep:
            kept.append((p, sh))
            if len(out) == keep - 1:
                stop = min(stop, i + 1 + lookahead)
        out.append(p)
    return out
