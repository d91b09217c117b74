"""The vector store interface: chunks in, scored chunks out, whatever the backend.

``open_store(settings, dims)`` picks the backend the way qdrant-client picks local or
remote: the embedded Qdrant Edge folder by default, a Qdrant server when
``NEWSROOM_QDRANT_URL`` is set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Protocol

from .settings import Settings
from .unicode_ranges import UNSPACED_CHAR

SPARSE_NAME = "bm25"
# Payload fields with an index (what filters and facets use).
KEYWORD_FIELDS = ("article_id", "lang", "source", "collection", "content_hash", "source_path")
DATETIME_FIELDS = ("published", "embargo_until")
TEXT_FIELD = "text"


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


@dataclass(frozen=True)
class AnyOf:
    """Payload field ``key`` equals one of ``values`` (an empty tuple matches nothing)."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Between:
    """Datetime payload field ``key`` within [gte, lte] (ISO strings; None is open)."""

    key: str
    gte: str | None
    lte: str | None


@dataclass(frozen=True)
class VisibleAt:
    """Not embargoed at ``now``: no ``embargo_until``, or one at or before ``now``."""

    now: str


NO_MATCH = "\x00none"  # a value no payload holds: how an empty grant matches nothing


def filter_conditions(flt: SearchFilter, embargoes: bool = True) -> list[AnyOf | Between | VisibleAt]:
    """What a query may see, as backend-neutral conditions that must all hold.

    Every backend translates exactly this list, so access and embargo rules live here once.
    ``embargoes=False``: the store holds no embargoed chunk, so no embargo condition.
    """
    conds: list[AnyOf | Between | VisibleAt] = []
    for key, values in (("lang", flt.langs), ("source", flt.sources), ("article_id", flt.article_ids)):
        if values:
            conds.append(AnyOf(key, tuple(values)))
    if flt.collections is not None:
        conds.append(AnyOf("collection", tuple(flt.collections) or (NO_MATCH,)))
    if flt.since or flt.until:
        conds.append(Between("published", iso(flt.since) if flt.since else None, iso(flt.until) if flt.until else None))
    if embargoes:
        conds.append(VisibleAt(iso(flt.now)))
    return conds


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
    def upsert(self, points: list[ChunkPoint]) -> None: ...

    def delete_article(self, article_id: str, keep_hash: str | None = None) -> None:
        """Delete an article's chunks, except those of version ``keep_hash``."""

    def article_versions(self, article_ids: list[str]) -> dict[str, dict[str, int]]:
        """For each article id: {content_hash: stored chunk count}."""

    def source_versions(self, source_path: str) -> dict[str, dict[str, int]]:
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


def count_versions(payloads: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{article_id: {content_hash: chunks}} from chunk payloads holding those two fields."""
    out: dict[str, dict[str, int]] = {}
    for payload in payloads:
        versions = out.setdefault(payload["article_id"], {})
        versions[payload["content_hash"]] = versions.get(payload["content_hash"], 0) + 1
    return out


def needs_substring(phrase: str) -> bool:
    """In scripts written without spaces the text index's words (whole runs, or a segmenter's
    cut) need not line up with the phrase's: those phrases are also looked up as raw
    substrings (a scan; phrase matching is indexed)."""
    return bool(UNSPACED_CHAR.search(phrase))


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def open_store(settings: Settings, dims: dict[str, int]) -> Store:
    if settings.embedded:
        from .store_edge import EdgeStore

        return EdgeStore(settings.store_path, dims)
    from .store_server import ServerStore

    return ServerStore(settings, dims)
