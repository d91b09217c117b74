"""BM25 sparse vectors for Qdrant's IDF modifier, in any script.

Space-separated languages are split into accent-folded lowercase words; CJK runs
become single characters plus character bigrams, so a Chinese query matches
Chinese text without a word segmenter. Qdrant multiplies the query side by IDF,
which makes the dot product a BM25 score.
"""
from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from functools import lru_cache

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_CJK_RE = re.compile(rf"[{_CJK}]")

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
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(unicodedata.normalize("NFKC", text)):
        run = match.group()
        if _CJK_RE.match(run):
            tokens.extend(run)
            tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(_fold(run))
    return tokens


@lru_cache(maxsize=1 << 18)
def _term_id(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


def _merge(counts: Counter[str]) -> dict[int, float]:
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
    weights = Counter({t: tf * (K1 + 1) / (tf + norm) for t, tf in counts.items()})
    merged = _merge(weights)
    return list(merged), list(merged.values())


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """Each distinct query term once; Qdrant applies IDF."""
    merged = _merge(Counter(dict.fromkeys(tokenize(text), 1.0)))
    return list(merged), list(merged.values())
