"""Every reader on small real files built here: HTML, NITF, NewsML-G2, RSS, Atom, CSV,
PDF, DOCX, EML, MBOX, ZIP, and text in the encodings a newsroom archive holds."""
from __future__ import annotations

import email
import mailbox
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assistant.text.language import detect_language
from ingest.article import Article
from ingest.readers import ReaderError, ReadFailure, reader_for, supported_suffixes
from ingest.readers.base import decode_bytes
from ingest.readers.csvfile import CsvReader
from ingest.readers.jsonl import JsonlReader
from readers_helpers import (
    AR_BODY,
    ATOM_XML,
    EN_BODY,
    ES_BODY,
    FR_BODY,
    NEWS_HTML,
    NEWSML_XML,
    NITF_XML,
    RSS_XML,
    RU_BODY,
    ZH_BODY,
    ZH_HANT_BODY,
    make_docx,
    make_eml,
    make_pdf,
    make_zip,
)


def read(path: Path) -> tuple[list[Article], list[ReadFailure]]:
    reader = reader_for(path)
    assert reader is not None, path
    items = list(reader.read(path))
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, ReadFailure)]


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_every_format_is_registered():
    for suffix in (".html", ".htm", ".xml", ".nitf", ".newsml", ".rss", ".atom", ".csv", ".jsonl", ".pdf", ".docx",
                   ".eml", ".mbox", ".zip", ".txt", ".md"):
        assert suffix in supported_suffixes()


# -- HTML ----------------------------------------------------------------------------
def test_html_main_text_without_boilerplate_and_full_metadata(tmp_path):
    [article], failures = read(write(tmp_path, "page.html", NEWS_HTML))
    assert not failures
    assert "12 million euros" in article.body and "dredging the old basin" in article.body
    for junk in ("NAVLINK", "ADVERTTEXT", "COMMENTTEXT", "FOOTERTEXT"):
        assert junk not in article.body, junk
    assert article.title == "Council approves new harbour budget"
    assert article.published == datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert article.published.utcoffset() == timedelta(hours=1)
    assert article.extra["modified"].startswith("2024-03-06T10:00:00+01:00")
    assert article.authors == ["Ana Ruiz", "Li Wei"]
    assert article.source == "Harbour Daily"
    assert article.section == "Politics"
    assert article.url == "https://example.org/news/harbour-budget"
    assert article.lang == "en"
    assert article.extra["keywords"] == "harbour, budget"
    assert article.source_path == str(tmp_path / "page.html")


def test_html_declared_legacy_charset(tmp_path):
    html = (
        '<html><head><meta charset="gb2312"><title>经济数据</title></head><body><article><p>'
        + ZH_BODY + "</p><p>" + ZH_BODY + "</p></article></body></html>"
    )
    [article], _ = read(write(tmp_path, "zh.html", html.encode("gb18030")))
    assert "国家统计局" in article.body
    assert article.title == "经济数据"
    assert article.lang == "zh"


def test_html_falls_back_to_unstructured_when_trafilatura_finds_nothing(tmp_path):
    # Too little prose for trafilatura's main-text heuristics: the fallback still reads it.
    [article], _ = read(write(tmp_path, "tiny.html", "<html><body><p>Short note.</p></body></html>"))
    assert "Short note." in article.body


# -- NITF / NewsML-G2 -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["story.nitf", "story.xml"])
def test_nitf(tmp_path, name):
    [article], failures = read(write(tmp_path, name, NITF_XML))
    assert not failures
    assert article.id == "nitf-2024-0042"
    assert article.title == "Floods close main rail line for three days"
    assert "Replacement buses" in article.body and "Heavy rain" in article.body
    assert article.published == datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert article.authors == ["Tom Baker"]
    assert article.source == "Rail News Agency"
    assert article.section == "National"
    assert article.lang == "en"
    assert article.extra["keywords"] == "floods, rail"


@pytest.mark.parametrize("name", ["g2.newsml", "g2.xml"])
def test_newsml_g2(tmp_path, name):
    [article], failures = read(write(tmp_path, name, NEWSML_XML))
    assert not failures
    assert article.id == "urn:newsml:example.org:20240305:g2-001"
    assert article.title == "Le port obtient un budget de rénovation"
    assert "douze millions" in article.body and "printemps" in article.body
    assert article.lang == "fr"
    assert article.authors == ["Marie Dupont"]
    assert article.source == "Agence Exemple"
    assert article.section == "Économie"
    assert article.published == datetime(2024, 3, 5, 8, 0, tzinfo=timezone.utc)
    assert article.embargo_until == datetime(2024, 3, 6, 6, 0, tzinfo=timezone.utc)


