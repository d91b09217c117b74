"""A question as the store searches it: a dense vector per embedder, the BM25 vector, its language."""
from __future__ import annotations

from dataclasses import dataclass

from ..embedders.interface import Embedder
from ..embedders.sparse import query_vector


@dataclass
class QueryVectors:
    dense: dict[str, list[float]]
    sparse: tuple[list[int], list[float]]
    lang: str = ""  # the question's language, '' when unknown


def query_language(text: str) -> str:
    from ..text.language import detect_language

    return detect_language(text)


def embed_query(text: str, embedders: list[Embedder]) -> QueryVectors:
    return QueryVectors({e.name: e.embed_query(text).tolist() for e in embedders}, query_vector(text), query_language(text))
