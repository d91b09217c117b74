"""A Qdrant server (or qdrant-client's in-memory stand-in) behind the same Store interface as EdgeStore.

Same collection schema as the embedded store: one named cosine dense vector per
embedder, the sparse vector "bm25" (no modifier: IDF per query filter, ``store.bm25_query``),
and the same payload indexes; the same filter semantics (see ``store_edge.build_filter``) and the same
hybrid query (a prefetch per leg, RRF with k=60). Transient failures are retried
with backoff; what still fails becomes a one-line ``BackendError`` naming the URL.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as m

from ..errors import BackendError, ConfigError
from ..settings import Settings
from .interface import ArticleKey, ChunkPoint, Hit, SearchFilter, Versions
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

log = logging.getLogger(__name__)

_PAGE = 512
RRF_K = 60  # as EdgeStore: the fused scores of both backends are comparable
TIMEOUT_S = 30
RETRIES = 4
BACKOFF_S = 0.5
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
SHOWN = m.PayloadSelectorExclude(exclude=[TERMS_FIELD])  # what reads return: the payload without its term ids

T = TypeVar("T")


def build_filter(flt: SearchFilter) -> m.Filter:
    """``store.filter_conditions`` in qdrant-client's models."""
    must: list[Any] = []
    for c in filter_conditions(flt):
        if isinstance(c, AnyOf):
            must.append(m.FieldCondition(key=c.key, match=m.MatchAny(any=list(c.values))))
        elif isinstance(c, Between):
            must.append(m.FieldCondition(key=c.key, range=m.DatetimeRange(gte=c.gte, lte=c.lte)))
        else:
            must.append(m.Filter(should=[
                m.IsEmptyCondition(is_empty=m.PayloadField(key="embargo_until")),
                m.FieldCondition(key="embargo_until", range=m.DatetimeRange(lte=c.now)),
            ]))
    return m.Filter(must=must)


def _is_transient(exc: Exception) -> bool:
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in _TRANSIENT_STATUS
    if isinstance(exc, ResponseHandlingException):
        return True  # connection refused, reset, timed out
    try:
        import httpx

        if isinstance(exc, httpx.TransportError):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, (ConnectionError, TimeoutError))


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _vectors(p: ChunkPoint) -> dict[str, Any]:
    vectors: dict[str, Any] = {name: np.asarray(vec, dtype=float).tolist() for name, vec in p.dense.items()}
    if p.sparse and len(p.sparse[0]):
        vectors[SPARSE_NAME] = m.SparseVector(indices=list(p.sparse[0]), values=list(p.sparse[1]))
    return vectors


def _dense(vector: Any) -> dict[str, list[float]] | None:
    """The named dense vectors of a returned point (sparse ones left out)."""
    if not isinstance(vector, dict):
        return None
    return {name: list(v) for name, v in vector.items() if isinstance(v, list)}


