"""Hybrid retrieval: language-centred dense legs per archive language, a bounded BM25 bonus,
recency, near-duplicate collapse, a few chunks per article; and exact-phrase look-up."""
from __future__ import annotations

import re
import time
import unicodedata
import weakref
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .embed import Embedder
from .settings import Settings
from .sparse import query_vector
from .store import ArticleKey, Hit, SearchFilter, Store
from .unicode_ranges import CJK_CHAR


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


@dataclass
class QueryVectors:
    dense: dict[str, list[float]]
    sparse: tuple[list[int], list[float]]
    lang: str = ""  # the question's language, '' when unknown


def query_language(text: str) -> str:
    from ingest.normalize import detect_language

    return detect_language(text)


def embed_query(text: str, embedders: list[Embedder]) -> QueryVectors:
    return QueryVectors({e.name: e.embed_query(text).tolist() for e in embedders}, query_vector(text), query_language(text))


# -- language centring ---------------------------------------------------------------------
SAMPLE_PER_LANGUAGE = 1000
SHRINK_CHUNKS = 20  # without a prior: a language with n chunks has its mean scaled by n / (n + 20)
# With a prior: the archive's own mean weighs n / (n + PRIOR_CHUNKS), the prior the rest. 200 is
# the lead measured in issue 17 (a real-news archive: French questions 0.33 -> 0.71 recall@5,
# English unchanged; replacing the archive's estimate outright cost English 5 points).
PRIOR_CHUNKS = 200
PRIORS_FILE = Path(__file__).resolve().parent / "language_priors.npz"  # scripts/language_priors.py writes it
_MEANS: "weakref.WeakKeyDictionary[Any, dict[tuple, tuple[int, dict[str, np.ndarray]]]]" = weakref.WeakKeyDictionary()


@lru_cache(maxsize=1)
def language_priors() -> dict[str, dict[str, np.ndarray]]:
    """Per language, per embedder, the mean passage vector estimated once on public parallel
    text (XQuAD, TICO-19: scripts/language_priors.py); {} when the file is absent."""
    out: dict[str, dict[str, np.ndarray]] = {}
    if PRIORS_FILE.exists():
        with np.load(PRIORS_FILE) as data:
            for key in data.files:
                name, lang = key.split(".", 1)
                out.setdefault(lang, {})[name] = np.asarray(data[key], dtype=np.float32)
    return out


def blended_mean(archive: np.ndarray | None, n: int, prior: np.ndarray | None) -> np.ndarray | None:
    """The language's mean for centring: the archive's own estimate (from ``n`` chunks) blended
    with the embedder's prior by the language's share; without a prior, shrunk towards zero."""
    if prior is None or (archive is not None and archive.shape != prior.shape):  # no prior for this embedder
        return None if archive is None else archive * (n / (n + SHRINK_CHUNKS))
    if archive is None:
        return prior
    w = n / (n + PRIOR_CHUNKS)
    return w * archive + (1 - w) * prior


