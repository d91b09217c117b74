"""Qdrant Edge: the Qdrant engine in-process, on a local folder (the default store)."""
from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import qdrant_edge as q

from ..errors import ConfigError, StoreLockedError
from .interface import ArticleKey, ChunkPoint, Hit, SearchFilter, Versions
from .payload_cache import PayloadCache
from .shared import (
    DATETIME_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE_NAME,
    TERMS_FIELD,
    TEXT_FIELD,
    VERSION_FIELDS,
    AnyOf,
    Between,
    bm25_query,
    count_versions,
    filter_conditions,
    needs_substring,
    old_format,
    stored_payload,
    versions_filter,
)

_PAGE = 512
T = TypeVar("T")
SHOWN = q.PayloadSelector.Exclude([TERMS_FIELD])  # what reads return: the payload without its term ids


def build_filter(flt: SearchFilter, embargoes: bool = True) -> q.Filter | None:
    """``store.filter_conditions`` in Qdrant Edge's models; None when nothing is filtered.

    ``embargoes=False`` (the store holds no embargoed chunk) leaves out the embargo clause,
    which then matches every point but still costs a payload check per candidate."""
    must: list[Any] = []
    for c in filter_conditions(flt, embargoes):
        if isinstance(c, AnyOf):
            must.append(q.FieldCondition(c.key, match=q.MatchAny(list(c.values))))
        elif isinstance(c, Between):
            must.append(q.FieldCondition(c.key, range=q.RangeDateTime(gte=c.gte, lte=c.lte)))
        else:
            must.append(q.Filter(should=[
                q.IsEmptyCondition("embargo_until"),
                q.FieldCondition("embargo_until", range=q.RangeDateTime(lte=c.now)),
            ]))
    return q.Filter(must=must) if must else None


