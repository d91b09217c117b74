"""`newsroom eval`: retrieval (and answer) quality against gold evidence in the shared corpora format."""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..retrieval.passage import Passage
from ..service import Assistant
from ..settings import Settings


@dataclass
class Question:
    id: str
    text: str
    lang: str
    gold: set[str]  # article ids that hold the evidence
    answers: list[Any]
    all_answers_required: bool


def _rows(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_questions(corpus_files: list[Path], questions_file: Path, limit: int | None) -> list[Question]:
    by_paragraph: dict[str, set[str]] = defaultdict(set)
    for path in corpus_files:
        for row in _rows(path):
            if row.get("paragraph"):
                by_paragraph[row["paragraph"]].add(str(row["id"]))
    out: list[Question] = []
    for i, row in enumerate(_rows(questions_file)[: limit or None]):
        if row.get("gold_paragraph"):
            gold, all_required = by_paragraph.get(row["gold_paragraph"], set()), False
        else:
            gold, all_required = {str(d) for d in row.get("gold_docs", [])}, True
        out.append(Question(str(row.get("id", f"{questions_file.stem}-{i}")), row["question"], row.get("lang", ""), gold, row.get("answers", []), all_required))
    return out


def scratch_settings(settings: Settings, corpus_files: list[Path]) -> Settings:
    """A data folder per (corpus, embedders, chunking): reused when it already exists."""
    key = hashlib.sha256(
        json.dumps([sorted(str(p.resolve()) for p in corpus_files), list(settings.embedders), settings.embed_title,
                    settings.chunk_max_tokens, settings.chunk_min_tokens]).encode()
    ).hexdigest()[:12]
    return settings.with_overrides(data_dir=str(settings.data_dir / "eval" / key))


def _contains(answer: str, expected: list[Any], all_required: bool) -> bool:
    def hit(item: Any) -> bool:
        options = item if isinstance(item, list) else [item]
        return any(str(o).lower() in answer.lower() for o in options)

    if not expected:
        return False
    return all(hit(e) for e in expected) if all_required else any(hit(e) for e in expected)


def gold_hits(results: list[Passage], gold: set[str]) -> list[bool]:
    """Whether each ranked article holds gold evidence: one rank per result article, with the
    copies collapsed into it (``duplicates``) counted as that result."""
    ranked: list[set[str]] = []
    seen: set[str] = set()
    for r in results:
        if r.article_id not in seen:
            same = {r.article_id, *(d["article_id"] for d in r.duplicates)}
            seen |= same
            ranked.append(same)
    return [bool(ids & gold) for ids in ranked]


def gold_rank(results: list[Passage], gold: set[str]) -> int | None:
    """The 0-based rank of the first result article holding gold evidence; None when none does."""
    return next((i for i, h in enumerate(gold_hits(results, gold)) if h), None)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)]


def run_eval(
    settings: Settings,
    corpus_files: list[Path],
    questions_file: Path,
    k: int = 10,
    limit: int | None = None,
    answers: bool = False,
    mode: str = "hybrid",
) -> dict[str, Any]:
    questions = load_questions(corpus_files, questions_file, limit)
    assistant = Assistant(scratch_settings(settings, corpus_files))
    try:
        report = assistant.ingest(corpus_files)
        per_lang: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for q in questions:
            started = time.perf_counter()
            results = assistant.search(q.text, k=k, mode=mode)
            latency = (time.perf_counter() - started) * 1000
            hits = gold_hits(results, q.gold)
            first = next((i for i, h in enumerate(hits) if h), None)
            m = per_lang[q.lang]
            for cut in (1, 5, 10):
                m[f"recall@{cut}"].append(float(first is not None and first < cut))
            m["mrr"].append(1.0 / (first + 1) if first is not None else 0.0)
            dcg = sum(1.0 / math.log2(i + 2) for i, h in enumerate(hits[:10]) if h)
            idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(q.gold), 10)))
            m["ndcg@10"].append(dcg / idcg if idcg else 0.0)
            m["latency_ms"].append(latency)
            if answers:
                answer = assistant.ask(q.text)
                m["answered"].append(float(not answer.abstained))
                m["answer_contains"].append(float(_contains(answer.answer, q.answers, q.all_answers_required)))
                for c in answer.citations:
                    m["citation_precision"].append(float(c.article_id in q.gold))
    finally:
        assistant.close()

    def summarize(metrics: dict[str, list[float]]) -> dict[str, Any]:
        out: dict[str, Any] = {"questions": len(metrics["mrr"])}
        for name, values in metrics.items():
            if name == "latency_ms":
                out["latency_p50_ms"] = round(_percentile(values, 0.5), 2)
                out["latency_p95_ms"] = round(_percentile(values, 0.95), 2)
            else:
                out[name] = round(sum(values) / len(values), 4) if values else None
        return out

    overall: dict[str, list[float]] = defaultdict(list)
    for metrics in per_lang.values():
        for name, values in metrics.items():
            overall[name].extend(values)
    return {
        "corpus": [str(p) for p in corpus_files],
        "questions_file": str(questions_file),
        "embedders": list(settings.embedders),
        "mode": mode,
        "k": k,
        "ingest": {"ingested": report.ingested, "unchanged": report.unchanged, "failed": len(report.failed)},
        "overall": summarize(overall),
        "by_language": {lang: summarize(m) for lang, m in sorted(per_lang.items())},
    }
