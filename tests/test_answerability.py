"""Abstention: answer what the archive holds, hold back (with the reason) on what it lacks."""
from __future__ import annotations

from collections import Counter

from assistant.answerability import REASONS, anchors
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
    assert sum(answered) / len(answered) >= 0.8, answered
    abstained = [a for a in held_back if a.abstained]
    assert len(abstained) / len(held_back) >= 0.8, len(abstained)
    reasons = Counter(a.why_abstained for a in abstained)
    assert all(reasons) and set(reasons) <= set(REASONS), reasons
    for a in abstained:
        assert not a.citations and a.sources  # the closest sources are still shown
