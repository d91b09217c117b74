"""The embedder interface: texts in, one vector each out."""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np


class Embedder(Protocol):
    name: str  # also the Qdrant vector name
    dim: int
    languages: frozenset[str] | None  # None: any language

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...
    # Embedders named by ``passage_tokenizers`` also take ``embed_passages(texts, tokens=...)``.

    def embed_query(self, text: str) -> np.ndarray: ...


Tokenizer = Callable[[list[str]], list]  # texts -> what an embedder's embed_passages(texts, tokens) takes
