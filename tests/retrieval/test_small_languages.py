"""A language the archive holds one article of ranks where its content deserves (issue 17 #1).

The start-up archive (the French seed beside XQuAD's mixed English/Chinese paragraphs) put the
seed first for every search: a language with one chunk was barely centred, so its passage kept
e5's raw cosine. Here a small real archive of the same shape: the seed, and eight XQuAD topics
(four in English, four in Chinese), with the default embedders.
"""
from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieval.centring import PRIOR_CHUNKS, blended_mean, language_priors
from conftest import CORPORA, SEED, read_jsonl, write_jsonl

TOPICS = ("Super Bowl 50", "Warsaw", "Nikola Tesla", "Normans", "Kenya", "Rhine", "Genghis Khan", "Yuan dynasty")
SEARCHES = {"Nikola Tesla inventions": "Nikola Tesla", "Denver Broncos defense": "Super Bowl 50",
            "Rhine river length": "Rhine", "Kenya corruption": "Kenya"}


@pytest.fixture(scope="module")
def small_language_archive(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    folder = tmp_path_factory.mktemp("startup")
    rows = [r for r in read_jsonl(CORPORA / "xquad" / "corpus.mixed-en-zh.jsonl") if r["title"] in TOPICS]
    corpus = write_jsonl(folder / "mixed.jsonl", rows)
    assistant = Assistant(load_settings(env={}, data_dir=str(folder / "data"), embedders="use,e5"))  # priors: the default
    report = assistant.ingest([SEED, corpus])
    assert not report.failed
    yield assistant
    assistant.close()


@pytest.mark.slow
@pytest.mark.parametrize("query", sorted(SEARCHES))
def test_one_french_article_does_not_crowd_every_search(small_language_archive, query):
    results = small_language_archive.search(query, k=5)
    assert results[0].title == SEARCHES[query], [(r.title, r.score) for r in results]
    assert all(r.lang != "fr" for r in results[:3]), [(r.title, r.lang, r.score) for r in results]


@pytest.mark.slow
def test_the_seed_is_still_found_by_its_own_questions(small_language_archive):
    """Neither first for everything nor invisible: first when a question names its subject, in the
    top 3 for its own French question (Kenya's 2008 power-sharing accord, signed "on behalf of" two
    parties, is a fair rival there)."""
    for question in ("Huawei Cloud cooperation agreement with CICG", "华为和中国外文局在哪里签署了合作协议？"):
        assert small_language_archive.search(question, k=3)[0].lang == "fr", question
    assert any(r.lang == "fr" for r in small_language_archive.search("Qui a signé l'accord au nom des deux parties ?", k=3))


@pytest.mark.slow
@pytest.mark.parametrize("question", ["Quelle était la position de la BCE sur les taux en 2023 ?",
                                      "Which company did Tesla acquire in 2022?",
                                      "Who is the mayor of Warsaw in 2024?"])
def test_what_the_archive_does_not_hold_is_not_answered_from_something_else(small_language_archive, question):
    """Issue 17 #3: answered with Kenya's corruption ranking, Nikola Tesla's 1886 company and
    Warsaw's history. Now the archive says it does not know, and why (a year no passage carries)."""
    answer = small_language_archive.ask(question)
    assert answer.abstained and answer.why_abstained, answer.answer
    assert not answer.citations


@pytest.mark.slow
@pytest.mark.parametrize("question", ["Qui a signé l'accord au nom des deux parties ?",
                                      "谁代表华为和中国外文局签署了合作协议？"])
def test_the_seed_answers_who_signed_in_every_language(small_language_archive, question):
    answer = small_language_archive.ask(question)
    assert not answer.abstained, answer.why_abstained
    assert "Yu Yingfu" in answer.answer and "Liu Tao" in answer.answer, answer.answer
    assert {c.article_id for c in answer.citations} == {"seed-cicg-huawei-2025-12-02"}


def test_priors_ship_for_the_default_embedders_and_blend_by_share():
    priors = language_priors()
    for lang in ("en", "zh", "fr", "es", "de", "ru", "ar"):
        assert {"use", "e5"} <= set(priors.get(lang, {})), lang
    archive, prior = np.ones(4, dtype=np.float32), np.zeros(4, dtype=np.float32)
    assert np.allclose(blended_mean(archive, 1, prior), 1 / (1 + PRIOR_CHUNKS))
    assert np.allclose(blended_mean(archive, 10_000, prior), 10_000 / (10_000 + PRIOR_CHUNKS))
    assert blended_mean(None, 0, prior) is prior
    assert blended_mean(archive, 20, None)[0] == pytest.approx(0.5)  # no prior: the archive's, shrunk
