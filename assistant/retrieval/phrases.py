"""Exact-phrase look-up: every article whose text holds the wording, earliest first."""
from __future__ import annotations

from ..store.interface import ArticleKey, SearchFilter, Store
from ..text.folding import fold
from .passage import Passage


def find_phrase(phrase: str, store: Store, flt: SearchFilter, limit: int = 100_000) -> list[Passage]:
    """Every article whose text contains the wording, earliest first: one passage per article.

    The store's text index finds candidates (phrase match, or the raw substring for CJK the
    tokenizer splits differently); each is confirmed by a substring test on folded text, so a
    result always contains the words. Undated articles come last.
    """
    needle = fold(phrase)
    if not needle:
        return []
    first: dict[ArticleKey, Passage] = {}
    for hit in store.phrase(phrase, flt, limit):
        p = Passage.from_hit(hit)
        if needle not in fold(p.text):
            continue
        seen = first.get(p.key)
        if seen is None or p.start < seen.start:
            first[p.key] = p
    return sorted(first.values(), key=lambda p: (p.published is None, p.published or "", p.article_id, p.collection))
