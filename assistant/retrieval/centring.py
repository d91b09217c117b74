"""Language centring: each archive language's mean passage vector, per embedder, removed before comparing.

The means come from a sample of what the user may see, blended with a prior estimated once on
public parallel text (``language_priors.npz``); they are cached per store and collections.
"""
from __future__ import annotations

import weakref
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..store.interface import SearchFilter, Store

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


def centred_vector(vec: list[float] | np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """``vec`` normalised, less ``mean`` (when it has the same shape), normalised again."""
    v = np.asarray(vec, dtype=np.float32)
    v = v / max(float(np.linalg.norm(v)), 1e-12)
    if mean is not None and mean.shape == v.shape:
        v = v - mean
    return v / max(float(np.linalg.norm(v)), 1e-12)
