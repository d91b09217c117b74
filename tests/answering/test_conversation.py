"""Conversations: a new topic is answered as if asked alone; a follow-up uses the previous turn."""
from __future__ import annotations

import pytest

from assistant.answering.conversation import is_short, refers_back, resolve

FOLLOW_UPS = ["Where was it held?", "Were they banned for life?", "What accuracy did it reach on the MATH dataset?",
              "And Chongqing's growth in 2022?", "Et dans quelle ville ?", "Où l'ont-ils signé ?",
              "Where was that story first published?", "¿Y en 2022?", "¿Dónde lo firmaron ellos?",
              "他们被终身禁赛了吗？", "那么重庆呢？", "该公司的营收是多少？"]
STAND_ALONE = ["Who won Super Bowl 50?", "华为和中国外文局在哪里签署了合作协议？",
               "Qui a signé l'accord au nom des deux parties ?", "Did Joe Biden say his plan raises taxes?",
               "Combien d'abonnés Huawei Cloud compte-t-il en Afrique ?", "What did the mayor say about the strike this year?",
               "Y a-t-il eu des blessés lors de la finale de la Coupe du monde 2022 ?",
               "Which company said that Tesla would build a factory in Berlin?", "印控克什米尔地区寺庙踩踏事故死亡人数"]


@pytest.mark.parametrize("question", FOLLOW_UPS)
def test_wording_that_leans_on_the_previous_turn(question):
    assert refers_back(question)


@pytest.mark.parametrize("question", STAND_ALONE)
def test_wording_that_stands_alone(question):
    assert not refers_back(question)


def test_short_questions_naming_nothing_may_be_elliptical():
    for q in ("全年营收是多少？", "在哪里举行？", "谁签的字？", "Where is the men's race held?",
              "Quels sont les domaines de coopération prévus ?", "¿Dónde se celebró?"):
        assert is_short(q), q
    for q in ("2022年特斯拉交付量", "Who won Super Bowl 50?", "《护卫者》的主演是谁？", "RCEP具体包括哪些国家", "印控克什米尔地区寺庙踩踏事故死亡人数",
              "What did the European Central Bank decide on interest rates?"):
        assert not is_short(q), q


def test_resolve_uses_retrieval_only_for_short_questions():
    asked: list[str] = []

    def certainty(text: str) -> float:
        asked.append(text)
        return 0.9 if "World Cup" in text else 0.0

    history = [("Who played in the 2022 World Cup final?", "Argentina and France.")]
    follow = resolve("Who won?", history, certainty)
    assert follow.follows == history[0][0] and follow.reason == "incomplete alone"
    assert follow.query == "Who played in the 2022 World Cup final? Who won?"
    alone = resolve("Who won Super Bowl 50?", history, certainty)
    assert alone.query == "Who won Super Bowl 50?" and not alone.follows
    assert sorted(asked) == ["Who played in the 2022 World Cup final? Who won?", "Who won?"]  # the long one asked nothing
    assert resolve("Where was it held?", history, certainty).reason == "refers back"
    assert resolve("Where was it held?", [], certainty).query == "Where was it held?"


def test_a_short_question_answered_weakly_alone_follows_when_the_previous_one_answers_it_surely():
    """newsroom-day: "全年营收是多少？" alone stands out (0.57) on some company's revenue; after
    "网易2022年的业绩怎么样？" the two together find NetEase's (0.99). A short question that is
    surer alone stays alone."""
    previous = "网易2022年的业绩怎么样？"
    sure = {"全年营收是多少？": 0.57, f"{previous} 全年营收是多少？": 0.99,
            "在哪里举行？": 0.60, f"{previous} 在哪里举行？": 0.30,
            "谁是导演？": 0.977, f"{previous} 谁是导演？": 0.999}
    history = [(previous, "")]
    assert resolve("全年营收是多少？", history, sure.__getitem__).follows == previous
    assert resolve("在哪里举行？", history, sure.__getitem__).query == "在哪里举行？"
    assert resolve("谁是导演？", history, sure.__getitem__).query == "谁是导演？"  # sure alone: chance above


def test_topic_switch_is_answered_as_if_asked_alone(xquad_store):
    """Issue 17 #2: after a Super Bowl question, a question about the seed was answered from Super Bowl."""
    question = "华为和中国外文局在哪里签署了合作协议？"
    alone = xquad_store.ask(question)
    after = xquad_store.ask(question, history=[("Who won Super Bowl 50?", "The Denver Broncos.")])
    assert [c.chunk_id for c in after.citations] == [c.chunk_id for c in alone.citations]
    assert after.abstained == alone.abstained and not after.follows
    assert all(c.article_id.startswith("seed") for c in after.citations)


def test_follow_up_uses_the_previous_question_and_says_so(xquad_store):
    first = "Which team won Super Bowl 50?"
    answer = xquad_store.ask("Where was it held?", history=[(first, "The Denver Broncos.")])
    assert answer.follows == first
    assert answer.citations and answer.citations[0].article_id.startswith("xquad-00-")
    assert not xquad_store.ask("Which team won Super Bowl 50?").follows


def test_the_app_shows_which_question_a_follow_up_continued():
    from assistant.answering.answer import Answer
    from assistant.web.render import answer_html

    answer = Answer("Où ?", "À Shenzhen.", "extractive", False, follows="Qui a signé <l'accord> ?")
    html = answer_html(answer, 1, "fr")
    assert "Suite de la question" in html and "&lt;l" in html and "<l'" not in html
    assert "nr-follows" not in answer_html(Answer("Où ?", "À Shenzhen.", "extractive", False), 1, "fr")
