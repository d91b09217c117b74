"""What both backends share: the index layout, backend-neutral filter conditions (access and
embargo rules live here once), version counts and BM25 statistics per filter."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable

from ..errors import ConfigError
from ..text.scripts import UNSPACED_CHAR
from .interface import ArticleKey, ChunkPoint, SearchFilter, Store, Versions, article_key

SPARSE_NAME = "bm25"
# Each chunk's BM25 term ids (its sparse vector's indices), integer-indexed: BM25's document
# frequencies are counted with the query's filter (``bm25_query``), so a score depends only on
# chunks the user may see. Kept out of the payloads the stores return.
TERMS_FIELD = "terms"
# Payload fields with an index (what filters and facets use).
KEYWORD_FIELDS = ("article_id", "lang", "source", "collection", "content_hash", "source_path")
DATETIME_FIELDS = ("published", "embargo_until")
INTEGER_FIELDS = (TERMS_FIELD,)
TEXT_FIELD = "text"
# The store's layout. 1: BM25 through Qdrant's IDF modifier, statistics over every chunk
# (hidden desks and embargoed articles included); 2: no modifier, TERMS_FIELD, statistics per
# query filter. Each backend checks a store when it opens it (``old_format`` says what to do).
STORE_FORMAT = 2


@dataclass(frozen=True)
class AnyOf:
    """Payload field ``key`` equals one of ``values`` (an empty tuple matches nothing)."""

    key: str
    values: tuple[str | int, ...]


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
    for key, values in (("lang", flt.langs), ("source", flt.sources), ("article_id", flt.article_ids),
                        ("source_path", flt.source_paths), (TERMS_FIELD, flt.terms)):
        if values:
            conds.append(AnyOf(key, tuple(values)))
    if flt.collections is not None:
        conds.append(AnyOf("collection", tuple(flt.collections) or (NO_MATCH,)))
    if flt.since or flt.until:
        conds.append(Between("published", iso(flt.since) if flt.since else None, iso(flt.until) if flt.until else None))
    if embargoes:
        conds.append(VisibleAt(iso(flt.now)))
    return conds


VERSION_FIELDS = ["article_id", "collection", "content_hash"]  # what count_versions reads


def versions_filter(keys: Iterable[ArticleKey], view: SearchFilter) -> SearchFilter:
    """``view`` narrowed to the chunks of these articles (and, as a filter cannot pair the two
    fields, of others crossing their ids and collections: ``count_versions`` drops those)."""
    keys = list(keys)
    return replace(view, article_ids=tuple(sorted({a for _, a in keys})),
                   collections=tuple(sorted({c for c, _ in keys})))


def count_versions(payloads: Iterable[dict[str, Any]], keys: Iterable[ArticleKey] | None = None) -> Versions:
    """{(collection, article_id): {content_hash: chunks}} from chunk payloads (VERSION_FIELDS),
    only for ``keys`` when given."""
    wanted = None if keys is None else set(keys)
    out: Versions = {}
    for payload in payloads:
        key = article_key(payload)
        if wanted is not None and key not in wanted:
            continue
        versions = out.setdefault(key, {})
        versions[payload["content_hash"]] = versions.get(payload["content_hash"], 0) + 1
    return out


def stored_payload(point: ChunkPoint) -> dict[str, Any]:
    """The payload a backend writes: the chunk's own, plus its BM25 term ids (TERMS_FIELD)."""
    return {**point.payload, TERMS_FIELD: [int(t) for t in point.sparse[0]]}


def bm25_query(store: Store, sparse: tuple[list[int], list[float]], flt: SearchFilter) -> tuple[list[int], list[float]]:
    """A BM25 query vector whose statistics come only from the chunks ``flt`` admits.

    Each term's weight is multiplied by its IDF, ln(1 + (N − df + 0.5) / (df + 0.5)) (the formula
    of Qdrant's IDF modifier), with N the chunks ``flt`` admits and df those of them holding the
    term: exact counts, 1 + one per query term. Terms no admitted chunk holds are left out (they
    match nothing). The store's search runs under the same filter, so both the scores and which
    chunks come back depend on admitted chunks alone, whatever else the store holds.
    """
    ids, values = sparse
    if not len(ids):
        return [], []
    n = store.count(flt)
    out_ids: list[int] = []
    out_values: list[float] = []
    for term, value in zip(ids, values):
        df = store.count(replace(flt, terms=(int(term),)))
        if df:
            out_ids.append(int(term))
            out_values.append(float(value) * math.log(1.0 + (n - df + 0.5) / (df + 0.5)))
    return out_ids, out_values


def old_format(where: str, embedded: bool) -> ConfigError:
    """The error for a store of format 1 (see STORE_FORMAT), saying how to rebuild it."""
    how = ("rebuild it with 'newsroom upgrade-store' (copies every point, re-embeds nothing)" if embedded else
           "ingest the archive again into a new NEWSROOM_COLLECTION (or upgrade the embedded store it was "
           "migrated from with 'newsroom upgrade-store' and migrate that)")
    return ConfigError(f"{where} was built by an earlier version whose BM25 statistics count the words of every "
                       f"desk and of embargoed articles (its scores leak them); {how}")


def needs_substring(phrase: str) -> bool:
    """In scripts written without spaces the text index's words (whole runs, or a segmenter's
    cut) need not line up with the phrase's: those phrases are also looked up as raw
    substrings (a scan; phrase matching is indexed)."""
    return bool(UNSPACED_CHAR.search(phrase))


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