def test_newsml_wrapping_nitf(tmp_path):
    nitf_inner = NITF_XML.split("?>", 1)[1]
    g2 = (
        '<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:g2:nitf-wrapped"><contentMeta>'
        "<headline>Wrapped</headline></contentMeta><contentSet>"
        f'<inlineXML contenttype="application/nitf+xml">{nitf_inner}</inlineXML></contentSet></newsItem>'
    )
    [article], _ = read(write(tmp_path, "w.newsml", g2))
    assert article.id == "urn:g2:nitf-wrapped"
    assert "Replacement buses" in article.body


@pytest.mark.parametrize("encoding,text", [("GB2312", ZH_BODY), ("Big5", ZH_HANT_BODY), ("windows-1252", FR_BODY)])
def test_xml_in_legacy_encodings(tmp_path, encoding, text):
    xml = NITF_XML.replace("UTF-8", encoding).replace("Heavy rain", text + " Heavy rain")
    [article], _ = read(write(tmp_path, "legacy.nitf", xml.encode({"GB2312": "gb18030"}.get(encoding, encoding))))
    assert article.body.startswith(text)


def test_xml_declaring_an_unknown_encoding_is_refused_with_a_clear_error(tmp_path):
    """Found by tests/test_fuzz.py: expat's LookupError escaped the reader."""
    with pytest.raises(ReaderError, match=r"bad\.nitf: XML declares an unknown encoding"):
        read(write(tmp_path, "bad.nitf", NITF_XML.replace("UTF-8", "U-F-8")))


def test_xml_of_another_kind_is_refused_with_its_root(tmp_path):
    with pytest.raises(ReaderError, match="<urlset>"):
        read(write(tmp_path, "sitemap.xml", '<urlset><url><loc>https://x</loc></url></urlset>'))


# -- feeds --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["feed.rss", "feed.xml"])
def test_rss_one_article_per_item_and_a_failure_for_an_empty_item(tmp_path, name):
    articles, failures = read(write(tmp_path, name, RSS_XML))
    assert [a.title for a in articles] == ["Ferry strike ends", "Bridge reopens"]
    ferry, bridge = articles
    assert ferry.url == "https://example.org/ferry" and ferry.id == "https://example.org/ferry"
    assert ferry.authors == ["Ana Ruiz"] and ferry.section == "Transport" and ferry.source == "Harbour Daily"
    assert "pay rise of four percent" in ferry.body and "<p>" not in ferry.body
    assert ferry.published == datetime(2024, 3, 5, 8, 30, tzinfo=timezone.utc)
    assert bridge.published == datetime(2024, 3, 6, 8, 0, tzinfo=timezone.utc)
    assert bridge.id == "https://example.org/bridge"  # no guid: the link identifies it
    assert all(a.lang == "en" for a in articles)
    assert len(failures) == 1 and failures[0].where.endswith("#item3")


@pytest.mark.parametrize("name", ["feed.atom", "feed.xml"])
def test_atom(tmp_path, name):
    [article], failures = read(write(tmp_path, name, ATOM_XML))
    assert not failures
    assert article.id == "urn:uuid:entry-1"
    assert article.url == "https://example.es/puerto"
    assert article.authors == ["Lucía Gómez"]
    assert article.lang == "es"
    assert article.source == "Diario del Puerto"
    assert "doce millones" in article.body and "<p>" not in article.body
    assert article.published.utcoffset() == timedelta(hours=1)


# -- CSV ------------------------------------------------------------------------------
CSV_TEXT = (
    "guid,headline,story,published_at,byline,desk\n"
    f'cms-1,Harbour budget,"{EN_BODY}",2024-03-05T09:30:00+01:00,"Ana Ruiz, Li Wei",City\n'
    "cms-2,Bad date,Some text for the body,next tuesday-ish?,X,City\n"
    "cms-3,No body,,2024-03-05,X,City\n"
    "cms-4,Too many,text,2024-03-05,X,City,extra\n"
    f'cms-5,"Multi\nline",{FR_BODY.replace(",", "")},2024-03-06,Marie,Monde\n'
)


