"""Score fusion: language-centred cosines per embedder, weighted; BM25 reorders within the question's language."""
from __future__ import annotations

import numpy as np

from ..store.interface import Hit
from .centring import centred_vector, query_means
from .query import QueryVectors

# Each embedder's weight in the fused dense score (others: 1). multilingual-e5-small finds the gold
# more often than USE on news (bench/fusion_bench.py, recall@5 alone: RGB 0.985 vs 0.780, English and
# French questions on Chinese news 0.700 vs 0.475, AVeriTeC 0.715 vs 0.595), and an equal mean fell
# below e5 alone there (0.980, 0.650, 0.700). Counted twice, the fusion is at least e5 alone on those
# sets (0.990, 0.700, 0.725) and keeps XQuAD's cross-lingual figures, where USE adds to e5 (zh 0.973,
# es 0.990; three times: zh 0.963).
LEG_WEIGHTS = {"e5": 2.0}


def leg_weight(languages: frozenset[str] | None, query_lang: str, passage_lang: str) -> float:
    """1 where the embedder knows both languages (an unknown query language counts as known), else 0."""
    if languages is None:
        return 1.0
    return float(passage_lang in languages and (not query_lang or query_lang in languages))


def fuse(
    candidates: list[Hit],
    query: QueryVectors,
    coverage: dict[str, frozenset[str] | None],
    means: dict[str, dict[str, np.ndarray]],
    sparse: list[Hit],
    sparse_weight: float,
    within_language: bool = True,
    priors: bool = False,
) -> list[Hit]:
    """Score fusion on language-centred cosines; BM25 reorders within each language.

    Each candidate's dense score is the weighted mean over embedders (LEG_WEIGHTS) of the cosine
    between the query and the passage, each with its language's mean vector removed (see
    language_means); an embedder counts only where it knows the query's and the passage's
    language (USE knows 16, e5 about 100). BM25, scaled to the best lexical hit, only ever
    matches within the query's language, so adding it to every score would lift same-language
    passages on the wrong topic above the right one in another language. With
    ``within_language`` (default) it reorders the passages in the question's language (dense +
    agreement × ``sparse_weight`` × BM25, see ``lexical_agreement``) while the cross-language
    placement stays dense, and passages in other languages are ranked by the dense score alone;
    otherwise it is added to every score. Measured with `newsroom eval` and bench/fusion_bench.py.
    """
    top = max((h.score for h in sparse), default=0.0)
    lexical = {h.id: h.score / top for h in sparse} if top > 0 else {}
    qmeans = query_means(means, query.lang, priors) if means else {}
    qvecs = {name: centred_vector(vec, qmeans.get(name)) for name, vec in query.dense.items()}
    by_lang: dict[str, list[Hit]] = {}
    for hit in candidates:
        by_lang.setdefault(hit.payload.get("lang", ""), []).append(hit)
    fused: list[Hit] = []
    for lang, hits in by_lang.items():
        pmeans = means.get(lang, {})
        total = np.zeros(len(hits))
        weight = np.zeros(len(hits))
        legs: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # each embedder's cosines, and which hits have them
        for name, q in qvecs.items():
            has = np.array([bool(h.vectors and name in h.vectors) for h in hits])
            if not has.any():
                continue
            mat = np.zeros((len(hits), q.shape[0]), dtype=np.float32)
            mat[has] = np.asarray([h.vectors[name] for h in hits if h.vectors and name in h.vectors], dtype=np.float32)
            mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
            mean = pmeans.get(name)
            if mean is not None and mean.shape == q.shape:
                mat -= mean
            cos = (mat @ q) / np.maximum(np.linalg.norm(mat, axis=1), 1e-12)
            legs[name] = (cos, has)
            w = leg_weight(coverage.get(name), query.lang, lang) * LEG_WEIGHTS.get(name, 1.0) * has
            total += w * cos
            weight += w
        if legs and not weight.any():  # no embedder claims these languages: trust them all equally
            total = sum(c * h for c, h in legs.values())
            weight = sum(h.astype(float) for _, h in legs.values())
        dense = np.divide(total, weight, out=np.zeros(len(hits)), where=weight > 0)
        lex = np.array([lexical.get(h.id, 0.0) for h in hits])
        if within_language and lang != query.lang and query.lang:
            scores = dense  # words shared with a question in another language (names, numbers) are noise
        elif within_language:
            # BM25 reorders the passages in the question's language; their dense scores, best first,
            # go to that order, so lexical matches never lift one language above another.
            trust = lexical_agreement(dense, lex)
            order = np.argsort(-(dense + trust * sparse_weight * lex), kind="stable")
            scores = np.empty(len(hits))
            scores[order] = np.sort(dense)[::-1]
        else:
            scores = dense + sparse_weight * lex
        fused.extend(Hit(h.id, float(sc), h.payload, h.vectors,
                         {name: float(c[i]) for name, (c, h) in legs.items() if h[i]})
                     for i, (h, sc) in enumerate(zip(hits, scores)))
    return sorted(fused, key=lambda h: -h.score)


# How far BM25 may reorder the passages in the question's language: the share of its best
# LEXICAL_TOP that the dense leg also ranks in its best DENSE_TOP. Where the two legs agree on what
# is relevant, BM25's preference among those passages is signal (names, titles); where they do not,
# it is noise: on AVeriTeC's fact-check claims (long, plainly worded) BM25 alone finds the gold
# evidence for 57% and a fixed weight of 0.5 cost dense retrieval 6.6 points of recall@5 (0.774 ->
# 0.708), while on XQuAD's and RGB's questions the legs agree. bench/fusion_bench.py measures it.
LEXICAL_TOP = 5
DENSE_TOP = 10


def lexical_agreement(dense: np.ndarray, lex: np.ndarray) -> float:
    """Share of BM25's best LEXICAL_TOP passages (with any lexical score) among the dense leg's best DENSE_TOP."""
    best_dense = set(np.argsort(-dense, kind="stable")[:DENSE_TOP].tolist())
    best_lexical = [i for i in np.argsort(-lex, kind="stable")[:LEXICAL_TOP].tolist() if lex[i] > 0]
    return sum(i in best_dense for i in best_lexical) / len(best_lexical) if best_lexical else 0.0