class ServerStore:
    """One collection on a Qdrant server; many processes may share it."""

    def __init__(self, settings: Settings, dims: dict[str, int], client: QdrantClient | None = None):
        self.settings = settings
        self.url = settings.qdrant_url
        self.collection = settings.collection
        self.dims = dims
        if client is not None:
            self.client = client
        elif self.url == ":memory:":
            self.client = QdrantClient(":memory:")
        else:
            try:
                self.client = QdrantClient(url=self.url, api_key=settings.qdrant_api_key or None, timeout=TIMEOUT_S)
            except Exception as exc:
                raise BackendError(f"Qdrant server at {self.url}: cannot create a client: {_one_line(exc)}") from exc
        if self._call("check the collection", self.client.collection_exists, self.collection):
            self._check_vectors()
        else:
            self._create()

    # -- plumbing --------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        delay = BACKOFF_S
        for attempt in range(RETRIES + 1):
            try:
                return fn(*args, **kwargs)
            except (BackendError, ConfigError):
                raise
            except Exception as exc:
                if attempt < RETRIES and _is_transient(exc):
                    log.warning("Qdrant server at %s: %s failed (%s); retrying in %.1f s", self.url, what, _one_line(exc), delay)
                    time.sleep(delay)
                    delay *= 2
                    continue
                tries = f" after {attempt + 1} tries" if attempt else ""
                raise BackendError(
                    f"Qdrant server at {self.url}: {what} in collection '{self.collection}' failed{tries}: {_one_line(exc)}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _create(self) -> None:
        s = self.settings
        quantization = (
            m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, quantile=0.99, always_ram=True))
            if s.quantization_int8
            else None
        )
        self._call(
            "create the collection",
            self.client.create_collection,
            self.collection,
            vectors_config={
                name: m.VectorParams(size=dim, distance=m.Distance.COSINE, on_disk=s.on_disk_vectors or None)
                for name, dim in self.dims.items()
            },
            sparse_vectors_config={SPARSE_NAME: m.SparseVectorParams()},  # IDF per query: store.bm25_query
            shard_number=s.shard_number,
            replication_factor=s.replication_factor,
            write_consistency_factor=s.write_consistency_factor,
            quantization_config=quantization,
        )
        for name in KEYWORD_FIELDS:
            self._index(name, m.PayloadSchemaType.KEYWORD)
        for name in DATETIME_FIELDS:
            self._index(name, m.PayloadSchemaType.DATETIME)
        for name in INTEGER_FIELDS:  # matched by value, never by range: a lookup index only
            self._index(name, m.IntegerIndexParams(type=m.IntegerIndexType.INTEGER, lookup=True, range=False))
        self._index(
            TEXT_FIELD,
            m.TextIndexParams(
                type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.MULTILINGUAL, lowercase=True, phrase_matching=True
            ),
        )

    def _index(self, name: str, schema: Any) -> None:
        self._call(f"index '{name}'", self.client.create_payload_index, self.collection, name, field_schema=schema, wait=True)

    def _check_vectors(self) -> None:
        info = self._call("read the collection", self.client.get_collection, self.collection)
        sparse = (info.config.params.sparse_vectors or {}).get(SPARSE_NAME)
        if sparse is not None and sparse.modifier == m.Modifier.IDF:
            raise old_format(f"collection '{self.collection}' at {self.url}", embedded=False)
        vectors = info.config.params.vectors
        stored = {name: int(p.size) for name, p in vectors.items()} if isinstance(vectors, dict) else {}
        if stored and any(stored.get(name) != dim for name, dim in self.dims.items()):
            raise ConfigError(
                f"collection '{self.collection}' at {self.url} was built with embedders {sorted(stored)}; the settings "
                f"ask for {sorted(self.dims)}. Use the same NEWSROOM_EMBEDDERS, or another NEWSROOM_COLLECTION"
            )

    # -- Store -----------------------------------------------------------------
    def upsert(self, points: list[ChunkPoint]) -> None:
        if not points:
            return
        self.writes = getattr(self, "writes", 0) + 1  # lets query-side caches see a change
        structs = [m.PointStruct(id=p.id, vector=_vectors(p), payload=stored_payload(p)) for p in points]
        self._call("upsert", self.client.upsert, self.collection, points=structs, wait=True)

    def delete_article(self, key: ArticleKey, view: SearchFilter, keep_hash: str | None = None) -> None:
        self.writes = getattr(self, "writes", 0) + 1
        f = build_filter(versions_filter([key], view))
        must_not = [m.FieldCondition(key="content_hash", match=m.MatchValue(value=keep_hash))] if keep_hash else None
        self._call(
            "delete",
            self.client.delete,
            self.collection,
            points_selector=m.FilterSelector(filter=m.Filter(must=f.must, must_not=must_not)),
            wait=True,
        )

    def article_versions(self, keys: list[ArticleKey], view: SearchFilter) -> Versions:
        if not keys:
            return {}
        return count_versions(self._scroll(build_filter(versions_filter(keys, view)), VERSION_FIELDS), keys)

    def source_versions(self, source_path: str, view: SearchFilter) -> Versions:
        return count_versions(self._scroll(build_filter(replace(view, source_paths=(source_path,))), VERSION_FIELDS))

    def query(self, dense, sparse, flt, limit, candidates, weights=None, with_vectors=False) -> list[Hit]:
        f = build_filter(flt)
        legs: list[tuple[str, Any]] = [(name, list(vec)) for name, vec in dense.items()]
        if sparse and sparse[0]:
            sparse = bm25_query(self, sparse, flt)
        if sparse and sparse[0]:
            legs.append((SPARSE_NAME, m.SparseVector(indices=list(sparse[0]), values=list(sparse[1]))))
        if not legs:
            return []
        if len(legs) == 1:
            name, vec = legs[0]
            resp = self._call(
                "query", self.client.query_points, self.collection,
                query=vec, using=name, query_filter=f, limit=limit, with_payload=SHOWN, with_vectors=with_vectors,
            )
        else:
            w = [float((weights or {}).get(name, 1.0)) for name, _ in legs]
            rrf = m.Rrf(k=RRF_K, weights=None if all(x == 1.0 for x in w) else w)
            resp = self._call(
                "query", self.client.query_points, self.collection,
                prefetch=[m.Prefetch(query=vec, using=name, filter=f, limit=candidates) for name, vec in legs],
                query=m.RrfQuery(rrf=rrf), query_filter=f, limit=limit, with_payload=SHOWN, with_vectors=with_vectors,
            )
        return [Hit(str(p.id), float(p.score), dict(p.payload or {}), _dense(p.vector)) for p in resp.points]

    def query_many(self, requests: list[tuple[str, list[float], SearchFilter, int]]) -> list[list[Hit]]:
        batch = [
            m.QueryRequest(query=list(vec), using=name, filter=build_filter(flt), limit=limit, with_payload=SHOWN,
                           with_vector=True)
            for name, vec, flt, limit in requests
        ]
        resps = self._call("query", self.client.query_batch_points, self.collection, requests=batch)
        return [[Hit(str(p.id), float(p.score), dict(p.payload or {}), _dense(p.vector)) for p in r.points] for r in resps]

    def sample_vectors(self, flt: SearchFilter, limit: int) -> list[dict[str, list[float]]]:
        records, _ = self._call("sample vectors", self.client.scroll, self.collection, scroll_filter=build_filter(flt),
                                limit=limit, with_payload=False, with_vectors=True)
        return [v for r in records if (v := _dense(r.vector))]

    def phrase(self, phrase: str, flt: SearchFilter, limit: int) -> list[Hit]:
        """As ``EdgeStore.phrase``: a phrase match or the raw substring, up to ``limit``, paged."""
        should: list[Any] = [m.FieldCondition(key=TEXT_FIELD, match=m.MatchPhrase(phrase=phrase))]
        if needs_substring(phrase):
            should.append(m.FieldCondition(key=TEXT_FIELD, match=m.MatchSubstring(substring=phrase)))
        words = m.Filter(should=should)
        f = m.Filter(must=[*(build_filter(flt).must or []), words])
        hits: list[Hit] = []
        offset = None
        while len(hits) < limit:
            records, offset = self._call(
                "phrase search", self.client.scroll, self.collection, scroll_filter=f,
                limit=min(_PAGE, limit - len(hits)), offset=offset, with_payload=SHOWN, with_vectors=False,
            )
            hits.extend(Hit(str(r.id), 1.0, dict(r.payload or {})) for r in records)
            if offset is None:
                break
        return hits

    def _scroll(self, f: m.Filter | None, fields: list[str] | None) -> Iterator[dict[str, Any]]:
        offset = None
        while True:
            records, offset = self._call(
                "scroll", self.client.scroll, self.collection, scroll_filter=f, limit=_PAGE, offset=offset,
                with_payload=fields if fields else SHOWN, with_vectors=False,
            )
            for r in records:
                yield dict(r.payload or {})
            if offset is None:
                return

    def scroll(self, flt: SearchFilter, fields: list[str] | None = None) -> Iterator[dict[str, Any]]:
        return self._scroll(build_filter(flt), fields)

    def count(self, flt: SearchFilter) -> int:
        return int(self._call("count", self.client.count, self.collection, count_filter=build_filter(flt), exact=True).count)

    def facet(self, key: str, flt: SearchFilter, limit: int = 100) -> dict[str, int]:
        resp = self._call(
            "facet", self.client.facet, self.collection, key, facet_filter=build_filter(flt), limit=limit, exact=True
        )
        return {str(h.value): int(h.count) for h in resp.hits}

    # -- beyond the protocol: what migrate and backup need -----------------------
    def total(self) -> int:
        """Every point, embargoed or not."""
        return int(self._call("count", self.client.count, self.collection, exact=True).count)

    def existing_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        records = self._call(
            "retrieve", self.client.retrieve, self.collection, ids=ids, with_payload=False, with_vectors=False
        )
        return {str(r.id) for r in records}

    def flush(self) -> None:
        """The server persists on its own (wait=True writes are durable in its WAL)."""

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            try:
                client.close()
            except Exception:  # closing never fails loudly
                pass
            self.client = None  # type: ignore[assignment]
