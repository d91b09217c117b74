"""Hybrid retrieval: language-centred dense legs per archive language, a bounded BM25 bonus,
recency, near-duplicate collapse, a few chunks per article."""
from __future__ import annotations

import time
import weakref
from dataclasses import replace
from typing import Any

from ..embedders.interface import Embedder
from ..settings import Settings
from ..store.interface import Hit, SearchFilter, Store
from .centring import centred_vector, language_means, query_means
from .duplicates import collapse_duplicates
from .fusion import fuse
from .passage import Passage, cap_per_article
from .query import QueryVectors, embed_query
from .recency import recency_boost, wants_recent

LANGUAGES_TTL_S = 30.0
_LANGUAGES: "weakref.WeakKeyDictionary[Any, dict[tuple, tuple[float, dict[str, int]]]]" = weakref.WeakKeyDictionary()


def archive_languages(store: Store, flt: SearchFilter) -> dict[str, int]:
    """Chunks per language a query may see; a facet, remembered per filter until this process
    writes to the store or LANGUAGES_TTL_S pass (other processes writing to a server)."""
    key = (getattr(store, "writes", 0), flt.langs, flt.sources, flt.since, flt.until, flt.article_ids, flt.collections)
    try:
        cache = _LANGUAGES.setdefault(store, {})
    except TypeError:
        cache = {}
    now = time.monotonic()
    hit = cache.get(key)
    if hit is None or now - hit[0] > LANGUAGES_TTL_S:
        hit = cache[key] = (now, store.facet("lang", flt))
    return hit[1]


def _union(*lists: list[Hit]) -> list[Hit]:
    seen: dict[str, Hit] = {}
    for hits in lists:
        for h in hits:
            seen.setdefault(h.id, h)
    return list(seen.values())


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
    """Top passages for a query. ``mode``: hybrid (default), dense or sparse.

    Dense candidates come from each language of the archive separately (so one language
    cannot crowd the others out), BM25 ones from the whole archive; all are re-scored by
    ``fuse``. Questions that ask for the latest coverage get a recency boost; copies of
    one story in several outlets collapse into one result; at most ``max_per_article``
    chunks of one article.
    """
    k = k or settings.top_k
    qv = vectors or embed_query(query, embedders)
    limit = max(settings.candidates, k * settings.max_per_article * 3)
    sparse: list[Hit] = []
    if mode in ("hybrid", "sparse") and qv.sparse[0]:
        sparse = store.query({}, qv.sparse, flt, limit=limit, candidates=limit, with_vectors=mode != "sparse")
    if mode == "sparse":
        hits = sparse
    else:
        counts = archive_languages(store, flt)
        priors = settings.language_priors
        means = language_means(store, counts, flt.collections, priors) if settings.centre_languages else {}
        qmeans = query_means(means, qv.lang, priors) if means else {}
        requests: list[tuple[str, list[float], SearchFilter, int]] = []
        groups = [replace(flt, langs=(lang,)) for lang in counts] if settings.per_language and len(counts) > 1 else [flt]
        # each language's candidates are re-scored exactly: a few pages' worth per language is enough
        per_group = limit if len(groups) == 1 else min(limit, max(settings.candidates // 2, 2 * k * settings.max_per_article))
        for name, vec in qv.dense.items():
            centred = centred_vector(vec, qmeans.get(name)).tolist()
            requests.extend((name, centred, group, per_group) for group in groups)
        dense = store.query_many(requests)
        coverage = {e.name: e.languages for e in embedders}
        hits = fuse(_union(*dense, sparse), qv, coverage, means, sparse, settings.sparse_weight if mode == "hybrid" else 0.0,
                    priors=priors)
    if settings.recency_weight > 0 and wants_recent(query):
        hits = recency_boost(hits, settings.recency_weight, settings.recency_half_life_days)
    passages = [Passage.from_hit(h) for h in hits[: 4 * k * settings.max_per_article]]
    if settings.duplicate_threshold < 1:
        passages = collapse_duplicates(passages, settings.duplicate_threshold, k * settings.max_per_article, k)
    return cap_per_article(passages, settings.max_per_article, k)
