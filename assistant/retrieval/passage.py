"""A retrieved passage, with everything a citation needs: what answers, citations and every face read."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..store.interface import ArticleKey, Hit


def safe_url(url: str | None) -> str:
    """A link only when it is a plain http(s) URL with a host; anything else (javascript:, data:,
    relative, spaced or quoted) becomes "". Applied to every passage, so no face shows another."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or re.search(r"[\s<>\"'`]", url):
        return ""
    return url


RESULT_KEYS = ("article_id", "chunk_id", "title", "source", "url", "published", "lang", "text", "start", "end", "score",
               "duplicates")


@dataclass
class Passage:
    """A retrieved chunk with everything a citation needs."""

    article_id: str
    chunk_id: str
    title: str
    source: str
    url: str
    published: str | None
    lang: str
    text: str
    start: int
    end: int
    score: float
    authors: list[str] = field(default_factory=list)
    collection: str = "default"
    # The same story elsewhere (near-identical text in other articles), collapsed into this result.
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    # Each embedder's own (language-centred) cosine, for the answerability test; not shown.
    legs: dict[str, float] = field(default_factory=dict, repr=False)

    @classmethod
    def from_hit(cls, hit: Hit) -> "Passage":
        p = hit.payload
        return cls(
            article_id=p.get("article_id", ""),
            chunk_id=p.get("chunk_id", hit.id),
            title=p.get("title", ""),
            source=p.get("source", ""),
            url=safe_url(p.get("url")),
            published=p.get("published"),
            lang=p.get("lang", ""),
            text=p.get("text", ""),
            start=int(p.get("start", 0)),
            end=int(p.get("end", 0)),
            score=round(hit.score, 6),
            authors=list(p.get("authors") or []),
            collection=p.get("collection", "default"),
            legs=dict(hit.legs or {}),
        )

    @property
    def key(self) -> ArticleKey:
        """The article this passage belongs to: (collection, article id)."""
        return (self.collection, self.article_id)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["legs"]
        return out

    def to_result(self) -> dict[str, Any]:
        """The search result shape of the CLI's --json and the HTTP API."""
        return {k: getattr(self, k) for k in RESULT_KEYS}


def cap_per_article(passages: list[Passage], per_article: int, k: int) -> list[Passage]:
    """Keep rank order, at most ``per_article`` chunks of any one article, ``k`` in all."""
    seen: dict[ArticleKey, int] = {}
    out: list[Passage] = []
    for p in passages:
        if seen.get(p.key, 0) >= per_article:
            continue
        seen[p.key] = seen.get(p.key, 0) + 1
        out.append(p)
        if len(out) >= k:
            break
    return out