def test_csv_with_field_mapping_and_line_numbered_failures(tmp_path):
    path = write(tmp_path, "export.csv", CSV_TEXT)
    items = list(CsvReader(mapping={"body": "story"}).read(path))
    articles = [i for i in items if isinstance(i, Article)]
    failures = {f.where: f.error for f in items if isinstance(f, ReadFailure)}
    assert [a.id for a in articles] == ["cms-1", "cms-5"]
    first = articles[0]
    assert first.title == "Harbour budget" and first.body == EN_BODY
    assert first.authors == ["Ana Ruiz", "Li Wei"] and first.section == "City"
    assert first.published == datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert articles[1].lang == "fr"
    assert set(failures) == {f"{path}:3", f"{path}:4", f"{path}:5"}
    assert "date" in failures[f"{path}:3"]
    assert "body" in failures[f"{path}:4"]
    assert "fields" in failures[f"{path}:5"]


def test_csv_and_jsonl_share_one_mapping(tmp_path):
    from assistant.settings import load_settings
    from ingest.readers.jsonl import set_default_mapping

    set_default_mapping(load_settings(env={"NEWSROOM_FIELD_MAP": "body=story,title=hed"}).field_map)
    csv_path = write(tmp_path, "a.csv", f'id;hed;story\nx1;Headline;"{EN_BODY}"\n')  # ; delimiter sniffed
    jsonl_path = write(tmp_path, "a.jsonl", '{"id": "x1", "hed": "Headline", "story": "%s"}\n' % EN_BODY)
    [from_csv], _ = read(csv_path)
    [from_jsonl], _ = read(jsonl_path)
    assert (from_csv.id, from_csv.title, from_csv.body) == (from_jsonl.id, from_jsonl.title, from_jsonl.body) == (
        "x1", "Headline", EN_BODY)
    with pytest.raises(ReaderError, match="unknown field"):
        list(JsonlReader(mapping={"headline_text": "x"}).read(jsonl_path))
    set_default_mapping("")


# -- PDF / DOCX ---------------------------------------------------------------------------
def test_pdf_text_layer_and_metadata(tmp_path):
    path = write(tmp_path, "release.pdf", make_pdf(["Harbour budget approved", "Costs rose to 12 million euros."], title="Harbour budget"))
    [article], _ = read(path)
    assert article.title == "Harbour budget"
    assert "Harbour budget approved" in article.body and "12 million euros" in article.body
    assert article.authors == ["Ana Ruiz"]
    assert article.published == datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert article.lang == "en"


def test_docx(tmp_path):
    path = make_docx(tmp_path / "report.docx", "Harbour report", [EN_BODY, FR_BODY[:40]])
    [article], _ = read(path)
    assert article.title == "Harbour report"
    assert EN_BODY in article.body
    assert "Budget | 12 million euros" in article.body  # table rows are kept
    assert article.authors == ["Ana Ruiz"]
    assert article.lang == "en"


