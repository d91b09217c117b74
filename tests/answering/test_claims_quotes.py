"""Claim checking and quote look-up on the real seed press release plus a few follow-up reports."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import SEED, write_jsonl
from llm_server import ScriptedLLM

FOLLOW_UPS = [
    {"id": "report-fr", "title": "Huawei et le CICG : la cérémonie de Shenzhen", "source": "Le Quotidien",
     "published": "2025-12-05", "lang": "fr",
     "body": "La cérémonie s'est tenue à Shenzhen. « Cet accord ouvre un nouveau chapitre de notre coopération », "
             "a déclaré Liu Tao devant la presse. Selon le communiqué, les deux parties ont signé un accord de coopération "
             "le 2 décembre."},
    {"id": "report-en", "title": "Huawei deal with CICG", "source": "Daily Wire Service", "published": "2025-12-09",
     "lang": "en",
     "body": "\"We will build the cloud platform together,\" said Yue Kun at a briefing in Shenzhen. He added that "
             "the partners ont signé un accord de coopération, quoting the French release."},
    {"id": "report-zh", "title": "华为与中国外文局签署合作协议", "source": "新闻社", "published": "2025-12-03", "lang": "zh",
     "body": "刘涛表示，这份协议开启了双方合作的新篇章。双方将在云计算和人工智能领域加强合作。"},
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    tmp = tmp_path_factory.mktemp("claims")
    a = Assistant(load_settings(env={}, data_dir=str(tmp / "data"), embedders="use"))
    report = a.ingest([SEED, write_jsonl(tmp / "reports.jsonl", FOLLOW_UPS)])
    assert not report.failed and report.ingested == 4
    yield a
    a.close()


def _stances(result) -> dict[str, set[str]]:
    return {s: {e.passage.article_id for e in items} for s, items in result.by_stance().items()}


def test_a_claim_the_release_states_is_supported_across_languages(archive):
    result = archive.check("Huawei and CICG signed a cooperation agreement in Shenzhen")
    supports = result.by_stance()["supports"]
    assert supports, result.to_dict()
    best = supports[0]
    assert "Shenzhen" in best.quote and best.score >= archive.settings.support_threshold
    body_slice = best.passage.text[best.quote_start - best.passage.start : best.quote_end - best.passage.start]
    assert body_slice == best.quote  # the span points at the quoted sentence
    assert result.verdict is None and result.mode == "extractive"  # extractive mode groups, it does not rule


def test_a_wrong_year_is_told_as_a_contradiction_with_the_reason(archive):
    result = archive.check("Huawei and CICG signed a cooperation agreement in Shenzhen in 2019")
    contra = result.by_stance()["contradicts"]
    assert contra and "2019" in contra[0].reason
    assert not result.by_stance()["supports"]


def test_a_negated_claim_contradicts_the_release(archive):
    result = archive.check("Huawei and CICG did not sign a cooperation agreement in Shenzhen")
    assert result.by_stance()["contradicts"], result.to_dict()
    assert "negation" in result.by_stance()["contradicts"][0].reason


def test_a_claim_about_something_else_is_not_in_the_archive(archive):
    result = archive.check("Emperor penguins lay their eggs during the Antarctic winter")
    assert result.verdict == "not_in_archive" and result.evidence == []


def test_quote_lookup_finds_every_occurrence_earliest_first_whatever_the_quote_marks(archive):
    found = archive.quote("“ONT SIGNÉ  un accord de coopération”")
    assert found.exact
    ids = [h.passage.article_id for h in found.hits]
    assert set(ids) == {"seed-cicg-huawei-2025-12-02", "report-fr", "report-en"}
    dates = [h.passage.published for h in found.hits]
    assert dates == sorted(dates)
    for h in found.hits:  # the match offsets point at the words in the article body
        p = h.passage
        assert p.text[h.match_start - p.start : h.match_end - p.start].lower() == "ont signé un accord de coopération"
        assert h.quote_start <= h.match_start < h.match_end <= h.quote_end


def test_quote_lookup_names_the_speaker_where_the_text_says(archive):
    fr = archive.quote("ouvre un nouveau chapitre").hits
    assert [h.speaker for h in fr] == ["Liu Tao"]
    en = archive.quote("build the cloud platform together").hits
    assert [h.speaker for h in en] == ["Yue Kun"]
    zh = archive.quote("开启了双方合作的新篇章").hits
    assert [h.speaker for h in zh] == ["刘涛"]
    release = archive.quote("Huawei Cloud").hits
    assert release and all(h.speaker is None for h in release)  # nobody is quoted there


def test_quote_lookup_falls_back_to_close_wording_and_says_so(archive):
    found = archive.quote("This agreement opens a new chapter in our cooperation")
    assert not found.exact and found.hits
    assert found.hits[0].passage.article_id in {"report-fr", "report-zh"}
    nothing = archive.quote("a sentence that appears nowhere about penguins and glaciers")
    assert nothing.hits == []


def test_claim_check_in_llm_mode_gives_a_verdict_with_checked_citations(assistant_factory):
    reply = ("SUPPORTED. Huawei et le CICG ont signé un accord de coopération à Shenzhen [1]. "
             "Le rédacteur en chef confirme tout [7].")
    with ScriptedLLM(lambda m: reply) as server:
        a = assistant_factory(llm_base_url=server.base_url, llm_model="scripted", llm_timeout=10)
        a.ingest([SEED])
        result = a.check("Huawei and CICG signed a cooperation agreement in Shenzhen")
        prompt = server.requests[0]["messages"][-1]["content"]
    assert result.verdict == "supported" and result.mode == "llm"
    assert "[1]" in result.explanation and "[7]" not in result.explanation
    assert any("[7]" in w for w in result.warnings)
    assert "<sources>" in prompt and "Claim: Huawei and CICG signed" in prompt


def test_check_and_quote_on_the_command_line(tmp_path):
    env = {**os.environ, "NEWSROOM_DATA_DIR": str(tmp_path / "data")}

    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, env=env,
                              timeout=240)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    run("ingest", str(SEED))
    checked = json.loads(run("check", "Huawei and CICG signed a cooperation agreement in Shenzhen", "--json"))
    assert checked["counts"]["supports"] >= 1 and checked["evidence"][0]["passage"]["title"]
    quoted = json.loads(run("quote", "Huawei Cloud", "--json"))
    assert quoted["exact"] and quoted["count"] == len(quoted["hits"]) >= 1
    assert "Huawei Cloud" in run("quote", "Huawei Cloud")
