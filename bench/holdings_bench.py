"""What the Library view and `status` cost on a large store: the article scan against plain facets.

    python bench/holdings_bench.py --chunks 100000

Builds an Edge store of synthetic chunks (3 per article, random 8-d vectors, ~800-char texts) in a
temporary folder, then times holdings.article_facts (the scan behind holdings, status years and
coverage months), the article_id facet that status already ran, and the lang facet (filter choices).
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

from assistant.retrieval import holdings
from assistant.store.edge import EdgeStore
from assistant.store.interface import ChunkPoint, SearchFilter


def build(store: EdgeStore, chunks: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    batch: list[ChunkPoint] = []
    for i in range(chunks):
        payload = {"article_id": f"a{i // 3}", "lang": rng.choice(["en", "fr", "zh"]), "source": f"outlet-{i % 50}",
                   "published": f"{1990 + i % 35}-{1 + i % 12:02d}-01T00:00:00Z", "collection": "default",
                   "text": "x" * 800}
        batch.append(ChunkPoint(str(uuid.UUID(int=rng.getrandbits(128))), {"bench": [rng.random() for _ in range(8)]},
                                ([1], [1.0]), payload))
        if len(batch) == 2000:
            store.upsert(batch)
            batch = []
    store.upsert(batch)
    store.flush()


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="holdings-bench-") as tmp:
        store = EdgeStore(Path(tmp) / "qdrant", {"bench": 8})
        _, build_s = timed(lambda: build(store, args.chunks))
        flt = SearchFilter()
        facts, scan_s = timed(lambda: holdings.article_facts(store, flt))
        ids, facet_ids_s = timed(lambda: store.facet("article_id", flt, limit=10_000_000))
        _, facet_lang_s = timed(lambda: store.facet("lang", flt))
        store.close()
    result = {"chunks": args.chunks, "articles": len(facts), "build_s": build_s, "article_scan_s": scan_s,
              "article_id_facet_s": facet_ids_s, "lang_facet_s": facet_lang_s}
    assert len(ids) == len(facts)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