# -- mail -----------------------------------------------------------------------------------
def test_eml_press_release_with_attachments(tmp_path):
    pdf = make_pdf(["Annex: dredging costs", "Dredging costs rose sharply this year."])
    data = make_eml([
        ("annex.pdf", pdf, "application", "pdf"),
        ("page.html", NEWS_HTML.encode(), "text", "html"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image", "png"),  # unsupported: skipped
        ("note.txt", b"The harbour works start in May, the city said on Tuesday.", "text", "plain"),
    ])
    path = write(tmp_path, "release.eml", data)
    articles, failures = read(path)
    assert not failures
    mail, annex, page, note = articles
    # An attachment without a date of its own takes the message's, so re-reading changes nothing.
    assert note.published == mail.published
    assert [a.content_hash() for a in read(path)[0]] == [a.content_hash() for a in articles]
    assert mail.title == "Press release: Harbour renovation approved"
    assert mail.published == datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert mail.authors == ["City Press Office"] and mail.source == "City Press Office"
    assert mail.body.strip() == EN_BODY
    assert mail.extra["message_id"] == "pr-2024-03-05@city.example"
    for attached in (annex, page):
        assert attached.extra["message_id"] == "pr-2024-03-05@city.example"
        assert attached.extra["attached_to"] == mail.id
    assert annex.source_path == f"{path}!annex.pdf" and "Dredging costs" in annex.body
    assert page.source_path == f"{path}!page.html" and page.title == "Council approves new harbour budget"
    assert set(mail.extra["attachments"].split(", ")) == {annex.id, page.id, note.id}


def test_mbox_one_article_per_message(tmp_path):
    path = tmp_path / "releases.mbox"
    box = mailbox.mbox(str(path))
    for n, body in enumerate((EN_BODY, FR_BODY)):
        msg = email.message_from_bytes(make_eml(body=body))
        msg.replace_header("Message-ID", f"<msg-{n}@city.example>")
        box.add(msg)
    box.flush()
    box.close()
    articles, failures = read(path)
    assert not failures
    assert [a.lang for a in articles] == ["en", "fr"]
    assert len({a.id for a in articles}) == 2
    assert [a.source_path for a in articles] == [f"{path}!msg1", f"{path}!msg2"]


# -- ZIP -------------------------------------------------------------------------------
def test_zip_of_mixed_formats_with_one_nested_zip(tmp_path):
    inner = make_zip({"deep/note.txt": EN_BODY.encode()})
    innermost = make_zip({"x.zip": make_zip({"too-deep.txt": b"too deep text"})})
    data = make_zip({
        "web/page.html": NEWS_HTML.encode(),
        "wire/story.nitf": NITF_XML.encode(),
        "feeds/feed.rss": RSS_XML.encode(),
        "inner.zip": inner,
        "nest2.zip": innermost,
        "images/logo.png": b"\x89PNG\r\n\x1a\n",
        "__MACOSX/._page.html": b"junk",
    })
    path = write(tmp_path, "archive.zip", data)
    articles, failures = read(path)
    paths = sorted(a.source_path for a in articles)
    assert paths == sorted([
        f"{path}!web/page.html", f"{path}!wire/story.nitf", f"{path}!feeds/feed.rss", f"{path}!feeds/feed.rss",
        f"{path}!inner.zip!deep/note.txt",
    ])
    assert {f.where for f in failures} == {f"{path}!feeds/feed.rss#item3", f"{path}!nest2.zip!x.zip"}
    assert any("nested" in f.error for f in failures)
    # Ids of members read via temporary files are stable from run to run.
    again, _ = read(path)
    assert sorted(a.id for a in again) == sorted(a.id for a in articles)


# -- encodings and languages ----------------------------------------------------------------
@pytest.mark.parametrize(
    "text,encoding",
    [
        (EN_BODY + " Café, naïve — “quoted”.", "utf-8"),
        (FR_BODY, "utf-8-sig"),
        (RU_BODY, "utf-16"),  # with BOM
        (RU_BODY, "utf-16-le"),  # without BOM
        (ZH_BODY, "gb18030"),
        (ZH_BODY, "gbk"),
        (ZH_HANT_BODY, "big5"),
        (FR_BODY, "latin-1"),
        (FR_BODY + " Prix : 5 € – « cher »", "cp1252"),
        (ES_BODY, "cp1252"),
        (RU_BODY, "cp1251"),
    ],
)
def test_decode_without_mojibake(tmp_path, text, encoding):
    assert decode_bytes(text.encode(encoding), "x").lstrip("\ufeff") == text
    [article], _ = read(write(tmp_path, "t.txt", text.encode(encoding)))
    assert article.body == text


def test_damaged_utf8_keeps_the_good_characters(tmp_path):
    data = ("Ünïcödé text – " + FR_BODY).encode("utf-8") + b"\xff\xfe" + " fin du texte é.".encode()
    text = decode_bytes(data, "x")
    assert "Ünïcödé" in text and "approuvé" in text and "fin du texte é." in text  # no mojibake


@pytest.mark.parametrize(
    "text,lang", [(EN_BODY, "en"), (FR_BODY, "fr"), (ES_BODY, "es"), (ZH_BODY, "zh"), (ZH_HANT_BODY, "zh"),
                  (AR_BODY, "ar"), (RU_BODY, "ru")],
)
def test_language_detection(text, lang):
    assert detect_language(text) == lang


def test_a_truncated_mail_header_is_read_raw_not_a_crash(tmp_path):
    """Found by the fuzzer: the standard library's parser raises IndexError on ``Message-ID: <id@``."""
    path = tmp_path / "cut.eml"
    path.write_bytes(b"Subject: Harbour renovation approved\nFrom: City Press Office <press@city.example>\n"
                     b"Message-ID: <pr-2024-03-05@\n\nThe council approved the harbour renovation on Tuesday.\n")
    (article,) = list(reader_for(path).read(path))
    assert article.title == "Harbour renovation approved" and "approved the harbour" in article.body
