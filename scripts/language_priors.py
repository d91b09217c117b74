"""Regenerate assistant/retrieval/language_priors.npz: each embedder's mean passage vector per language,
estimated once from public parallel text.

Why: retrieval removes each archive language's mean vector before comparing (a multilingual
embedder puts a language's texts near each other whatever they say; see
assistant/retrieval/centring.py, language_means). An archive's own estimate is good for a language it
holds thousands of chunks of and useless for one it holds one article of (the start-up
archive's French seed kept e5's raw, high cosines and came first for every search). A
language's direction is mostly a property of the embedder, so it is estimated here from text
that says the same thing in every language, and retrieval blends it with the archive's own.

Data (../shared/corpora, public):
- XQuAD (google-deepmind/xquad, CC BY-SA 4.0): the same 240 Wikipedia paragraphs professionally
  translated into en, zh, es, de, ru, ar. Each of those languages' prior is the mean over its
  240 paragraphs (embedded as ingest does: title, newline, text).
- TICO-19 (tico-19.github.io, CC0): 767 COVID-19 passages aligned in en, fr, zh. French is not
  in XQuAD; its prior is XQuAD's English mean plus (TICO's French mean minus TICO's English
  mean), the language offset measured on parallel text and placed on XQuAD's content. The
  same construction for Chinese is printed against XQuAD's own Chinese mean as a check.

    python scripts/language_priors.py [--embedders use,e5] [--tico 240]

Takes a few minutes on 2 cores (e5 embeds about 2,000 passages). Rerun when an embedder
changes (its vectors, its prefix) or one is added; the file is read by centring.py at run time.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.embedders.factory import build_embedder  # noqa: E402
from assistant.retrieval.centring import PRIORS_FILE  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
XQUAD_LANGUAGES = ("en", "zh", "es", "de", "ru", "ar")
TICO_ONLY = ("fr",)  # languages XQuAD lacks, placed through TICO-19's offset from English


def rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def text(row: dict) -> str:
    return f"{row['title']}\n{row['body']}" if row.get("title") else row["body"]


def mean(embedder, texts: list[str], batch: int = 32) -> np.ndarray:
    vecs = np.concatenate([embedder.embed_passages(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return vecs.mean(axis=0)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedders", default="use,e5")
    parser.add_argument("--tico", type=int, default=240, help="TICO-19 passages per language (of 767)")
    parser.add_argument("--out", type=Path, default=PRIORS_FILE)
    args = parser.parse_args()
    settings = load_settings(env={})
    tico: dict[str, list[str]] = {}
    for row in rows(CORPORA / "tico19-en-fr-zh" / "corpus.jsonl"):
        tico.setdefault(row["lang"], []).append(text(row))
    arrays: dict[str, np.ndarray] = {}
    for name in args.embedders.split(","):
        embedder = build_embedder(name, settings)
        xq = {lang: mean(embedder, [text(r) for r in rows(CORPORA / "xquad" / f"corpus.{lang}.jsonl")])
              for lang in XQUAD_LANGUAGES}
        tm = {lang: mean(embedder, tico[lang][: args.tico]) for lang in ("en", "zh", *TICO_ONLY)}
        for lang, vec in xq.items():
            arrays[f"{name}.{lang}"] = vec.astype(np.float32)
        for lang in TICO_ONLY:
            arrays[f"{name}.{lang}"] = (xq["en"] + tm[lang] - tm["en"]).astype(np.float32)
        check = xq["en"] + tm["zh"] - tm["en"]
        print(f"{name}: zh through TICO vs XQuAD's zh mean: cosine {cos(check, xq['zh']):.3f}; "
              f"norms {', '.join(f'{k} {np.linalg.norm(v):.3f}' for k, v in arrays.items() if k.startswith(name))}",
              file=sys.stderr)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(arrays)} vectors)", file=sys.stderr)


if __name__ == "__main__":
    main()
