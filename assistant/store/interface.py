"""The vector store interface: chunks in, scored chunks out, whatever the backend.

``factory.open_store`` picks the backend; ``shared`` holds what both backends do the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Protocol

# The collection (desk) of an article that names none. Its point ids leave the collection out,
# as they did before identities included it, so a single-desk store keeps its ids.
DEFAULT_COLLECTION = "default"


@dataclass(frozen=True)
class SearchFilter:
    """What a query may see. Access (collections, embargo) is applied by the store."""

    langs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    article_ids: tuple[str, ...] = ()
    collections: tuple[str, ...] | None = None  # None: every collection
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    source_paths: tuple[str, ...] = ()
    terms: tuple[int, ...] = ()  # chunks holding any of these BM25 term ids


# Every stored point, embargoed or not, in any collection: what a trusted write sees.
EVERYTHING = SearchFilter(now=datetime.max.replace(tzinfo=timezone.utc))

ArticleKey = tuple[str, str]  # (collection, article id): an article's identity
Versions = dict[ArticleKey, dict[str, int]]  # article -> {content hash: stored chunk count}


def article_key(payload: dict[str, Any]) -> ArticleKey:
    """The article a chunk payload belongs to: ids from different collections are different articles."""
    return (payload.get("collection") or DEFAULT_COLLECTION, payload.get("article_id") or "")


@dataclass
class ChunkPoint:
    id: str
    dense: dict[str, Any]  # per embedder: a list of floats or a float32 array
    sparse: tuple[list[int], list[float]]
    payload: dict[str, Any]


@dataclass
class Hit:
    id: str
    score: float
    payload: dict[str, Any]
    vectors: dict[str, list[float]] | None = None  # dense vectors, when the query asked for them
    legs: dict[str, float] | None = None  # per-embedder scores, set by retrieval's fusion


class Store(Protocol):
    """Writes take ``view``, the chunks the writer may see (``EVERYTHING`` for a trusted write;
    for an untrusted one, what its target collection shows now): what it does not see it
    neither counts nor deletes."""

    def upsert(self, points: list[ChunkPoint]) -> None: ...

    def delete_article(self, key: ArticleKey, view: SearchFilter, keep_hash: str | None = None) -> None:
        """Delete an article's chunks within ``view``, except those of version ``keep_hash``."""

    def article_versions(self, keys: list[ArticleKey], view: SearchFilter) -> Versions:
        """For each (collection, article id) with chunks in ``view``: {content_hash: chunk count}."""

    def source_versions(self, source_path: str, view: SearchFilter) -> Versions:
        """``article_versions`` of the articles stored with this ``source_path``."""

    def query(
        self,
        dense: dict[str, list[float]],
        sparse: tuple[list[int], list[float]] | None,
        flt: SearchFilter,
        limit: int,
        candidates: int,
        weights: dict[str, float] | None = None,
        with_vectors: bool = False,
    ) -> list[Hit]:
        """Hybrid (RRF over every given dense vector and the sparse one) or single-leg."""

    def query_many(self, requests: list[tuple[str, list[float], SearchFilter, int]]) -> list[list[Hit]]:
        """Several single-vector searches at once, each (vector name, vector, filter, limit), with vectors."""

    def sample_vectors(self, flt: SearchFilter, limit: int) -> list[dict[str, list[float]]]:
        """Dense vectors of up to ``limit`` chunks matching ``flt`` (for per-language statistics)."""

    def phrase(self, phrase: str, flt: SearchFilter, limit: int) -> list[Hit]: ...

    def scroll(self, flt: SearchFilter, fields: list[str] | None = None) -> Iterator[dict[str, Any]]: ...

    def count(self, flt: SearchFilter) -> int: ...

    def facet(self, key: str, flt: SearchFilter, limit: int = 100) -> dict[str, int]: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
