"""Retrieval behaviour: exact-phrase search, recency boost, near-duplicate collapse, fusion rules.

Small real archives, real Qdrant (Edge, and qdrant-client's in-memory server stand-in for
phrase search), the fast English `minilm` embedder where the model does not matter.
"""
from __future__ import annotations

import json

import pytest

from assistant.cli.main import main
from assistant.retrieval.duplicates import near_duplicate, shingles
from assistant.retrieval.recency import wants_recent
from assistant.service import Filters
from assistant.text.folding import fold
from conftest import write_jsonl

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant"),
    pytest.mark.filterwarnings("ignore:Failed to obtain server version"),
]

TOPICS = ["ports", "steel makers", "farmers", "importers", "the parliament", "economists",
          "exporters", "airlines", "shipping firms", "consumer groups", "cement plants", "lawyers"]


def _archive() -> list[dict]:
    rows = []
    for i, who in enumerate(TOPICS):  # 12 articles with the wording: more than top_k
        rows.append({"id": f"cbt-{i}", "title": f"Reaction from {who}", "lang": "en", "source": f"outlet-{i % 3}",
                     "published": f"20{10 + i}-03-0{1 + i % 9}T10:00:00Z", "url": f"https://example.org/cbt/{i}",
                     "body": f"For {who}, the Carbon  Border Tax changes the arithmetic of trade. Talks go on in Brussels."})
    rows += [
        {"id": "near-miss", "title": "Border questions", "lang": "en", "source": "outlet-1",
         "published": "2009-01-01T00:00:00Z", "body": "A tax on carbon at the border was discussed, among other border matters."},
        {"id": "undated", "title": "No date", "lang": "en", "source": "outlet-2",
         "body": "Officials said the carbon border tax would start next year."},
        {"id": "zh-1", "title": "碳边境调节机制", "lang": "zh", "source": "xinhua", "published": "2023-05-17T08:00:00Z",
         "body": "欧盟碳边境调节机制于2023年5月17日正式生效，中国企业需要提前准备。"},
        {"id": "zh-2", "title": "出口企业", "lang": "zh", "source": "people", "published": "2021-07-14T08:00:00Z",
         "body": "专家认为，碳边境调节机制将影响钢铁和铝的出口。"},
    ]
    return rows


