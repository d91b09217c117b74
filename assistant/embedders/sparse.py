"""BM25 sparse vectors, in any script.

Space-separated languages are split into accent-folded lowercase words; CJK runs
become single characters plus character bigrams, so a Chinese query matches
Chinese text without a word segmenter. The store multiplies the query side by IDF
counted over the chunks the query may see (``store.bm25_query``), which makes the dot
product a BM25 score.
"""
from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from functools import lru_cache
from typing import Mapping

import numpy as np

from ..text.scripts import CJK, CJK_CHAR

_TOKEN_RE = re.compile(rf"[{CJK}]+|[^\W_{CJK}]+", re.UNICODE)

K1 = 1.2
B = 0.75
AVG_DOC_TOKENS = 250.0


@lru_cache(maxsize=1 << 16)  # words recur: a cache makes tokenizing an archive several times faster
def _fold(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text)
    runs = _TOKEN_RE.findall(text)
    if not CJK_CHAR.search(text):
        return list(map(_fold, runs))  # no CJK run: no Python loop per word
    tokens: list[str] = []
    for run in runs:
        if CJK_CHAR.match(run):
            tokens.extend(run)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(_fold(run))
    return tokens


@lru_cache(maxsize=1 << 18)
def _term_id(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


def _merge(counts: Mapping[str, float]) -> dict[int, float]:
    merged: dict[int, float] = {}
    for token, value in counts.items():
        tid = _term_id(token)
        merged[tid] = merged.get(tid, 0.0) + value
    return merged


def document_vector(text: str) -> tuple[list[int], list[float]]:
    """BM25 term-frequency weights of a passage (indices, values)."""
    tokens = tokenize(text)
    counts = Counter(tokens)
    norm = K1 * (1 - B + B * len(tokens) / AVG_DOC_TOKENS)
    ids = list(map(_term_id, counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    weights = (tf * (K1 + 1) / (tf + norm)).tolist()  # the same doubles as term by term in Python
    if len(set(ids)) == len(ids):
        return ids, weights
    merged = _merge(dict(zip(counts, weights)))  # two words share a hash: their weights add
    return list(merged), list(merged.values())


def cache_clear() -> None:
    """Forget the cached word folds and term ids (benchmarks start each round cold)."""
    _fold.cache_clear()
    _term_id.cache_clear()


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """Each distinct query term once; the store applies IDF (``store.bm25_query``)."""
    merged = _merge(dict.fromkeys(tokenize(text), 1.0))
    return list(merged), list(merged.values())
