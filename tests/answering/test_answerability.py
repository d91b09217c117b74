"""Abstention: answer what the archive holds, hold back (with the reason) on what it lacks."""
from __future__ import annotations

from collections import Counter

import pytest

from assistant.answering.answerability import REASONS, anchors
from conftest import CORPORA, read_jsonl


def test_anchors_are_the_words_that_survive_translation():
    assert anchors("2022年特斯拉交付量") == {"2022"}
    assert anchors("RCEP具体包括哪些国家") == {"rcep"}
    assert anchors("Which NFL team won Super Bowl 50?") == {"nfl", "super", "bowl", "50"}
    assert anchors("¿Quién ganó el Super Bowl 50?") == {"super", "bowl", "50"}
    assert anchors("What is the boiling point of water?") == set()  # the first word is capitalised anyway
    assert anchors("超级碗第3场比赛") == set()  # one digit is spelled out as often as written


def test_answers_what_the_archive_holds_and_abstains_on_what_it_lacks(xquad_store):
    """XQuAD questions against XQuAD's paragraphs are answerable; RGB's Chinese news questions are not."""
    answerable = [q["question"] for q in read_jsonl(CORPORA / "xquad" / "questions.en.jsonl", 20)]
    answerable += [q["question"] for q in read_jsonl(CORPORA / "xquad" / "questions.zh.jsonl", 20)]
    unanswerable = [q["question"] for q in read_jsonl(CORPORA / "rgb-zh" / "questions.jsonl", 30)]
    answered = [not xquad_store.ask(q).abstained for q in answerable]
    held_back = [xquad_store.ask(q) for q in unanswerable]
    # Measured here: 0.90 answered, 0.80 abstained (`use` alone: the threshold rule decides).
    assert sum(answered) / len(answered) >= 0.8, answered
    abstained = [a for a in held_back if a.abstained]
    assert len(abstained) / len(held_back) >= 0.7, len(abstained)
    reasons = Counter(a.why_abstained for a in abstained)
    assert all(reasons) and set(reasons) <= set(REASONS), reasons
    for a in abstained:
        assert not a.citations and a.sources  # the closest sources are still shown


@pytest.fixture(scope="module")
def default_store(tmp_path_factory):
    """XQuAD's 240 English paragraphs with the default embedders (use,e5): where the model applies."""
    from assistant.service import Assistant
    from assistant.settings import load_settings

    assistant = Assistant(load_settings(env={}, data_dir=str(tmp_path_factory.mktemp("default") / "data")))
    assert assistant.settings.embedders == ("use", "e5")
    assert not assistant.ingest([CORPORA / "xquad" / "corpus.en.jsonl"]).failed
    yield assistant
    assistant.close()


def test_the_calibrated_model_decides_with_the_default_embedders(default_store):
    answerable = [q["question"] for q in read_jsonl(CORPORA / "xquad" / "questions.en.jsonl", 15)]
    answerable += [q["question"] for q in read_jsonl(CORPORA / "xquad" / "questions.zh.jsonl", 10)]
    unanswerable = [q["question"] for q in read_jsonl(CORPORA / "rgb-zh" / "questions.jsonl", 20)]
    said = [default_store.answerability(q) for q in answerable]
    held = [default_store.answerability(q) for q in unanswerable]
    judged = [e for e in said + held if e.gap is not None]
    assert len(judged) == len(said + held)  # 240 articles: every question has a field to stand out from
    assert all(e.confidence is not None for e in judged)  # the model decides, not the thresholds
    # Measured here: 0.80 answered (Chinese questions about English paragraphs are the hard part), 1.00 abstained.
    assert sum(e.answerable for e in said) / len(said) >= 0.7
    assert sum(not e.answerable for e in held) / len(held) >= 0.85
    # What ask does is what answerability said.
    assert default_store.ask(unanswerable[0]).abstained == (not held[0].answerable)
    assert default_store.ask(answerable[0]).abstained == (not said[0].answerable)