@pytest.fixture(scope="module", params=["edge", "server"])
def phrase_assistant(request, tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    root = tmp_path_factory.mktemp(f"phrase-{request.param}")
    corpus = write_jsonl(root / "archive.jsonl", _archive())
    flags = {"data_dir": str(root / "data"), "embedders": "minilm"}
    if request.param == "server":
        flags["qdrant_url"] = ":memory:"
    assistant = Assistant(load_settings(env={}, **flags))
    assert not assistant.ingest([corpus]).failed
    yield assistant
    assistant.close()


def test_exact_phrase_returns_every_article_earliest_first(phrase_assistant):
    found = phrase_assistant.phrase("carbon border tax")
    ids = [p.article_id for p in found]
    assert set(ids) == {f"cbt-{i}" for i in range(12)} | {"undated"}  # all of them, not top_k
    assert "near-miss" not in ids
    assert ids[-1] == "undated"  # undated last
    dates = [p.published for p in found[:-1]]
    assert dates == sorted(dates)
    assert all(fold("carbon border tax") in fold(p.text) for p in found)


def test_exact_phrase_is_case_and_space_insensitive_but_keeps_word_order(phrase_assistant):
    assert len(phrase_assistant.phrase("CARBON BORDER   TAX")) == 13
    assert phrase_assistant.phrase("tax border carbon") == []
    only = phrase_assistant.phrase("carbon border tax", Filters(source=["outlet-0"], since="2014-01-01"))
    assert [p.article_id for p in only] == ["cbt-6", "cbt-9"]


def test_exact_phrase_in_chinese_even_across_word_boundaries(phrase_assistant):
    assert [p.article_id for p in phrase_assistant.phrase("碳边境调节机制")] == ["zh-2", "zh-1"]
    # "境调" straddles the tokenizer's words: found by substring, confirmed on the text
    assert [p.article_id for p in phrase_assistant.phrase("境调")] == ["zh-2", "zh-1"]
    assert phrase_assistant.phrase("机制调节") == []


def test_cli_search_exact(tmp_path, capsys, monkeypatch):
    corpus = write_jsonl(tmp_path / "a.jsonl", _archive())
    data = ["--data-dir", str(tmp_path / "data")]
    monkeypatch.setenv("NEWSROOM_EMBEDDERS", "minilm")
    assert main(["ingest", str(corpus), "--json", *data]) == 0
    capsys.readouterr()
    assert main(["search", "--exact", "carbon border tax", "--json", *data]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 13 and out["results"][0]["article_id"] == "cbt-0"
    assert all(r["published"] or r["article_id"] == "undated" for r in out["results"])


@pytest.mark.parametrize("query", ["What is the latest on the budget?", "recent floods in Spain",
                                   "Que disent les dernières enquêtes ?", "últimas noticias sobre el puerto",
                                   "今年的经济增长", "最新的疫情数据", "What happened this year in Congo?"])
def test_recency_cues(query):
    assert wants_recent(query)


@pytest.mark.parametrize("query", ["Who signed the 1992 treaty?", "谁签署了协议？", "Quién ganó la final?",
                                   "late registration fees"])
def test_no_recency_cue(query):
    assert not wants_recent(query)


WIRE = ("Heavy rain flooded the old harbour district of Valencia on Tuesday, forcing two hundred residents "
        "to leave their homes. The regional government opened three shelters and closed the coastal road "
        "while firefighters pumped water out of basements. Forecasters expect more storms on Thursday.")


def _news() -> list[dict]:
    return [
        {"id": "wire-afp", "title": "Floods hit Valencia", "source": "afp", "lang": "en", "published": "2024-10-01T09:00:00Z",
         "url": "https://afp.example/1", "body": WIRE},
        {"id": "wire-daily", "title": "Valencia floods", "source": "daily", "lang": "en", "published": "2024-10-01T11:00:00Z",
         "url": "https://daily.example/2", "body": "VALENCIA (AFP) - " + WIRE + " (AFP)"},
        {"id": "wire-post", "title": "Storm floods harbour", "source": "post", "lang": "en", "published": "2024-10-02T07:00:00Z",
         "url": "https://post.example/3", "body": WIRE.replace("Tuesday", "Tuesday morning") + " Reporting by staff."},
        {"id": "analysis", "title": "Why Valencia floods", "source": "weekly", "lang": "en", "published": "2024-10-05T07:00:00Z",
         "body": "Valencia's harbour district floods because drains built in the 1960s cannot carry storm water; "
                 "engineers have asked for new pumps for a decade."},
        {"id": "budget-2019", "title": "Council budget", "source": "gazette", "lang": "en", "published": "2019-02-01T09:00:00Z",
         "body": "The city council approved the housing budget for the harbour district after a long debate."},
        {"id": "budget-2024", "title": "Council vote", "source": "gazette", "lang": "en", "published": "2024-11-20T09:00:00Z",
         "body": "The city council passed the harbour district's housing budget for next year after a long debate."},
    ]


@pytest.fixture(scope="module")
def news_assistant(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    root = tmp_path_factory.mktemp("news")
    corpus = write_jsonl(root / "news.jsonl", _news())
    assistant = Assistant(load_settings(env={}, data_dir=str(root / "data"), embedders="minilm"))
    assert not assistant.ingest([corpus]).failed
    yield assistant
    assistant.close()


def test_the_same_wire_story_collapses_into_one_result_with_its_outlets(news_assistant):
    results = news_assistant.search("flooding in Valencia's harbour district", k=5)
    ids = [p.article_id for p in results]
    wire = [p for p in results if p.article_id.startswith("wire-")]
    assert len(wire) == 1 and "analysis" in ids
    assert sorted(d["source"] for d in wire[0].duplicates) == sorted({"afp", "daily", "post"} - {wire[0].source})
    assert wire[0].to_dict()["duplicates"][0]["url"].startswith("https://")
    assert all(not p.duplicates for p in results if p is not wire[0])


def test_near_duplicate_rule():
    a, b = shingles(WIRE), shingles("VALENCIA (AFP) - " + WIRE)
    assert near_duplicate(a, b, 0.8)
    assert not near_duplicate(a, shingles(_news()[3]["body"]), 0.8)
    assert not near_duplicate(shingles("short text"), shingles("short text"), 0.8)  # too short to call
    zh = "欧盟碳边境调节机制于2023年5月17日正式生效，中国企业需要提前准备，专家建议尽早核算产品碳排放。"
    assert near_duplicate(shingles(zh), shingles("新华社电 " + zh), 0.8)


def test_recent_questions_put_the_newest_coverage_first(news_assistant):
    plain = [p.article_id for p in news_assistant.search("city council approved the harbour housing budget", k=3)]
    recent = [p.article_id for p in news_assistant.search("latest: city council approved the harbour housing budget", k=3)]
    assert plain.index("budget-2019") < plain.index("budget-2024")  # the closer wording wins by default
    assert recent[0] == "budget-2024"
    assert all(p.published for p in news_assistant.search("harbour", k=5))  # every result carries its date


def _hit(pid: str, lang: str, use: list[float], e5: list[float]):
    from assistant.store.interface import Hit

    return Hit(pid, 0.0, {"article_id": pid, "lang": lang}, {"use": use, "e5": e5})


def test_an_embedder_counts_only_where_it_knows_both_languages():
    from assistant.embedders.dense import USE_LANGUAGES
    from assistant.retrieval.fusion import fuse, leg_weight
    from assistant.retrieval.query import QueryVectors

    assert leg_weight(USE_LANGUAGES, "en", "zh") == 1.0
    assert leg_weight(USE_LANGUAGES, "sw", "en") == 0.0 and leg_weight(USE_LANGUAGES, "en", "sw") == 0.0
    assert leg_weight(None, "sw", "yo") == 1.0
    q = QueryVectors({"use": [1.0, 0.0], "e5": [1.0, 0.0]}, ([], []), "en")
    # USE is sure about the Swahili passage, e5 is not: outside USE's languages only e5 counts.
    swahili = _hit("sw", "sw", [1.0, 0.0], [0.0, 1.0])
    french = _hit("fr", "fr", [0.6, 0.8], [0.6, 0.8])
    ranked = fuse([swahili, french], q, {"use": USE_LANGUAGES, "e5": None}, {}, [], 0.05)
    assert [h.id for h in ranked] == ["fr", "sw"]
    assert ranked[1].score == pytest.approx(0.0, abs=1e-6) and ranked[0].score == pytest.approx(0.6, abs=1e-6)


def test_language_centring_lets_the_right_topic_in_another_language_win(tmp_path):
    """Dimensions: five topics, then 'English-ness' and 'Chinese-ness' (what multilingual models also encode)."""
    import uuid

    import numpy as np

    from assistant.retrieval.centring import language_means
    from assistant.retrieval.fusion import fuse
    from assistant.retrieval.query import QueryVectors
    from assistant.store.edge import EdgeStore
    from assistant.store.interface import ChunkPoint

    rng = np.random.default_rng(0)

    def doc(topic: int, lang: int) -> list[float]:
        v = np.zeros(7, dtype=np.float32)
        v[topic] = 1.0
        v[:5] += rng.uniform(0, 0.3, 5)
        v[5 + lang] = 2.0
        return (v / np.linalg.norm(v)).tolist()

    # 40 passages per language on topics 1-4; topic 0 is only in the Chinese "zh-0".
    rows = [(f"{name}-{i}", name, doc(0 if (name, i) == ("zh", 0) else 1 + i % 4, li))
            for li, name in enumerate(("en", "zh")) for i in range(40)]
    store = EdgeStore(tmp_path / "q", {"e5": 7})
    try:
        store.upsert([ChunkPoint(str(uuid.uuid5(uuid.NAMESPACE_URL, key)), {"e5": v}, ([], []),
                                 {"article_id": key, "lang": lang}) for key, lang, v in rows])
        means = language_means(store, {"en": 40, "zh": 40})
        assert means["en"]["e5"][5] > 0.5 > means["en"]["e5"][6]  # the English direction
        cands = [_hit(key, lang, v, v) for key, lang, v in rows]
        q = QueryVectors({"e5": (np.array([1, 0, 0, 0, 0, 2, 0]) / 5 ** 0.5).tolist()}, ([], []), "en")  # topic 0, in English
        raw = fuse(cands, q, {"e5": None}, {}, [], 0.0)
        centred = fuse(cands, q, {"e5": None}, means, [], 0.0)
        assert raw[0].payload["lang"] == "en"  # without centring an English passage on another topic wins
        assert centred[0].id == "zh-0"
    finally:
        store.close()


def test_default_embedders_cross_the_language_line_in_a_mixed_archive(tmp_path):
    """English and Chinese paragraphs on different topics; questions asked in the other language.

    A same-language passage on the wrong topic is the trap (e5 alone, ranked by raw cosine,
    walks into it); the default (USE + e5, per-language candidates, language centring) does not.
    """
    from assistant.service import Assistant
    from assistant.settings import load_settings
    from conftest import CORPORA, read_jsonl

    xq = CORPORA / "xquad"
    rows = [r for r in read_jsonl(xq / "corpus.mixed-en-zh.jsonl")
            if r["paragraph"][:8] in ("xquad-00", "xquad-24") and int(r["paragraph"][-2:]) < 10]
    corpus = write_jsonl(tmp_path / "mixed.jsonl", rows)
    have = {r["paragraph"] for r in rows}
    questions = [q for name in ("zh", "en")
                 for q in [q for q in read_jsonl(xq / f"questions.mixed-en-zh.{name}.jsonl", 400) if q["gold_paragraph"] in have][:10]]
    assert len(questions) == 20

    def recall(assistant) -> float:
        found = sum(any(p.article_id.startswith(q["gold_paragraph"]) for p in assistant.search(q["question"], k=5))
                    for q in questions)
        return found / len(questions)

    data = str(tmp_path / "data")
    default = Assistant(load_settings(env={}, data_dir=data))
    try:
        assert [e.name for e in default.embedders] == ["use", "e5"]
        assert not default.ingest([corpus]).failed
        good = recall(default)
    finally:
        default.close()
    naive = Assistant(load_settings(env={}, data_dir=data, embedders="e5", per_language=False, centre_languages=False,
                                    sparse_weight=0.0))
    try:
        bad = recall(naive)
    finally:
        naive.close()
    assert good >= 0.9, good
    assert bad < good - 0.2, (bad, good)


def test_bm25_reorders_within_a_language_but_never_lifts_one_language_over_another():
    from assistant.retrieval.fusion import fuse
    from assistant.retrieval.query import QueryVectors
    from assistant.store.interface import Hit

    q = QueryVectors({"e5": [1.0, 0.0]}, ([], []), "en")
    zh = _hit("zh", "zh", [0.6, 0.8], [0.6, 0.8])  # dense 0.6, no shared words
    en_close = _hit("en-close", "en", [0.5, 0.866], [0.5, 0.866])  # dense 0.5
    en_words = _hit("en-words", "en", [0.4, 0.917], [0.4, 0.917])  # dense 0.4, every query word
    bm = [Hit("en-words", 9.0, {}), Hit("en-close", 1.0, {})]
    cands = [zh, en_close, en_words]
    inside = fuse(cands, q, {"e5": None}, {}, bm, 0.5)
    assert [h.id for h in inside] == ["zh", "en-words", "en-close"]
    assert [round(h.score, 3) for h in inside] == [0.6, 0.5, 0.4]  # the language's dense scores, reassigned
    added = fuse(cands, q, {"e5": None}, {}, bm, 0.5, within_language=False)
    assert added[0].id == "en-words"  # a plain bonus lets the lexical match jump the language line
