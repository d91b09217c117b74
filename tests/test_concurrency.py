"""The service under concurrent use: a journalist's question does not wait for an upload."""
from __future__ import annotations

import threading

from conftest import CORPORA, SEED, read_jsonl, write_jsonl


def test_a_question_is_answered_while_an_ingest_is_under_way(assistant_factory, tmp_path):
    a = assistant_factory(embedders="use,e5")  # the default: with `use` alone this French question is not answered
    a.ingest([SEED])
    more = write_jsonl(tmp_path / "more.jsonl", read_jsonl(CORPORA / "xquad" / "corpus.en.jsonl", 30))
    paused, resume = threading.Event(), threading.Event()

    def hold(_report) -> None:  # the ingest stops here, mid-run, until the question is answered
        if not paused.is_set():
            paused.set()
            resume.wait(180)

    reports = []
    ingest = threading.Thread(target=lambda: reports.append(a.ingest([more], progress=hold)))
    ingest.start()
    assert paused.wait(180), "the ingest never reported progress"
    answers = []
    asker = threading.Thread(target=lambda: answers.append(a.ask("Qui a signé l'accord au nom des deux parties ?")))
    asker.start()
    asker.join(180)
    resume.set()
    ingest.join(300)
    assert answers, "the question waited for the ingest"
    assert "Yu Yingfu" in answers[0].answer and answers[0].citations
    assert reports and reports[0].ingested == 30 and not reports[0].failed
