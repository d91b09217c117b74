"""Hybrid retrieval: every dense embedder plus BM25, fused with RRF, a few chunks per article."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .embed import Embedder
from .settings import Settings
from .sparse import query_vector
from .store import Hit, SearchFilter, Store


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

    @classmethod
    def from_hit(cls, hit: Hit) -> "Passage":
        p = hit.payload
        return cls(
            article_id=p.get("article_id", ""),
            chunk_id=p.get("chunk_id", hit.id),
            title=p.get("title", ""),
            source=p.get("source", ""),
            url=p.get("url", ""),
            published=p.get("published"),
            lang=p.get("lang", ""),
            text=p.get("text", ""),
            start=int(p.get("start", 0)),
            end=int(p.get("end", 0)),
            score=round(hit.score, 6),
            authors=list(p.get("authors") or []),
            collection=p.get("collection", "default"),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cap_per_article(passages: list[Passage], per_article: int, k: int) -> list[Passage]:
    """Keep rank order, at most ``per_article`` chunks of any one article, ``k`` in all."""
    seen: dict[str, int] = {}
    out: list[Passage] = []
    for p in passages:
        if seen.get(p.article_id, 0) >= per_article:
            continue
        seen[p.article_id] = seen.get(p.article_id, 0) + 1
        out.append(p)
        if len(out) >= k:
            break
    return out


@dataclass
class QueryVectors:
    dense: dict[str, list[float]]
    sparse: tuple[list[int], list[float]]


def embed_query(text: str, embedders: list[Embedder]) -> QueryVectors:
    return QueryVectors({e.name: e.embed_query(text).tolist() for e in embedders}, query_vector(text))


def retrieve(
    query: str,
    store: Store,
    embedders: list[Embedder],
    settings: Settings,
    flt: SearchFilter,
    k: int | None = None,
    mode: str = "hybrid",
    vectors: QueryVectors | None = None,
) -> list[Passage]:
    """Top passages for a query. ``mode``: hybrid (default), dense or sparse."""
    k = k or settings.top_k
    qv = vectors or embed_query(query, embedders)
    dense = qv.dense if mode in ("hybrid", "dense") else {}
    sparse = qv.sparse if mode in ("hybrid", "sparse") else None
    limit = max(settings.candidates, k * settings.max_per_article * 3)
    hits = store.query(dense, sparse, flt, limit=limit, candidates=settings.candidates)
    return cap_per_article([Passage.from_hit(h) for h in hits], settings.max_per_article, k)
