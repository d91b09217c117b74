"""Hybrid retrieval: every dense embedder plus a bounded BM25 bonus, a few chunks per article."""
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


def fuse(dense_legs: list[list[Hit]], sparse: list[Hit], sparse_weight: float) -> list[Hit]:
    """Score fusion: mean dense cosine + sparse_weight × BM25 scaled to the best hit.

    Cosines are comparable across languages; BM25 only matches within one. Rank fusion
    (RRF) lets a confident same-language lexical match on the wrong topic outrank the
    right passage in another language; a bounded lexical bonus on top of the cosine
    keeps BM25 a tie-breaker (measured with `newsroom eval`, see README).
    """
    payloads: dict[str, dict[str, Any]] = {}
    dense_scores: dict[str, list[float]] = {}
    floors: list[float] = []
    for leg in dense_legs:
        for hit in leg:
            payloads.setdefault(hit.id, hit.payload)
            dense_scores.setdefault(hit.id, []).append(hit.score)
        floors.append(min((h.score for h in leg), default=0.0))
    top = max((h.score for h in sparse), default=0.0)
    lexical = {h.id: h.score / top for h in sparse} if top > 0 else {}
    for hit in sparse:
        payloads.setdefault(hit.id, hit.payload)
    floor = sum(floors) / len(floors) if floors else 0.0
    n_legs = max(len(dense_legs), 1)
    scores = {}
    for pid in payloads:
        got = dense_scores.get(pid, [])
        dense = (sum(got) + floor * (n_legs - len(got))) / n_legs if dense_legs else 0.0
        scores[pid] = dense + sparse_weight * lexical.get(pid, 0.0)
    return [Hit(pid, scores[pid], payloads[pid]) for pid in sorted(scores, key=lambda i: -scores[i])]


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
    limit = max(settings.candidates, k * settings.max_per_article * 3)
    dense_legs: list[list[Hit]] = []
    sparse: list[Hit] = []
    if mode in ("hybrid", "dense"):
        dense_legs = [store.query({name: vec}, None, flt, limit=limit, candidates=limit) for name, vec in qv.dense.items()]
    if mode in ("hybrid", "sparse") and qv.sparse[0]:
        sparse = store.query({}, qv.sparse, flt, limit=limit, candidates=limit)
    if mode == "sparse":
        hits = sparse
    else:
        hits = fuse(dense_legs, sparse, settings.sparse_weight if mode == "hybrid" else 0.0)
    return cap_per_article([Passage.from_hit(h) for h in hits], settings.max_per_article, k)
