"""Abstention: does `ask` hold back when the archive lacks the answer, and answer when it has it?

Four archive shapes from ../shared/corpora, each built once and reused; questions go through
the service's own `ask` (extractive mode, the default embedders):

- xquad-en: XQuAD's 240 English paragraphs. Answerable: XQuAD questions in English, Chinese
  and Spanish. Unanswerable: RGB's Chinese news questions.
- rgb-zh: RGB's 7,337 Chinese news passages. Answerable: RGB's questions. Unanswerable: XQuAD's.
- start-up: what `scripts/start.sh` ingests (the French seed press release and XQuAD's mixed
  English/Chinese paragraphs: 262 chunks, no language with 200). Answerable: XQuAD en, zh, es.
  Unanswerable: RGB's questions.
- newsroom-day: the skewed archive of bench/newsroom_day.py (RGB, AVeriTeC's English evidence,
  the French seed, 15 Spanish paragraphs; built there). Answerable: RGB's questions, and for the
  held-out figures only the 40 cross-lingual (en, fr) ones. Unanswerable: XQuAD questions (en, zh)
  about paragraphs the archive lacks, and for the held-out figures only the 10 hand-written ones
  of ../shared/corpora/newsroom-day/unanswerable.jsonl. AVeriTeC's evidence questions ("Where
  was the claim first published") are written against a claim the question does not carry, so
  they are labelled answerable by nothing but their source: bench/newsroom_day.py reports them.

Targets (issues 5 and 17): abstain on at least 90% of the unanswerable questions while answering
at least 90% of the answerable ones, on every shape. The model is fitted on the first 150
questions of each file (`--fit`); the default --offset 200 measures on questions never used for
that. Also reports answer-contains and citation precision on the answerable sets.

    python bench/abstention_bench.py [--per-set 100] [--offset 200] [--json PATH]
    python bench/abstention_bench.py --fit          # refit the model on questions 0-149

`--fit` computes each calibration question's evidence (`Assistant.answerability`), fits the
logistic model of assistant/answering/answerability.py (numpy, L2-regularised Newton steps) on the
questions that pass the hard tests (relevance, key words), picks the probability threshold
that best balances answering and abstaining, and prints both to paste into the code.

The first run ingests the archives (RGB with `use,e5` takes 15-30 minutes on 2 cores, the
newsroom-day archive a little more).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import newsroom_day  # noqa: E402

from assistant.cli.evaluate import Question, _contains, load_questions, scratch_settings  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
DAY = "newsroom-day"  # built by bench/newsroom_day.py, not from a fixed list of files
ARCHIVES = {"xquad-en": [CORPORA / "xquad" / "corpus.en.jsonl"], "rgb-zh": [CORPORA / "rgb-zh" / "corpus.jsonl"],
            "start-up": [CORPORA / "seed" / "article.jsonl", CORPORA / "xquad" / "corpus.mixed-en-zh.jsonl"],
            DAY: []}
QUESTIONS = {"xquad-en": CORPORA / "xquad" / "questions.en.jsonl", "xquad-zh": CORPORA / "xquad" / "questions.zh.jsonl",
             "xquad-es": CORPORA / "xquad" / "questions.es.jsonl", "rgb": CORPORA / "rgb-zh" / "questions.jsonl",
             "cross-lingual": CORPORA / DAY / "questions.cross-lingual.jsonl",
             "hand-written": CORPORA / DAY / "unanswerable.jsonl"}
HELD_OUT_ONLY = ("cross-lingual", "hand-written")  # too few to fit on: every one of them is measured
# (archive, question set, answerable)
RUNS = [("xquad-en", "xquad-en", True), ("xquad-en", "xquad-zh", True), ("xquad-en", "xquad-es", True),
        ("rgb-zh", "rgb", True),
        ("rgb-zh", "xquad-en", False), ("rgb-zh", "xquad-zh", False), ("rgb-zh", "xquad-es", False),
        ("xquad-en", "rgb", False),
        ("start-up", "xquad-en", True), ("start-up", "xquad-zh", True), ("start-up", "xquad-es", True),
        ("start-up", "rgb", False),
        (DAY, "rgb", True), (DAY, "cross-lingual", True),
        (DAY, "xquad-en", False), (DAY, "xquad-zh", False), (DAY, "hand-written", False)]


def open_archive(name: str, data_dir: Path) -> tuple[Assistant, list[Path]]:
    """An assistant on the archive (ingested on first use) and the files it was built from."""
    if name == DAY:
        corpus, _ = newsroom_day.archive_sample(newsroom_day.question_sets(0, set()), 0)
        return newsroom_day.build(corpus, None), [newsroom_day.archive_file(corpus)]
    assistant = Assistant(scratch_settings(load_settings(data_dir=str(data_dir)), ARCHIVES[name]))
    report = assistant.ingest(ARCHIVES[name])
    print(f"{name}: {report.ingested} ingested, {report.unchanged} unchanged", file=sys.stderr)
    return assistant, ARCHIVES[name]


def questions_for(archive: str, qset: str, files: list[Path], per_set: int, offset: int) -> list[Question]:
    """The set's questions [offset, offset + per_set); on newsroom-day, XQuAD's about the Spanish
    paragraphs the archive holds are left out (answerable there)."""
    if qset in HELD_OUT_ONLY:
        return load_questions(files, QUESTIONS[qset], None) if offset else []
    questions = load_questions(files, QUESTIONS[qset], offset + per_set)[offset:]
    if archive == DAY and qset.startswith("xquad"):
        questions = [q for q in questions if not q.gold]
    return questions


def question_sets(data_dir: Path, per_set: int, offset: int) -> Iterator[tuple[Assistant, str, str, bool, list]]:
    """Each set's questions with an assistant on its archive (built once, then reused)."""
    for archive in ARCHIVES:
        assistant, files = open_archive(archive, data_dir)
        try:
            for arch, qset, answerable in RUNS:
                if arch == archive:
                    started = time.perf_counter()
                    yield assistant, archive, qset, answerable, questions_for(archive, qset, files, per_set, offset)
                    print(f"  {qset}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        finally:
            assistant.close()


def run(data_dir: Path, per_set: int, offset: int) -> dict:
    rows: list[dict] = []
    for assistant, archive, qset, answerable, questions in question_sets(data_dir, per_set, offset):
        for q in questions:
            answer = assistant.ask(q.text)
            rows.append({"archive": archive, "questions": qset, "answerable": answerable, "id": q.id,
                         "answered": not answer.abstained, "why": answer.why_abstained,
                         "contains": _contains(answer.answer, q.answers, q.all_answers_required),
                         "citations_on_gold": [c.article_id in q.gold for c in answer.citations]})
    return summarize(rows, load_settings(data_dir=str(data_dir)).embedders, per_set, offset)


def collect(data_dir: Path, per_set: int, offset: int) -> list[dict]:
    """Each question's evidence, as the service computes it before answering."""
    rows: list[dict] = []
    for assistant, archive, qset, answerable, questions in question_sets(data_dir, per_set, offset):
        for q in questions:
            ev = assistant.answerability(q.text)
            rows.append({"archive": archive, "questions": qset, "answerable": answerable,
                         "features": ev.features, "why": ev.why})
    return rows


HARD_TESTS = ("no relevant sentence", "key words missing", "nothing retrieved")


def fit(rows: list[dict], l2: float = 1.0, steps: int = 50) -> dict:
    """Logistic regression (Newton's method, L2 on the weights) on the rows past the hard tests."""
    usable = [r for r in rows if r["features"] and r["why"] not in HARD_TESTS]
    names = sorted(usable[0]["features"])
    x = np.array([[r["features"][n] for n in names] for r in usable])
    y = np.array([float(r["answerable"]) for r in usable])
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    reg = np.diag([0.0] + [l2] * len(names))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + reg @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg
        w -= np.linalg.solve(hess, grad)
    coef = w[1:] / sd
    model = {"intercept": round(float(w[0] - (coef * mu).sum()), 4)} | {n: round(float(c), 4) for n, c in zip(names, coef)}
    prob = {id(r): 1 / (1 + np.exp(-(model["intercept"] + sum(model[n] * r["features"][n] for n in names))))
            for r in usable}

    def at(t: float, some: list[dict] = rows) -> tuple[float, float]:
        """(answered answerable, abstained unanswerable) at threshold t: the hard tests' abstentions count."""
        said = [r["answerable"] for r in some if id(r) in prob and prob[id(r)] >= t]
        ans = sum(said) / max(1, sum(r["answerable"] for r in some))
        una = 1 - (len(said) - sum(said)) / max(1, sum(not r["answerable"] for r in some))
        return ans, una

    best = max((min(at(t)), round(float(t), 2)) for t in np.arange(0.05, 0.96, 0.01))[1]
    ans, una = at(best)
    shapes = {a: at(best, [r for r in rows if r["archive"] == a]) for a in dict.fromkeys(r["archive"] for r in rows)}
    return {"model": model, "threshold": best, "calibration": {"answered_answerable": round(ans, 3),
                                                               "abstained_unanswerable": round(una, 3)},
            "archives": {a: [round(v, 3) for v in pair] for a, pair in shapes.items()},
            "rows": len(rows), "fitted_on": len(usable)}


def summarize(rows: list[dict], embedders: tuple[str, ...], per_set: int, offset: int) -> dict:
    sets = []
    for arch, qset, answerable in RUNS:
        mine = [r for r in rows if r["archive"] == arch and r["questions"] == qset]
        if not mine:
            continue
        cites = [c for r in mine for c in r["citations_on_gold"]]
        sets.append({"archive": arch, "questions": qset, "answerable": answerable, "n": len(mine),
                     "answered": round(sum(r["answered"] for r in mine) / len(mine), 3),
                     "answer_contains": round(sum(r["contains"] for r in mine) / len(mine), 3) if answerable else None,
                     "citation_precision": round(sum(cites) / len(cites), 3) if answerable and cites else None,
                     "held_back_by": dict(Counter(r["why"] for r in mine if not r["answered"]))})
    return {"embedders": list(embedders), "per_set": per_set, "offset": offset, "sets": sets,
            "archives": {a: rates(r for r in rows if r["archive"] == a) for a in ARCHIVES},
            **rates(rows), "targets": {"answered_answerable": ">= 0.9", "abstained_unanswerable": ">= 0.9"}}


def rates(rows: Iterable[dict]) -> dict[str, float | None]:
    """Share of the answerable questions answered, and of the unanswerable ones held back."""
    rows = list(rows)
    ans = [r["answered"] for r in rows if r["answerable"]]
    una = [not r["answered"] for r in rows if not r["answerable"]]
    return {"answered_answerable": round(sum(ans) / len(ans), 3) if ans else None,
            "abstained_unanswerable": round(sum(una) / len(una), 3) if una else None}


def table(r: dict) -> str:
    lines = [f"embedders {','.join(r['embedders'])}, {r['per_set']} questions per set from #{r['offset']}", "",
             f"{'archive':10}{'questions':11}{'kind':13}{'answered':>9}{'contains':>9}{'cit.prec':>9}  held back by"]
    for s in r["sets"]:
        kind = "answerable" if s["answerable"] else "unanswerable"
        fmt = lambda v: f"{v:>9}" if v is not None else f"{'':>9}"  # noqa: E731
        lines.append(f"{s['archive']:10}{s['questions']:11}{kind:13}{s['answered']:>9}{fmt(s['answer_contains'])}"
                     f"{fmt(s['citation_precision'])}  {s['held_back_by']}")
    lines += [""] + [f"{a:13} answered {v['answered_answerable']}, abstained {v['abstained_unanswerable']}"
                     for a, v in r["archives"].items() if v["answered_answerable"] is not None]
    lines += ["", f"answered, answerable questions:     {r['answered_answerable']}   target >= 0.9",
              f"abstained, unanswerable questions:  {r['abstained_unanswerable']}   target >= 0.9"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/newsroom-abstention-bench"),
                        help="where the two archives are built once and kept")
    parser.add_argument("--per-set", type=int, default=100, help="questions per set")
    parser.add_argument("--offset", type=int, default=200, help="skip the first N questions of each file")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--fit", action="store_true", help="fit the answerability model on questions 0-149 instead")
    parser.add_argument("--rows", type=Path, help="with --fit: keep the collected evidence here (reused when present)")
    args = parser.parse_args()
    if args.fit:
        if args.rows and args.rows.exists():
            rows = json.loads(args.rows.read_text())  # evidence collected before: refit without recomputing it
        else:
            rows = collect(args.data_dir, 150, 0)
            if args.rows:
                args.rows.write_text(json.dumps(rows) + "\n")
        result = fit(rows)
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        return
    result = run(args.data_dir, args.per_set, args.offset)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