class EdgeStore:
    """One Edge shard per data folder, held by one process at a time (a lock file)."""

    def __init__(self, path: Path, dims: dict[str, int]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.path.parent / (self.path.name + ".lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "another process"
            self._lock_file.close()
            raise StoreLockedError(
                f"the store at {self.path} is in use by {holder}; stop it, or send files through "
                f"the running app with 'newsroom ingest --via http://127.0.0.1:7860 PATH'"
            ) from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"newsroom process {os.getpid()}")
        self._lock_file.flush()
        self.dims = dims
        self.writes = 0  # counts writes: query-side caches (the archive's languages) see a change
        self._embargoes, self._embargo_epoch = True, 0
        self.payload_cache = PayloadCache()
        try:
            if not (self.path / "edge_config.json").exists():
                self._create()
            self.shard = q.EdgeShard.load(str(self.path))
            self._check_vectors()
            self._count_embargoes()
        except BaseException:
            self.close()  # give the lock back: the store was never opened
            raise

    def _create(self) -> None:
        """Build the empty shard and its indexes beside the folder, then rename it into place.

        A kill -9 during creation then leaves no half-made store: Edge cannot load a
        folder whose config was never written, and a shard without its indexes would
        quietly lack phrase search.
        """
        if self.path.exists():
            _remove_unfinished(self.path)
        staging = self.path.with_name(self.path.name + ".creating")
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed creation; we hold the lock
        config = q.EdgeConfig(
            vectors={name: q.EdgeVectorParams(size=dim, distance=q.Distance.Cosine) for name, dim in self.dims.items()},
            sparse_vectors={SPARSE_NAME: q.EdgeSparseVectorParams()},  # IDF per query: store.bm25_query
        )
        self.shard = q.EdgeShard.create(str(staging), config)
        self._create_indexes()
        self.shard.flush()
        self.shard.close()
        self.shard = None
        os.replace(staging, self.path)

    def _check_vectors(self) -> None:
        if _has_idf_modifier(self.path):
            raise old_format(f"the store at {self.path}", embedded=True)
        stored = _stored_vector_sizes(self.path)
        if stored and any(stored.get(name) != dim for name, dim in self.dims.items()):
            raise ConfigError(
                f"the store at {self.path} was built with embedders {sorted(stored)}; the settings ask for "
                f"{sorted(self.dims)}. Use the same NEWSROOM_EMBEDDERS, or a new NEWSROOM_DATA_DIR and re-ingest"
            )

    def _create_indexes(self) -> None:
        for name in KEYWORD_FIELDS:
            self.shard.update(q.UpdateOperation.create_field_index(name, q.PayloadSchemaType.Keyword))
        for name in DATETIME_FIELDS:
            self.shard.update(q.UpdateOperation.create_field_index(name, q.PayloadSchemaType.Datetime))
        for name in INTEGER_FIELDS:  # matched by value, never by range: a lookup index only (inserts ~40% cheaper)
            lookup = q.IntegerIndexParams(lookup=True, range=False)
            self.shard.update(q.UpdateOperation.create_field_index(name, lookup))
        # Words split at spaces and punctuation, lowercased and folded to ASCII ("cafe" finds
        # "café"): what the multilingual tokenizer gives outside scripts written without
        # spaces, at a fifth of its cost (it holds the GIL while indexing each upsert, which
        # stalls the encoder: ~0.3 ms a chunk against 0.06 ms measured). Scripts without
        # spaces (CJK, Thai...) are found by substring (``store.needs_substring``).
        self.shard.update(
            q.UpdateOperation.create_field_index(
                TEXT_FIELD,
                q.TextIndexParams(tokenizer=q.TokenizerType.Word, lowercase=True, ascii_folding=True, phrase_matching=True),
            )
        )

    def _count_embargoes(self) -> None:
        holding = q.Filter(must_not=[q.IsEmptyCondition("embargo_until")])
        self._embargoes = self.shard.count(q.CountRequest(filter=holding, exact=True)) > 0

    def _search(self, run: Callable[[bool], T]) -> T:
        """``run(embargoes)`` for the searches every question makes: without the embargo clause
        while no stored chunk carries ``embargo_until`` (the clause then matches every point but
        costs a payload check per candidate), and again with it when an embargoed chunk was
        announced meanwhile (``upsert`` announces one before writing it). Counted when the store
        opens; once an embargo was seen the clause stays, even after its chunks are deleted."""
        seen = self._embargo_epoch
        if self._embargoes:
            return run(True)
        result = run(False)
        if self._embargo_epoch != seen:
            result = run(True)
        return result

    def upsert(self, points: list[ChunkPoint]) -> None:
        if not points:
            return
        if not self._embargoes and any(p.payload.get("embargo_until") for p in points):
            self._embargoes = True  # before the epoch: a search that saw no embargo sees the epoch move
            self._embargo_epoch += 1
        self.writes += 1  # lets query-side caches see a change
        ids = [_key(p.id) for p in points]
        self.payload_cache.writing(ids)
        self.shard.update(
            q.UpdateOperation.upsert_points(
                [
                    q.Point(
                        p.id,
                        {**p.dense, SPARSE_NAME: q.SparseVector(indices=p.sparse[0], values=p.sparse[1])},
                        stored_payload(p),
                    )
                    for p in points
                ]
            )
        )
        self.writes += 1  # and again once it is in: a query that looked meanwhile looks again
        self.payload_cache.writing(ids)

    def delete_article(self, key: ArticleKey, view: SearchFilter, keep_hash: str | None = None) -> None:
        self.writes += 1
        f = build_filter(versions_filter([key], view))
        must_not = [q.FieldCondition("content_hash", match=q.MatchValue(keep_hash))] if keep_hash else None
        self.shard.update(q.UpdateOperation.delete_points_by_filter(q.Filter(must=f.must, must_not=must_not)))
        self.writes += 1

    def article_versions(self, keys: list[ArticleKey], view: SearchFilter) -> Versions:
        if not keys:
            return {}
        return count_versions(self._scroll(build_filter(versions_filter(keys, view)), VERSION_FIELDS), keys)

    def source_versions(self, source_path: str, view: SearchFilter) -> Versions:
        return count_versions(self._scroll(build_filter(replace(view, source_paths=(source_path,))), VERSION_FIELDS))

    def query(self, dense, sparse, flt, limit, candidates, weights=None, with_vectors=False) -> list[Hit]:
        legs: list[tuple[str, Any]] = [(name, q.Query.Nearest(list(vec), using=name)) for name, vec in dense.items()]
        if sparse and sparse[0]:
            sparse = bm25_query(self, sparse, flt)
        if sparse and sparse[0]:
            legs.append((SPARSE_NAME, q.Query.Nearest(q.SparseVector(indices=sparse[0], values=sparse[1]), using=SPARSE_NAME)))
        if not legs:
            return []
        w = [float((weights or {}).get(name, 1.0)) for name, _ in legs]

        def run(embargoes: bool) -> list[Any]:
            f = build_filter(flt, embargoes)
            if len(legs) == 1:
                request = q.QueryRequest(limit=limit, query=legs[0][1], filter=f, with_payload=False,
                                         with_vector=with_vectors)
            else:
                request = q.QueryRequest(
                    limit=limit,
                    prefetches=[q.Prefetch(limit=candidates, query=leg, filter=f) for _, leg in legs],
                    query=q.Fusion.Rrf(k=60, weights=w),
                    filter=f,
                    with_payload=False,
                    with_vector=with_vectors,
                )
            return self.shard.query(request)

        return self._hits([(str(p.id), p) for p in self._search(run)])

    def query_many(self, requests: list[tuple[str, list[float], SearchFilter, int]]) -> list[list[Hit]]:
        def run(embargoes: bool) -> list[list[Any]]:
            batch = [
                q.QueryRequest(limit=limit, query=q.Query.Nearest(list(vec), using=name),
                               filter=build_filter(flt, embargoes), with_payload=False, with_vector=True)
                for name, vec, flt, limit in requests
            ]
            return self.shard.query_batch(q.QueryBatchRequest(batch))

        results = [[(str(p.id), p) for p in points] for points in self._search(run)]
        payloads = self._payloads([key for points in results for key, _ in points])
        return [self._hits(points, payloads) for points in results]

    def _hits(self, points: list[tuple[str, Any]], payloads: dict[str, dict[str, Any]] | None = None) -> list[Hit]:
        """(id, scored point) pairs as hits with payloads from the cache (or the store); a point
        deleted between the search and the payload fetch is left out."""
        if payloads is None:
            payloads = self._payloads([key for key, _ in points])
        return [Hit(key, float(p.score), payloads[key], _dense(p.vector)) for key, p in points if key in payloads]

    def _payloads(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        def fetch(keys: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
            for r in self.shard.retrieve([int(k) if k.isdigit() else k for k in keys], SHOWN, False):
                yield str(r.id), dict(r.payload or {})

        return self.payload_cache.payloads(ids, fetch)

    def sample_vectors(self, flt: SearchFilter, limit: int) -> list[dict[str, list[float]]]:
        records, _ = self.shard.scroll(q.ScrollRequest(limit=limit, filter=build_filter(flt), with_vector=True))
        return [v for r in records if (v := _dense(r.vector))]

    def phrase(self, phrase: str, flt: SearchFilter, limit: int) -> list[Hit]:
        """Chunks holding the words: a phrase match on the text index, or the raw substring
        (CJK text the tokenizer splits differently). Up to ``limit``, paged."""
        should = [q.FieldCondition(TEXT_FIELD, match=q.MatchPhrase(phrase))]
        if needs_substring(phrase):
            should.append(q.FieldCondition(TEXT_FIELD, match=q.MatchSubstring(phrase)))
        words = q.Filter(should=should)
        f = q.Filter(must=[*(build_filter(flt).must or []), words])
        hits: list[Hit] = []
        offset = None
        while len(hits) < limit:
            records, offset = self.shard.scroll(
                q.ScrollRequest(offset=offset, limit=min(_PAGE, limit - len(hits)), filter=f, with_payload=SHOWN)
            )
            hits.extend(Hit(str(r.id), 1.0, dict(r.payload or {})) for r in records)
            if offset is None:
                break
        return hits

    def _scroll(self, f: q.Filter, fields: list[str] | None) -> Iterator[dict[str, Any]]:
        offset = None
        while True:
            records, offset = self.shard.scroll(
                q.ScrollRequest(offset=offset, limit=_PAGE, filter=f, with_payload=fields if fields else SHOWN)
            )
            for r in records:
                yield dict(r.payload or {})
            if offset is None:
                return

    def scroll(self, flt: SearchFilter, fields: list[str] | None = None) -> Iterator[dict[str, Any]]:
        return self._scroll(build_filter(flt), fields)

    def count(self, flt: SearchFilter) -> int:
        return int(self.shard.count(q.CountRequest(filter=build_filter(flt), exact=True)))

    def facet(self, key: str, flt: SearchFilter, limit: int = 100) -> dict[str, int]:
        resp = self.shard.facet(q.FacetRequest(key, limit=limit, exact=True, filter=build_filter(flt)))
        return {str(h.value): int(h.count) for h in resp.hits}

    def flush(self) -> None:
        self.shard.flush()

    def close(self) -> None:
        if getattr(self, "shard", None) is not None:
            self.shard.flush()
            self.shard.close()
            self.shard = None
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()


def _key(point_id: Any) -> str:
    """A point id as Edge gives it back (a UUID's canonical text, or digits): the cache's key."""
    if isinstance(point_id, int) or str(point_id).isdigit():
        return str(int(point_id))
    return str(uuid.UUID(str(point_id)))


def _dense(vector: Any) -> dict[str, list[float]] | None:
    """The named dense vectors of a returned point (sparse ones left out)."""
    if not isinstance(vector, dict):
        return None
    return {name: list(v) for name, v in vector.items() if name != SPARSE_NAME and isinstance(v, list)}


def _stored_vector_sizes(path: Path) -> dict[str, int]:
    """Dense vector sizes of an existing shard, read from its saved config."""
    import json

    try:
        data = json.loads((path / "edge_config.json").read_text())
    except (OSError, ValueError):
        return {}
    return {name: int(v.get("size", 0)) for name, v in (data.get("vectors") or {}).items()}


def _has_idf_modifier(path: Path) -> bool:
    """Does an existing shard's saved config give the BM25 vector Qdrant's IDF modifier (STORE_FORMAT 1)?"""
    import json

    try:
        data = json.loads((path / "edge_config.json").read_text())
    except (OSError, ValueError):
        return False
    return str(((data.get("sparse_vectors") or {}).get(SPARSE_NAME) or {}).get("modifier") or "").lower() == "idf"


def _remove_unfinished(path: Path) -> None:
    """Remove a store folder whose creation was killed (a write-ahead log, no config, no data)."""
    entries = {p.name for p in path.iterdir()}
    segments = path / "segments"
    if entries <= {"wal", "segments"} and not (segments.exists() and any(segments.iterdir())):
        shutil.rmtree(path)
        return
    raise ConfigError(f"{path} holds files but no Qdrant Edge store (no edge_config.json); move it away or "
                      f"choose another NEWSROOM_DATA_DIR")
