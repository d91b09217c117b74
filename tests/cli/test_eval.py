"""`newsroom eval` computes the metrics from gold evidence, per question language."""
from __future__ import annotations

from assistant.cli.evaluate import run_eval
from conftest import CORPORA, read_jsonl, write_jsonl


def test_eval_reports_recall_mrr_ndcg_per_language(tmp_path, make_settings):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", read_jsonl(CORPORA / "xquad" / "corpus.en.jsonl", 20))
    paragraphs = {r["paragraph"] for r in read_jsonl(corpus)}
    questions = [q for lang in ("en", "zh")
                 for q in [q for q in read_jsonl(CORPORA / "xquad" / f"questions.{lang}.jsonl", 200)
                           if q["gold_paragraph"] in paragraphs][:20]]
    questions.append({"id": "nowhere", "question": "Who won the 1930 World Cup?", "lang": "en",
                      "answers": ["Uruguay"], "gold_paragraph": "not-in-corpus"})
    qfile = write_jsonl(tmp_path / "q.jsonl", questions)
    result = run_eval(make_settings(), [corpus], qfile, k=10, answers=True)
    overall = result["overall"]
    assert overall["questions"] == len(questions)
    assert set(result["by_language"]) == {"en", "zh"}
    assert 0.8 <= overall["recall@5"] <= overall["recall@10"] < 1.0  # the unanswerable one can never be found
    assert overall["recall@1"] <= overall["mrr"] <= 1.0
    assert 0 < overall["ndcg@10"] <= 1.0 and overall["latency_p95_ms"] >= overall["latency_p50_ms"] > 0
    assert 0 <= overall["citation_precision"] <= 1 and 0 <= overall["answer_contains"] <= 1
    again = run_eval(make_settings(), [corpus], qfile, k=10)  # the scratch store is reused
    assert again["ingest"]["unchanged"] == 20 and again["overall"]["recall@5"] == overall["recall@5"]
