"""The app's HTML: archive text stays text, citations link to their source, unsupported sentences show."""
from __future__ import annotations

import base64
import re

from assistant.answering.answer import Answer, AnswerSentence, Citation
from assistant.retrieval.holdings import ArticleFacts, holdings, per_month
from assistant.web.i18n import LANGS, STRINGS, pick_language, t
from assistant.web.render import (
    answer_html,
    card_from_citation,
    card_html,
    export_html,
    panel_html,
    report_html,
    safe_url,
    stack_panels,
)

HOSTILE = '<img src=x onerror="alert(1)"> [click](javascript:alert(2)) <a href="https://evil.example">x</a>'


def _citation(n: int = 1, text: str = "Intro. The minister said 41 schools closed. End.") -> Citation:
    start = text.index("The minister")
    return Citation(n=n, article_id="a", chunk_id=f"c{n}", title=HOSTILE, source="Outlet <b>", url="javascript:alert(3)",
                    published="2024-02-03T00:00:00Z", lang="en", text=text, start=100, end=100 + len(text),
                    quote="The minister said 41 schools closed.", quote_start=100 + start,
                    quote_end=100 + start + len("The minister said 41 schools closed."), authors=["A <i>B</i>"])


def _tags(fragment: str) -> set[str]:
    return {m.lower() for m in re.findall(r"<\s*([a-zA-Z]+)", fragment)}


def test_archive_text_is_escaped_and_the_cited_sentence_marked():
    out = card_html(card_from_citation(_citation()), turn=0, lang="en", open_=True)
    assert _tags(out) <= {"details", "summary", "span", "strong", "div", "mark", "br"}
    assert "&lt;img" in out and "javascript:" not in out.replace("[click](javascript:alert(2))", "")
    assert "<mark>The minister said 41 schools closed.</mark>" in out
    assert 'id="nr-src-0-1"' in out


def test_only_http_links_become_clickable():
    assert safe_url("https://example.org/a") == "https://example.org/a"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "ftp://x", "http:/nohost"):
        assert safe_url(bad) == ""


def test_answer_links_each_citation_and_marks_unsupported_sentences():
    answer = Answer("q?", "x", "llm", False, citations=[_citation(1), _citation(2)],
                    sentences=[AnswerSentence("Schools closed <script>x</script>.", [1], True, 0.9),
                               AnswerSentence("Forty-one [7] hospitals too.", [2], False, 0.1)])
    out = answer_html(answer, turn=3, lang="fr")
    assert out.count('class="nr-cite"') == 2
    assert 'href="#nr-src-3-1"' in out and 'href="#nr-src-3-2"' in out
    assert "&lt;script&gt;" in out and "<script" not in out
    assert '#nr-src-3-7' not in out  # a bracketed number inside the text is not a citation
    unsupported = re.search(r'<span class="nr-unsupported"[^>]*>(.*?)</span>', out).group(1)
    assert "Forty-one" in unsupported and t("unsupported", "fr") in unsupported


def test_panel_keeps_uncited_sources_one_click_away():
    card = card_from_citation(_citation())
    out = panel_html(0, [card], [card], "zh")
    assert out.count("<details") == 3 and f"{t('also_retrieved', 'zh')} (1)" in out


def test_older_turns_stay_in_the_panel_hidden():
    card = card_from_citation(_citation())
    out = stack_panels([panel_html(i, [card], [], "en") for i in range(3)])
    assert re.findall(r'<section class="nr-turn"( hidden)? id="nr-turn-(\d)"', out) == [
        (" hidden", "0"), (" hidden", "1"), ("", "2")]


def test_export_links_are_data_urls_of_the_given_text():
    out = export_html("# T <x>\n", "n,title\r\n", "en")
    href = re.search(r'id="nr-dl-md" download="answer.md" href="([^"]+)"', out).group(1)
    assert base64.b64decode(href.split(",", 1)[1]).decode() == "# T <x>\n"
    assert "&lt;x&gt;" in out  # the copy text is escaped too


def test_ingest_report_names_uploads_not_temp_paths():
    report = {"ingested": 1, "failed": [{"path": "/tmp/gr/abc/news.zip!a/<b>.html", "error": "not HTML"}]}
    out = report_html(report, {"/tmp/gr/abc/news.zip": "news.zip"}, "en")
    assert "news.zip!a/&lt;b&gt;.html: not HTML" in out and "/tmp/gr" not in out


def test_every_string_in_three_languages_and_browser_language():
    assert all(len(row) == len(LANGS) and all(row) for row in STRINGS.values())
    assert pick_language("fr-CH, fr;q=0.9, en;q=0.8") == "fr"
    assert pick_language("de-DE, zh-CN;q=0.8, en;q=0.5") == "zh"
    assert pick_language("de-DE") == "en" and pick_language(None) == "en"


def test_holdings_and_coverage_count_articles_by_month_and_language():
    facts = {"a": ArticleFacts("en", "X", "2024-01-05T00:00:00Z"), "b": ArticleFacts("fr", "Y", "2024-01-20T00:00:00Z"),
             "c": ArticleFacts("en", "X", "2023-12-31T23:00:00Z"), "d": ArticleFacts("en", "X", None)}
    got = holdings(facts)
    assert got["languages"] == {"en": 3, "fr": 1} and got["years"] == {"2023": 1, "2024": 2, "undated": 1}
    assert per_month(facts) == [
        {"month": "2023-12", "lang": "en", "articles": 1}, {"month": "2024-01", "lang": "en", "articles": 1},
        {"month": "2024-01", "lang": "fr", "articles": 1}, {"month": "undated", "lang": "en", "articles": 1}]


def test_an_abstention_says_why_in_the_reader_language():
    from assistant.answering.answerability import REASONS

    for reason in REASONS:
        answer = Answer("q?", "The archive does not answer this question.", "extractive", True, why_abstained=reason)
        html_fr = answer_html(answer, 0, "fr")
        assert t(f"why_{reason}", "fr") in html_fr.replace("&#x27;", "'") and "nr-why" in html_fr
    plain = answer_html(Answer("q?", "<b>no</b>", "extractive", True), 0, "en")
    assert plain == "&lt;b&gt;no&lt;/b&gt;"