def language_means(store: Store, counts: dict[str, int], collections: tuple[str, ...] | None = None,
                   priors: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """Mean dense vector of each language's chunks, per embedder, from a sample of the chunks
    ``collections`` hold (None: every collection) that no embargo hides.

    Multilingual embedders put a language's texts near each other whatever they say; that
    shared direction is what makes a same-language passage on the wrong topic outrank the
    right one in another language. Subtracting each language's mean before comparing removes
    it. The means shift every score, so they come from what the user may see; a language the
    archive holds little of gets its mean mostly from the embedder's prior (``blended_mean``).
    Cached per store and collections, recomputed when a language's chunk count moves by a tenth.
    """
    prior_means = language_priors() if priors else {}
    try:
        cache = _MEANS.setdefault(store, {})
    except TypeError:  # a store that cannot be weakly referenced: no cache
        cache = {}
    out: dict[str, dict[str, np.ndarray]] = {}
    for lang, n in counts.items():
        cached = cache.get((collections, priors, lang))
        if cached is None or abs(cached[0] - n) > 0.1 * cached[0]:
            sample = store.sample_vectors(SearchFilter(langs=(lang,), collections=collections), SAMPLE_PER_LANGUAGE)
            means: dict[str, np.ndarray] = {}
            for name in (sample[0] if sample else {}):
                vecs = np.asarray([v[name] for v in sample if name in v], dtype=np.float32)
                vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
                blended = blended_mean(vecs.mean(axis=0), len(vecs), prior_means.get(lang, {}).get(name))
                if blended is not None:
                    means[name] = blended
            cached = cache[(collections, priors, lang)] = (n, means)
        out[lang] = cached[1]
    return out


def query_means(means: dict[str, dict[str, np.ndarray]], lang: str, priors: bool = False) -> dict[str, np.ndarray]:
    """The mean vectors that centre a question in ``lang``: its archive language's, else (with
    ``priors``) its prior: a question in a language the archive lacks still carries that direction."""
    return means.get(lang) or (language_priors().get(lang, {}) if priors else {})


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


def _centred(vec: list[float] | np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    v = np.asarray(vec, dtype=np.float32)
    v = v / max(float(np.linalg.norm(v)), 1e-12)
    if mean is not None and mean.shape == v.shape:
        v = v - mean
    return v / max(float(np.linalg.norm(v)), 1e-12)


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
    qvecs = {name: _centred(vec, qmeans.get(name)) for name, vec in query.dense.items()}
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
            centred = _centred(vec, qmeans.get(name)).tolist()
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


_FOLD_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({c: '"' for c in "“”„‟«»「」『』"} | {c: "'" for c in "‘’‚‛‹›"})
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Case-, accent-, width-, quote-mark- and spacing-insensitive form for exact wording checks."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES)).casefold()
    return _FOLD_SPACE.sub(" ", _COMBINING.sub("", decomposed)).strip()


def find_phrase(phrase: str, store: Store, flt: SearchFilter, limit: int = 100_000) -> list[Passage]:
    """Every article whose text contains the wording, earliest first: one passage per article.

    The store's text index finds candidates (phrase match, or the raw substring for CJK the
    tokenizer splits differently); each is confirmed by a substring test on folded text, so a
    result always contains the words. Undated articles come last.
    """
    needle = fold(phrase)
    if not needle:
        return []
    first: dict[ArticleKey, Passage] = {}
    for hit in store.phrase(phrase, flt, limit):
        p = Passage.from_hit(hit)
        if needle not in fold(p.text):
            continue
        seen = first.get(p.key)
        if seen is None or p.start < seen.start:
            first[p.key] = p
    return sorted(first.values(), key=lambda p: (p.published is None, p.published or "", p.article_id, p.collection))


# Words that ask for the newest coverage, in the archive's main languages (matched as word starts).
RECENCY_CUES = re.compile(
    r"\b(?:latest|newest|most recent|recent(?:ly)?|this (?:year|month|week)|so far this|nowadays|"
    r"derni[eè]re?s|r[ée]cemment|r[ée]cente?s?|cette ann[ée]e|ce mois|"
    r"[úu]ltim[oa]s|reciente(?:s|mente)?|este a[ñn]o|este mes|"
    r"neueste[nrs]?|aktuelle[nrs]?|k[üu]rzlich|dieses jahr|"
    r"последн|недавн|в этом году|"
    r"أحدث|مؤخرا|هذا العام)"
    r"|最新|最近|近期|近日|今年|本月|本周|目前|最近の|今年の",
    re.IGNORECASE,
)


def wants_recent(query: str) -> bool:
    """Does the question ask for the latest coverage ("latest", "récemment", "最新", "今年"...)?"""
    return bool(RECENCY_CUES.search(query))


def _day_number(published: str | None) -> float | None:
    if not published:
        return None
    try:
        return datetime.fromisoformat(published.replace("Z", "+00:00")).timestamp() / 86400.0
    except ValueError:
        return None


def recency_boost(hits: list[Hit], weight: float, half_life_days: float) -> list[Hit]:
    """Add ``weight × 0.5^(age / half_life)`` to each score, age counted from the newest hit.

    Measured from the newest candidate rather than today, so an archive that stopped in 2020
    still puts its latest coverage first. Undated hits get no boost. Re-sorted.
    """
    days = [_day_number(h.payload.get("published")) for h in hits]
    newest = max((d for d in days if d is not None), default=None)
    if newest is None or weight <= 0:
        return hits
    boosted = [
        Hit(h.id, h.score + (weight * 0.5 ** ((newest - d) / half_life_days) if d is not None else 0.0), h.payload,
            legs=h.legs)
        for h, d in zip(hits, days)
    ]
    return sorted(boosted, key=lambda h: -h.score)


def shingles(text: str) -> set[str]:
    """Word 3-grams (character 4-grams where the text is mostly CJK) of the folded text."""
    folded = fold(text)
    if len(CJK_CHAR.findall(folded)) * 2 > len(folded.replace(" ", "")):
        chars = folded.replace(" ", "")
        return {chars[i : i + 4] for i in range(len(chars) - 3)}
    words = re.findall(r"\w+", folded)
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


def near_duplicate(a: set[str], b: set[str], threshold: float) -> bool:
    """Most of the shorter text's shingles are in the other (a copy, trimmed or lightly edited)."""
    small = min(len(a), len(b))
    return small >= 8 and len(a & b) >= threshold * small


def collapse_duplicates(passages: list[Passage], threshold: float, keep: int, lookahead: int) -> list[Passage]:
    """Keep rank order; an article whose passage copies a better-ranked article's passage is
    folded into that result (its outlet, date and link listed in ``duplicates``), all its chunks.

    Stops ``lookahead`` passages after the ``keep``-th distinct one (what is shown), so the
    cost stays bounded by the page size, not the candidate count.
    """
    kept: list[tuple[Passage, set[str]]] = []
    folded_into: dict[ArticleKey, Passage] = {}
    out: list[Passage] = []
    stop = len(passages)
    for i, p in enumerate(passages):
        if i >= stop:
            break
        if p.key in folded_into:
            continue
        sh = shingles(p.text)
        twin = next((k for k, ksh in kept if k.key != p.key and near_duplicate(sh, ksh, threshold)), None)
        if twin is not None:
            folded_into[p.key] = twin
            twin.duplicates.append({"article_id": p.article_id, "title": p.title, "source": p.source,
                                    "published": p.published, "url": p.url, "lang": p.lang})
            continue
        if len(out) < keep:
            kept.append((p, sh))
            if len(out) == keep - 1:
                stop = min(stop, i + 1 + lookahead)
        out.append(p)
    return out
