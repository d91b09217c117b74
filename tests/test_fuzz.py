"""Property and fuzz tests for the text plumbing that sees untrusted archive bytes.

Chunking: offsets reconstruct the article, nothing is lost or reordered, no cut splits
a letter from its combining marks or an emoji sequence, empty and huge inputs are
handled in linear time. Readers (HTML, NITF/NewsML/RSS/Atom, EML, CSV, JSON Lines): fuzzed and
mutated bytes give articles, ReadFailure records or the readers' documented
ReaderError, never another exception or a hang. Example counts are capped so the
file runs in well under a minute on two cores.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.text.sentences import safe_cut, sentences
from assistant.text.tokens import MAX_WORD_CHARS, TOKEN_RE, count_tokens
from ingest.article import Article
from ingest.chunking import chunk_text
from ingest.readers import ReaderError, ReadFailure, reader_for
from readers_helpers import ATOM_XML, EN_BODY, NEWS_HTML, NEWSML_XML, NITF_XML, RSS_XML, ZH_BODY, make_eml

# -- chunking ----------------------------------------------------------------------------
# Letters of several scripts, sentence marks (ASCII, full-width, Arabic, Devanagari),
# quotes, combining marks, ZWJ emoji parts, skin tones, variation selectors, spaces.
ALPHABET = list(
    "abcXYZ019 .!?;…\n\n\t\"'”»«()。！？；」你好世界日本語한국 مرحبا؟ привет नमस्ते। ไทยภาษา"
    "\u0301\u0308\u0327\u093e\u200d\ufe0f😀👩🏽\U0001f3fb❤\u00a0"
)
TEXTS = st.text(alphabet=st.sampled_from(ALPHABET), max_size=2500)
SIZES = st.tuples(st.integers(3, 80), st.integers(0, 60), st.integers(0, 30))


def _check_chunks(text: str, max_tokens: int, min_tokens: int, overlap: int) -> None:
    chunks = chunk_text(text, max_tokens=max_tokens, min_tokens=min(min_tokens, max_tokens), overlap_tokens=overlap)
    for i, c in enumerate(chunks):
        assert c.index == i
        assert text[c.start : c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert safe_cut(text, c.start) and safe_cut(text, c.end), (c.start, c.end, text[max(0, c.start - 2) : c.end + 2])
    # Never reordered: starts and ends both move forward.
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert [c.end for c in chunks] == sorted(c.end for c in chunks)
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:]))
    # Never lost: every non-space character lies in some chunk.
    covered = bytearray(len(text))
    for c in chunks:
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())
    # Bounded: a chunk exceeds the budget only when no token boundary inside it is a safe cut.
    for c in chunks:
        n = count_tokens(c.text)
        if n > max_tokens:
            inner = [m.start() for m in TOKEN_RE.finditer(text, c.start, c.end) if m.start() > c.start and safe_cut(text, m.start())]
            assert not inner, (n, max_tokens, c.text[:80])


@given(TEXTS, SIZES)
@settings(max_examples=300, deadline=None)
def test_chunks_reconstruct_cover_and_order_the_text(text, sizes):
    _check_chunks(text, *sizes)


@given(st.text(max_size=600), SIZES)
@settings(max_examples=150, deadline=None)
def test_chunks_hold_for_any_unicode_including_surrogates(text, sizes):
    _check_chunks(text, *sizes)


@given(TEXTS)
@settings(max_examples=150, deadline=None)
def test_sentences_are_ordered_trimmed_and_never_split_a_character(text):
    spans = sentences(text)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    for s in spans:
        assert text[s.start : s.end].strip() == text[s.start : s.end] != ""
        assert safe_cut(text, s.start) and safe_cut(text, s.end)


def test_combining_marks_and_emoji_sequences_stay_whole():
    decomposed = "e\u0301" * 500  # 1000 tokens: letter, mark, letter, mark...
    for max_tokens in (7, 31, 64):
        chunks = chunk_text(decomposed, max_tokens=max_tokens, min_tokens=1, overlap_tokens=0)
        assert len(chunks) > 1 and all(c.text.startswith("e") and c.text.endswith("\u0301") for c in chunks)
    family = "👩\u200d👩\u200d👧\u200d👦 " * 200
    for c in chunk_text(family, max_tokens=9, min_tokens=1, overlap_tokens=0):
        assert c.text.startswith("👩") and c.text.endswith("👦"), c.text


def test_empty_and_whitespace_inputs():
    for text in ("", " ", "\n\n\n", "\t \u00a0\n", "\u3000"):
        assert chunk_text(text) == [] or all(c.text.strip() for c in chunk_text(text))
    assert chunk_text("") == []
    [only] = chunk_text("x")
    assert (only.start, only.end, only.text) == (0, 1, "x")


@pytest.mark.parametrize(
    "text",
    [
        "." * 200_000,  # used to backtrack quadratically (40,000 dots took a minute)
        "!?" * 100_000,
        "。" * 200_000,
        "a" * 1_000_000,  # one "word": must not become one unbounded chunk
        "ภาษาไทย" * 50_000,  # no spaces, no sentence marks
        "e\u0301" * 100_000,
        ("The council met. " * 20 + "\n\n") * 3000,
    ],
    ids=["dots", "bangs", "fullwidth-stops", "one-word", "thai", "combining", "paragraphs"],
)
def test_huge_inputs_are_chunked_in_linear_time_and_bounded(text):
    chunks = chunk_text(text)
    assert chunks and chunks[0].start == 0
    assert max(len(c.text) for c in chunks) <= 320 * MAX_WORD_CHARS
    assert all(count_tokens(c.text) <= 320 for c in chunks)
    assert "".join(text[c.start : c.end] for c in chunks).replace(" ", "").replace("\n", "") != ""
    assert chunks[-1].end == len(text.rstrip())


# -- readers under fuzzed bytes --------------------------------------------------------------
SEEDS: dict[str, list[bytes]] = {
    ".html": [NEWS_HTML.encode(), f"<html><body><article><p>{EN_BODY}</p><p>{ZH_BODY}</p></article></body></html>".encode()],
    ".xml": [NITF_XML.encode(), NEWSML_XML.encode(), RSS_XML.encode(), ATOM_XML.encode()],
    ".eml": [make_eml(), make_eml([("note.html", f"<p>{EN_BODY}</p>".encode(), "text", "html")])],
    ".jsonl": [
        ('{"id": "j1", "title": "Harbour", "body": "%s", "published": "2024-03-05T09:30:00+01:00", "authors": ["Ana Ruiz"]}\n'
         '{"id": 7, "headline": "港口", "text": "%s", "date": 1709600000, "lang": "zh"}\n' % (EN_BODY, ZH_BODY)).encode(),
    ],
    ".csv": [
        ("id,title,body,published,lang\n1,Harbour,\"" + EN_BODY + "\",2024-03-05,en\n2,港口,\"" + ZH_BODY + "\",2024-03-06T08:00:00+08:00,zh\n").encode(),
        ("headline;text;date\nPort;" + EN_BODY.replace(";", ",") + ";05/03/2024\n").encode("cp1252"),
    ],
}
JUNK = [b"[" * 5000, b'{"body": ', b"1e400", b"NaN", b"<", b">", b"</", b"&", b"&amp;", b"<![CDATA[", b"]]>", b"<!DOCTYPE x [", b"\x00", b"\xff\xfe", b"\xe4\xb8",
        b"\r\n", b"\n\n", b'"', b",", b";", b"=?utf-8?b?", b"Content-Type: multipart/mixed; boundary=", b"--",
        b"<script>", b"<p>", b"<div>" * 50, b"<?xml version='1.0' encoding='big5'?>", b"\xef\xbb\xbf", b"%"]


@st.composite
def mutated(draw, suffix: str) -> bytes:
    """A seed document with a few random byte-level edits (flip, insert, delete, splice, truncate)."""
    data = bytearray(draw(st.sampled_from(SEEDS[suffix])))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup", "truncate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.one_of(st.sampled_from(JUNK), st.binary(max_size=16)))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "dup":
            end = min(len(data), pos + draw(st.integers(1, 200)))
            data[pos:pos] = data[pos:end] * draw(st.integers(1, 4))
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


_FUZZ_DIR = Path(tempfile.mkdtemp(prefix="newsroom-fuzz-"))


def _read(suffix: str, data: bytes) -> list:
    path = _FUZZ_DIR / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        items = list(reader_for(path).read(path))
    except ReaderError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip() or message.startswith(str(path)), message
        return []
    for item in items:
        assert isinstance(item, (Article, ReadFailure))
        if isinstance(item, Article):
            assert item.body.strip() and item.id
            assert item.published is None or item.published.tzinfo is not None
            chunk_text(item.body)
    return items


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("suffix", [".html", ".xml", ".eml", ".csv", ".jsonl"])
def test_readers_survive_mutated_documents(suffix):
    @settings(FUZZ, max_examples=20 if suffix == ".html" else 40)  # HTML runs trafilatura: slower per example
    @given(mutated(suffix))
    def run(data):
        _read(suffix, data)

    run()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("suffix", [".html", ".xml", ".eml", ".csv", ".jsonl", ".rss", ".nitf", ".newsml"])
def test_readers_survive_random_bytes(suffix):
    @settings(max_examples=25, deadline=None)
    @given(st.binary(min_size=1, max_size=400))
    def run(data):
        _read(suffix, data)

    run()


@pytest.mark.timeout(120)
def test_html_reader_survives_generated_markup():
    tags = st.sampled_from(["p", "div", "article", "script", "style", "table", "td", "meta", "title", "a", "svg", "math",
                            "template", "iframe", "noscript", "h1", "br", "img", "time"])
    attrs = st.sampled_from(['', ' property="article:published_time" content="2024-13-45"', ' lang="zz-ZZZ"',
                             ' datetime="not a date"', ' href="javascript:alert(1)"', ' onload="x()"',
                             ' type="application/ld+json"', ' charset="big5"'])
    texts = st.text(alphabet=st.sampled_from(ALPHABET + list("<>&;{}[]:\"")), max_size=60)

    @st.composite
    def markup(draw, depth=0):
        parts = []
        for _ in range(draw(st.integers(1, 4))):
            if depth < 6 and draw(st.booleans()):
                tag = draw(tags)
                parts.append(f"<{tag}{draw(attrs)}>{draw(markup(depth + 1))}</{tag}>" if draw(st.booleans()) else f"<{tag}{draw(attrs)}>")
            else:
                parts.append(draw(texts))
        return "".join(parts)

    @settings(FUZZ, max_examples=25)
    @given(markup())
    def run(html):
        _read(".html", html.encode("utf-8", "surrogatepass"))

    run()
