"""Does fusion earn its name? Recall@5 and MRR of hybrid retrieval beside each of its legs.

For each archive shape and question set: hybrid (the default), dense (the embedders fused, no
BM25), BM25 alone, and each embedder alone (its language-centred cosine, no BM25). Issue 17's
targets: hybrid at least as high as the better of dense and BM25 on every set (and 5 points
above it on English news), and the fused dense at least as high as the best single embedder for
every question language.

The archives are those of bench/abstention_bench.py (xquad-en, rgb-zh, start-up) and
bench/newsroom_day.py (newsroom-day), built there on first use:

    python bench/fusion_bench.py [--limit 300] [--only start-up newsroom-day] [--sets "rgb zh"] [--json PATH]

English news here is AVeriTeC (claims and fact-checkers' questions against their evidence
snippets, in the newsroom-day archive); Chinese news is RGB.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from abstention_bench import CORPORA, DAY, QUESTIONS, open_archive  # noqa: E402

from assistant.cli.evaluate import gold_rank, load_questions  # noqa: E402
from assistant.retrieval.query import QueryVectors, embed_query  # noqa: E402
from assistant.retrieval.search import retrieve  # noqa: E402
from assistant.store.interface import SearchFilter  # noqa: E402

AVERITEC = CORPORA / "averitec-en" / "questions.jsonl"
# (archive, question set name, questions file, row filter on "type")
SETS = [("xquad-en", "xquad en", QUESTIONS["xquad-en"], None), ("xquad-en", "xquad zh", QUESTIONS["xquad-zh"], None),
        ("xquad-en", "xquad es", QUESTIONS["xquad-es"], None),
        ("start-up", "mixed en→zh", CORPORA / "xquad" / "questions.mixed-en-zh.en.jsonl", None),
        ("start-up", "mixed zh→en", CORPORA / "xquad" / "questions.mixed-en-zh.zh.jsonl", None),
        ("rgb-zh", "rgb zh", QUESTIONS["rgb"], None),
        (DAY, "rgb zh", QUESTIONS["rgb"], None), (DAY, "cross en/fr→zh", QUESTIONS["cross-lingual"], None),
        (DAY, "averitec claims", AVERITEC, "claim"), (DAY, "averitec questions", AVERITEC, "evidence_question")]
K = 5


def typed(path: Path, kind: str | None, limit: int) -> Path:
    """The questions file, or (for AVeriTeC) a copy holding only rows of one type."""
    if kind is None:
        return path
    out = Path("/tmp") / f"fusion-bench-{path.parent.name}-{kind}-{limit}.jsonl"
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line).get("type") == kind]
    out.write_text("\n".join(rows[:limit]) + "\n", encoding="utf-8")
    return out


def measure(assistant, questions, limit: int) -> dict[str, dict[str, float]]:
    """R@5 and MRR per leg (and per question language under "by lang")."""
    flt = SearchFilter()
    s = assistant.settings
    ranks: dict[str, list[int | None]] = defaultdict(list)
    langs: dict[str, list[str]] = defaultdict(list)
    for q in questions[:limit]:
        qv = embed_query(q.text, assistant.embedders)
        runs = {"hybrid": retrieve(q.text, assistant.store, assistant.embedders, s, flt, k=K, vectors=qv),
                "dense": retrieve(q.text, assistant.store, assistant.embedders, s, flt, k=K, mode="dense", vectors=qv),
                "bm25": retrieve(q.text, assistant.store, assistant.embedders, s, flt, k=K, mode="sparse", vectors=qv)}
        if len(assistant.embedders) > 1:
            for e in assistant.embedders:
                one = QueryVectors({e.name: qv.dense[e.name]}, qv.sparse, qv.lang)
                runs[e.name] = retrieve(q.text, assistant.store, [e], s, flt, k=K, mode="dense", vectors=one)
        for leg, results in runs.items():
            ranks[leg].append(gold_rank(results, q.gold))
            langs[leg].append(q.lang)
    out: dict[str, dict[str, float]] = {}
    for leg, rs in ranks.items():
        out[leg] = {"R@5": round(sum(r is not None and r < K for r in rs) / len(rs), 3),
                    "MRR": round(sum(1 / (r + 1) for r in rs if r is not None) / len(rs), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/newsroom-abstention-bench"))
    parser.add_argument("--limit", type=int, default=300, help="questions per set (0: all)")
    parser.add_argument("--only", nargs="*", help="archives to run (xquad-en rgb-zh start-up newsroom-day)")
    parser.add_argument("--sets", nargs="*", help="question sets to run (names as printed)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    limit = args.limit or 10**9
    rows = []
    for archive in dict.fromkeys(a for a, *_ in SETS):
        if args.only and archive not in args.only:
            continue
        assistant, files = open_archive(archive, args.data_dir)
        try:
            for arch, name, path, kind in SETS:
                if arch != archive or (args.sets and name not in args.sets):
                    continue
                questions = [q for q in load_questions(files, typed(path, kind, limit), limit) if q.gold]
                legs = measure(assistant, questions, limit)
                rows.append({"archive": archive, "set": name, "n": min(len(questions), limit), "legs": legs})
                best_leg = max(legs["dense"]["R@5"], legs["bm25"]["R@5"])
                print(f"{archive:13}{name:20}n={rows[-1]['n']:4}  " + "  ".join(
                    f"{leg} {v['R@5']:.3f}/{v['MRR']:.3f}" for leg, v in legs.items())
                    + f"  hybrid-best {legs['hybrid']['R@5'] - best_leg:+.3f}", flush=True)
        finally:
            assistant.close()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
