"""Retrieval latency at archive scale: p50/p95 of one query, query embedding excluded.

Builds (once, then reuses) an embedded Qdrant Edge store of N chunks whose payloads and
BM25 sparse vectors are real (text, languages and dates cycled from ../shared/corpora)
and whose dense vectors are synthetic unit vectors of the configured embedders' sizes.
Queries are real questions (sparse leg) with synthetic dense vectors, run through the
same ``retrieve`` the service uses, so fusion, per-language legs, duplicate collapse and
grouping are all timed. Target: p95 <= 50 ms at 100,000 chunks.

With ``--desks K`` the chunks are spread over K collections ("desk-0"...) and every 50th
article is under embargo; queries are then timed for a user who sees everything and for
one who sees desk-0 only, each for the whole retrieval and for the BM25 leg alone (whose
statistics are counted with the user's filter: ``store.bm25_query``).

    python bench/retrieval_bench.py --data-dir /tmp/bench-retrieval --chunks 100000
    python bench/retrieval_bench.py --chunks 10000 --desks 4 --queries 100
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.embedders.factory import build_embedders  # noqa: E402
from assistant.embedders.sparse import document_vector, query_vector  # noqa: E402
from assistant.retrieval.phrases import find_phrase  # noqa: E402
from assistant.retrieval.query import QueryVectors  # noqa: E402
from assistant.retrieval.search import retrieve  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from assistant.store.edge import EdgeStore  # noqa: E402
from assistant.store.interface import EVERYTHING, ChunkPoint, SearchFilter  # noqa: E402
from assistant.store.shared import iso  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
TEXTS = ["xquad/corpus.en.jsonl", "xquad/corpus.zh.jsonl", "xquad/corpus.es.jsonl", "xquad/corpus.de.jsonl",
         "xquad/corpus.ru.jsonl", "xquad/corpus.ar.jsonl", "rgb-zh/corpus.jsonl"]
QUESTIONS = ["xquad/questions.en.jsonl", "xquad/questions.zh.jsonl", "xquad/questions.es.jsonl", "rgb-zh/questions.jsonl"]


def _rows(rel: str) -> list[dict]:
    with open(CORPORA / rel, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


EMBARGO_EVERY = 50  # articles: with --desks, every 50th is under embargo until EMBARGO_UNTIL
EMBARGO_UNTIL = "2999-01-01T00:00:00Z"


def build(store: EdgeStore, dims: dict[str, int], n: int, seed: int = 7, desks: int = 1) -> None:
    rng = np.random.default_rng(seed)
    rows = [r for rel in TEXTS for r in _rows(rel)]
    sparse = {}  # texts repeat past ~8,800 rows: tokenize each once
    start = datetime(2015, 1, 1, tzinfo=timezone.utc)
    batch = 1000
    for lo in range(0, n, batch):
        size = min(batch, n - lo)
        dense = {name: _unit(rng, size, dim) for name, dim in dims.items()}
        points = []
        for j in range(size):
            i = lo + j
            row = rows[i % len(rows)]
            text = row["body"][:1500]
            article = f"bench-{i // 3}"
            payload = {
                "article_id": article, "chunk_id": f"{article}-{i % 3}", "chunk_index": i % 3, "n_chunks": 3,
                "title": row.get("title") or text[:60], "source": f"outlet-{i % 40}", "url": f"https://example.org/{i}",
                "lang": row["lang"], "authors": [], "section": "",
                "collection": f"desk-{(i // 3) % desks}" if desks > 1 else "default", "text": text,
                "start": 0, "end": len(text), "content_hash": f"h{i // 3}", "source_path": "bench",
                "published": iso(start + timedelta(hours=int(rng.integers(0, 24 * 3650)))),
            }
            if desks > 1 and (i // 3) % EMBARGO_EVERY == 0:
                payload["embargo_until"] = EMBARGO_UNTIL
            if i % len(rows) not in sparse:
                sparse[i % len(rows)] = document_vector(text)
            # a text repeats about every 8,800 chunks: it stands for the same wire story in other outlets
            points.append(ChunkPoint(i + 1, {k: v[j].tolist() for k, v in dense.items()}, sparse[i % len(rows)], payload))
        store.upsert(points)
        if lo % 20000 == 0:
            print(f"  {lo + size} chunks", flush=True)
    store.flush()


WARM_UP = 5  # queries not timed


def _times(run, questions: list[str], vectors: list[QueryVectors]) -> list[float]:
    """Milliseconds of ``run(text, vectors)`` per question, the first WARM_UP left out, sorted."""
    times = []
    for i, (text, qv) in enumerate(zip(questions, vectors)):
        t = time.perf_counter()
        run(text, qv)
        if i >= WARM_UP:
            times.append((time.perf_counter() - t) * 1000)
    return sorted(times)


def _pct(times: list[float], p: int) -> float:
    return round(statistics.median(times) if p == 50 else times[max(0, int(p / 100 * len(times)) - 1)], 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-retrieval"))
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--embedders", default=None, help="vector names and sizes as the default settings (e.g. use,e5)")
    ap.add_argument("--desks", type=int, default=1, help="spread the chunks over this many collections (and embargo "
                                                         "every 50th article); time a one-desk user too")
    ap.add_argument("--optimize", action="store_true",
                    help="build the HNSW indexes first (Edge searches unindexed segments by brute force until optimized)")
    args = ap.parse_args()
    flags = {"data_dir": str(args.data_dir)}
    if args.embedders:
        flags["embedders"] = args.embedders
    settings = load_settings(**flags)
    embedders = build_embedders(settings)
    dims = {e.name: e.dim for e in embedders}  # sizes are known without loading the models
    desks = f"-desks{args.desks}" if args.desks > 1 else ""
    path = args.data_dir / f"qdrant-{args.chunks}-{'-'.join(sorted(dims))}{desks}"
    fresh = not path.exists()
    store = EdgeStore(path, dims)
    try:
        if fresh or store.count(EVERYTHING) < args.chunks:
            t = time.perf_counter()
            print(f"building {args.chunks} chunks in {path} ...", flush=True)
            build(store, dims, args.chunks, desks=args.desks)
            print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
        optimized_s = None
        if args.optimize:
            t = time.perf_counter()
            store.shard.optimize()
            optimized_s = round(time.perf_counter() - t, 1)
            print(f"optimized in {optimized_s} s", flush=True)
        rng = np.random.default_rng(11)
        questions = [r["question"] for rel in QUESTIONS for r in _rows(rel)]
        random.Random(3).shuffle(questions)
        questions = questions[: args.queries]
        flt = SearchFilter()
        vectors = [QueryVectors({name: _unit(rng, 1, dim)[0].tolist() for name, dim in dims.items()}, query_vector(text),
                                lang="zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en")
                   for text in questions]
        users = {"everything": flt, **({"one desk": SearchFilter(collections=("desk-0",))} if args.desks > 1 else {})}
        per_user = {}
        for user, user_flt in users.items():
            whole = _times(lambda text, qv: retrieve(text, store, embedders, settings, user_flt, vectors=qv),
                           questions, vectors)
            leg = _times(lambda text, qv: store.query({}, qv.sparse, user_flt, limit=settings.candidates,
                                                      candidates=settings.candidates), questions, vectors)
            per_user[user] = {"p50_ms": _pct(whole, 50), "p95_ms": _pct(whole, 95), "max_ms": round(whole[-1], 2),
                              "bm25_leg_p50_ms": _pct(leg, 50), "bm25_leg_p95_ms": _pct(leg, 95)}
        p95 = per_user["everything"]["p95_ms"]
        phrase_t = []
        for text in ["interest rates", "中国", "the city"]:
            t = time.perf_counter()
            n = len(find_phrase(text, store, flt, limit=2000))
            phrase_t.append(((time.perf_counter() - t) * 1000, n))
        print(json.dumps({
            "chunks": store.count(flt), "vectors": dims, "queries": len(questions) - WARM_UP, "optimize_s": optimized_s,
            **per_user["everything"], "target_p95_ms": 50, "met": p95 <= 50,
            **({"one desk": per_user["one desk"]} if "one desk" in per_user else {}),
            "phrase_ms": [round(t, 1) for t, _ in phrase_t], "phrase_articles": [n for _, n in phrase_t],
        }, indent=2))
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
