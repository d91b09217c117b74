"""A newsroom's ordinary day: a skewed archive, questions across languages, conversations, topic
switches, unanswerable questions and minority-language noise, all through `Assistant`.

The development set is described in ../shared/corpora/newsroom-day/README.md: RGB's Chinese
news (the large majority), AVeriTeC's English evidence snippets, the French seed press release
and the first 15 Spanish XQuAD paragraphs. Every question goes through the service's own
`search` (recall@5, noise) and `ask` (extractive mode: answered, answer contains, citation
precision, abstained, latency); conversations and topic switches pass the first turn as history.

    python bench/newsroom_day.py                         # quick: 1,500 passages, 30 questions a set
    python bench/newsroom_day.py --passages 0 --questions 0 --json day.json   # everything

`--passages N` samples the archive (the gold passages of every question asked always go in, the
rest drawn at random with the archive's own zh/en proportions; 0 = all 8,614 passages);
`--questions N` asks the first N questions of each set (the 20 cross-lingual ones included; 0 =
all); `--archive-questions M` (M >= N) samples the archive around M questions a set, so an archive
built for M is reused for fewer. The archive is built once into `bench/out/newsroom-day-<sample>/`
and reused (ingest with the default `use,e5` runs at about 9
passages/s on 2 cores: the full archive takes 16 minutes or more).

Sets and what each row measures:

- zh, en: RGB's questions and AVeriTeC's evidence questions, answerable;
- cross-lingual en/fr: 20 RGB questions asked in English and in French (gold stays Chinese),
  beside "cross-lingual zh", the same 20 asked in Chinese, for comparison;
- seed: "who signed the agreement" in fr, en, zh: answered with Yu Yingfu and Liu Tao;
- unanswerable: the 10 hand-written questions plus XQuAD questions (en, zh) about paragraphs
  the archive lacks: `abstained` is the figure;
- follow-up: each conversation's second turn asked with the first as history: `follow-up` is
  the share whose answer cites the gold evidence;
- topic switch: an answerable question asked after an unrelated one: `switch` is the share
  whose citations (and abstention) equal those it gets asked alone;
- noise: in every row, the share of questions whose top 5 holds a minority-language (fr, es)
  passage that is not gold.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.cli.evaluate import _contains, _percentile, gold_rank  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import load_settings  # noqa: E402

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
DAY = CORPORA / "newsroom-day"
OUT = Path(__file__).resolve().parent / "out"
SPANISH_PARAGRAPHS = 15  # the recipe: the first 15 rows of xquad/corpus.es.jsonl
MINORITY = ("fr", "es")  # the archive's small languages (one article, fifteen passages)
SEED_ANSWERS = ["Yu Yingfu", "Liu Tao"]
SEED_QUESTIONS = ["Qui a signé l'accord au nom des deux parties ?",
                  "Who signed the agreement on behalf of the two parties?",
                  "谁代表双方签署了这份协议？"]
SAMPLE_SEED = 17  # random draw of the archive sample and of the question sets
# XQuAD questions per language among the unanswerable ones when every question is asked (all
# 2,380 would be a Wikipedia set of their own: bench/abstention_bench.py measures those).
XQUAD_UNANSWERABLE = 100


@dataclass
class Q:
    text: str
    gold: set[str] = field(default_factory=set)
    answers: list[Any] = field(default_factory=list)
    all_required: bool = True
    history: list[tuple[str, str]] = field(default_factory=list)
    alone: str = ""  # topic switch: the question whose lone answer this one must equal


def rows(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _q(row: dict[str, Any]) -> Q:
    return Q(row["question"], {str(d) for d in row.get("gold_docs", [])}, row.get("answers", []))


def question_sets(n: int, spanish_paragraphs: set[str]) -> dict[str, list[Q]]:
    """The development set's questions; ``n`` per large set (0: all)."""
    rng = random.Random(SAMPLE_SEED)

    def take(items: list, k: int = n) -> list:
        return items if not k or k >= len(items) else rng.sample(items, k)

    rgb = {r["id"]: r for r in rows(CORPORA / "rgb-zh" / "questions.jsonl")}
    cross = rows(DAY / "questions.cross-lingual.jsonl")
    sets: dict[str, list[Q]] = {"zh": [_q(r) for r in take(list(rgb.values()))]}
    sets["en"] = [_q(r) for r in take([r for r in rows(CORPORA / "averitec-en" / "questions.jsonl")
                                        if r.get("type") == "evidence_question"])]
    originals = sorted({r["id"].rsplit("-", 1)[0] for r in cross})[: n or None]
    sets["cross zh"] = [_q(rgb[i]) for i in originals if i in rgb]
    for lang in ("en", "fr"):
        sets[f"cross {lang}"] = [_q(r) for r in cross if r["lang"] == lang and r["id"].rsplit("-", 1)[0] in originals]
    sets["seed"] = [Q(t, {"seed-cicg-huawei-2025-12-02"}, SEED_ANSWERS) for t in SEED_QUESTIONS]
    outside = [r for lang in ("en", "zh")
               for r in take(rows(CORPORA / "xquad" / f"questions.{lang}.jsonl"), n // 2 or XQUAD_UNANSWERABLE)
               if r["gold_paragraph"] not in spanish_paragraphs]
    sets["unanswerable"] = [Q(r["question"]) for r in rows(DAY / "unanswerable.jsonl")] + [Q(r["question"]) for r in outside]
    sets["follow-up"] = [Q(c["turns"][1], {str(d) for d in c["gold_docs"]}, history=[(c["turns"][0], "")])
                         for c in rows(DAY / "conversations.jsonl")]
    return sets


def asked(sets: dict[str, list[Q]], n: int) -> dict[str, list[Q]]:
    """The first ``n`` of each set (0: all), plus the topic switches: each answerable zh, en and
    seed question asked after an unrelated one of another set."""
    out = {k: v[: n or None] for k, v in sets.items()}
    switch: list[Q] = []
    for mine, other in (("zh", "en"), ("en", "zh"), ("seed", "zh")):
        for i, q in enumerate(out[mine]):
            before = out[other][i % len(out[other])].text
            switch.append(Q(q.text, q.gold, q.answers, history=[(before, "")], alone=q.text))
    out["topic switch"] = switch
    return out


def archive_sample(sets: dict[str, list[Q]], passages: int) -> tuple[list[dict[str, Any]], set[str]]:
    """The skewed archive: gold passages of every question, the minority languages, and a random
    draw of the rest in the archive's own proportions (``passages`` in all; 0: everything)."""
    zh = rows(CORPORA / "rgb-zh" / "corpus.jsonl")
    en = rows(CORPORA / "averitec-en" / "corpus.jsonl")
    es = rows(CORPORA / "xquad" / "corpus.es.jsonl")[:SPANISH_PARAGRAPHS]
    seed = rows(CORPORA / "seed" / "article.jsonl")
    if passages:
        gold = {d for qs in sets.values() for q in qs for d in q.gold}
        rng = random.Random(SAMPLE_SEED)
        picked: list[dict[str, Any]] = []
        for part in (zh, en):
            must = [r for r in part if r["id"] in gold]
            rest = [r for r in part if r["id"] not in gold]
            want = max(0, round(passages * len(part) / (len(zh) + len(en))) - len(must))
            picked += must + rng.sample(rest, min(want, len(rest)))
        zh, en = [r for r in picked if r["lang"] == "zh"], [r for r in picked if r["lang"] != "zh"]
    return zh + en + seed + es, {r["paragraph"] for r in es}


def archive_file(corpus: list[dict[str, Any]]) -> Path:
    """The archive's own file under bench/out (its data folder sits beside it)."""
    key = hashlib.sha256(json.dumps(sorted(r["id"] for r in corpus)).encode()).hexdigest()[:10]
    return OUT / f"newsroom-day-{len(corpus)}-{key}" / "archive.jsonl"


def build(corpus: list[dict[str, Any]], embedders: str | None) -> Assistant:
    """The archive's own data folder under bench/out, ingested once and reused."""
    path = archive_file(corpus)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus), encoding="utf-8")
    flags = {"data_dir": str(folder / "data"), "answer_mode": "extractive"}
    if embedders:
        flags["embedders"] = embedders
    assistant = Assistant(load_settings(**flags))
    started = time.perf_counter()
    report = assistant.ingest([path])
    print(f"archive {folder.name}: {report.ingested} ingested, {report.unchanged} unchanged "
          f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return assistant


def measure(assistant: Assistant, sets: dict[str, list[Q]]) -> list[dict[str, Any]]:
    """One row per set: each question searched (top 5) and asked."""
    alone: dict[str, Any] = {}  # question -> its lone answer (topic switches compare with it)
    out: list[dict[str, Any]] = []
    for name, questions in sets.items():
        m: dict[str, list[float]] = defaultdict(list)
        for q in questions:
            results = assistant.search(q.text, k=5)
            if q.gold and name not in ("follow-up", "topic switch"):
                rank = gold_rank(results, q.gold)
                m["recall@5"].append(float(rank is not None and rank < 5))
            m["noise"].append(float(any(r.lang[:2] in MINORITY and r.article_id not in q.gold for r in results)))
            started = time.perf_counter()
            answer = assistant.ask(q.text, history=q.history or None)
            m["latency"].append((time.perf_counter() - started) * 1000)
            if not q.history:
                alone[q.text] = answer
            m["answered"].append(float(not answer.abstained))
            m["abstained"].append(float(answer.abstained))
            if q.answers:
                m["contains"].append(float(_contains(answer.answer, q.answers, q.all_required)))
            if q.gold:
                m["cit. prec"].extend(float(c.article_id in q.gold) for c in answer.citations)
            if name == "follow-up":
                m["follow-up"].append(float(any(c.article_id in q.gold for c in answer.citations)))
            if q.alone:
                first = alone.get(q.alone) or assistant.ask(q.alone)
                same = (answer.abstained == first.abstained
                        and [c.chunk_id for c in answer.citations] == [c.chunk_id for c in first.citations])
                m["switch"].append(float(same))
        row: dict[str, Any] = {"set": name, "n": len(questions)}
        for key in ("recall@5", "answered", "contains", "cit. prec", "abstained", "follow-up", "switch", "noise"):
            row[key] = round(sum(m[key]) / len(m[key]), 3) if m[key] else None
        row["p50 ms"] = round(_percentile(m["latency"], 0.5))
        row["p95 ms"] = round(_percentile(m["latency"], 0.95))
        out.append(row)
        print(f"  {name}: {len(questions)} questions", file=sys.stderr)
    return out


COLUMNS = ("set", "n", "recall@5", "answered", "contains", "cit. prec", "abstained", "follow-up", "switch", "noise",
           "p50 ms", "p95 ms")


def table(result: dict[str, Any]) -> str:
    """The README's Markdown table."""
    a = result["archive"]
    head = (f"archive: {a['passages']} passages ({', '.join(f'{k} {v}' for k, v in a['languages'].items())}), "
            f"embedders {','.join(result['embedders'])}, up to {result['questions'] or 'all'} questions a set\n\n")
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in result["rows"]:
        lines.append("| " + " | ".join("" if row[c] is None else str(row[c]) for c in COLUMNS) + " |")
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=1500, help="archive sample size (0: all 8,614)")
    parser.add_argument("--questions", type=int, default=30, help="questions asked per set (0: all)")
    parser.add_argument("--archive-questions", type=int,
                        help="questions per set whose gold the archive sample holds (default: --questions); "
                             "a larger archive built before is reused for fewer questions")
    parser.add_argument("--embedders", help="e.g. use (default: the settings', use,e5)")
    parser.add_argument("--only", nargs="*", help="run only these sets (names as in the table)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    drawn = args.questions if args.archive_questions is None else args.archive_questions
    corpus, spanish = archive_sample(question_sets(drawn, set()), args.passages)
    sets = asked(question_sets(drawn, spanish), args.questions)
    if args.only:
        sets = {k: v for k, v in sets.items() if k in args.only}
    assistant = build(corpus, args.embedders)
    try:
        langs: dict[str, int] = defaultdict(int)
        for r in corpus:
            langs[r["lang"]] += 1
        result = {"archive": {"passages": len(corpus), "languages": dict(langs)},
                  "embedders": [e.name for e in assistant.embedders], "questions": args.questions,
                  "rows": measure(assistant, sets)}
    finally:
        assistant.close()
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
