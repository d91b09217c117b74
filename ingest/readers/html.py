"""HTML news pages.

Main text by trafilatura (navigation, ads, comments, footers left out), falling back
to unstructured when trafilatura finds nothing, both on the page without its furniture
(cookie notices, share and newsletter boxes, related lists, bylines: furniture.py); metadata from JSON-LD, OpenGraph and
<meta> tags first (they carry times with zones), trafilatura/htmldate second.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Iterator

import lxml.etree
import lxml.html

from assistant.text.language import detect_language

from ..article import Article, derived_article_id
from ..normalize import MetadataError, clean_text, normalize_lang, parse_datetime
from .base import ReaderError, ReadResult, declared_charset, decode_bytes, display_path, identity_path
from .furniture import drop_lines, strip_elements
from .unstructured_offline import partition_text_elements

MAX_NESTING = 400  # deeper pages are generated junk or an attack; parsers recurse on them
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_ARTICLE_TYPES = ("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle",
                  "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle", "LiveBlogPosting")


# Decoded already: a <meta charset> in the page must not make lxml decode it again.
_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def nesting_depth(html: str) -> int:
    """Deepest element nesting, counted over the raw tags (no parser recursion)."""
    depth = deepest = 0
    for m in _TAG_RE.finditer(html):
        name = m.group(2).lower()
        if name in _VOID or m.group(3):
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
    return deepest


def _json_ld_article(doc: Any) -> dict[str, Any]:
    for script in doc.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        items = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(data, dict) else []
        for item in items:
            kind = item.get("@type") if isinstance(item, dict) else None
            kinds = kind if isinstance(kind, list) else [kind]
            if any(k in _ARTICLE_TYPES for k in kinds):
                return item
    return {}


def _meta(metas: list[Any], *names: str) -> str:
    """Content of the first <meta> named by any of ``names`` (property, name, itemprop, http-equiv)."""
    for name in names:
        for attr in ("property", "name", "itemprop", "http-equiv"):
            for meta in metas:
                if meta.get(attr) == name and (meta.get("content") or "").strip():
                    return meta.get("content").strip()
    return ""


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        return _names(value.get("name", ""))
    return [s.strip() for s in str(value or "").split(",") if s.strip()]


def _str(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_str(v) for v in value if _str(v))
    return clean_text(value).strip() if isinstance(value, (str, int, float)) else ""


def _date(*candidates: Any) -> Any:
    for value in candidates:
        if not value:
            continue
        try:
            return parse_datetime(value)
        except MetadataError:
            continue
    return None


def _trafilatura(html: str) -> Any:
    try:
        import trafilatura

        return trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True, deduplicate=False,
        )
    except Exception:  # trafilatura gave up on this page: the unstructured fallback reads it
        return None


def article_from_html(html: str, where: str, source_path: str, fallback_id: str) -> Article:
    """One article from an HTML page (also used for feed items and mail bodies)."""
    if not html.strip():
        raise ReaderError(f"{where}: empty file")
    depth = nesting_depth(html)
    if depth > MAX_NESTING:
        raise ReaderError(f"{where}: HTML nested {depth} elements deep (limit {MAX_NESTING}); refusing to parse")
    try:
        doc = lxml.html.document_fromstring(html.encode("utf-8"), parser=_UTF8_PARSER)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ReaderError(f"{where}: not parseable as HTML ({exc})") from exc
    metas = doc.xpath("//meta")  # once: a page can hold 100,000 elements
    ld = _json_ld_article(doc)
    page = copy.deepcopy(doc)  # the text comes from the page without its furniture; metadata from all of it
    strip_elements(page)
    html = lxml.html.tostring(page, encoding="unicode")
    extracted = _trafilatura(html)
    body = clean_text(getattr(extracted, "text", "") or "").strip() if extracted is not None else ""
    if not body:
        try:
            elements = partition_text_elements(html, "html")
        except RecursionError as exc:
            raise ReaderError(f"{where}: HTML nested too deeply to parse") from exc
        body = clean_text("\n\n".join(e.text for e in elements)).strip()
    if not body:
        raise ReaderError(f"{where}: no article text found in the page")
    meta_title = _meta(metas, "og:title", "twitter:title") or (doc.findtext(".//title") or "")
    title = _str(ld.get("headline")) or clean_text(meta_title).strip() or _str(getattr(extracted, "title", ""))
    published = _date(
        ld.get("datePublished"),
        _meta(metas, "article:published_time", "datePublished", "og:article:published_time", "date", "pubdate",
              "publishdate", "DC.date.issued", "dcterms.created", "sailthru.date", "parsely-pub-date"),
        *doc.xpath("//time[@datetime][1]/@datetime")[:1],
        getattr(extracted, "date", None),
    )
    modified = _date(ld.get("dateModified"), _meta(metas, "article:modified_time", "dateModified", "og:updated_time", "last-modified"))
    publisher = ld.get("publisher")
    source = (_names(publisher)[:1] or [""])[0] or _meta(metas, "og:site_name", "application-name") or _str(getattr(extracted, "sitename", ""))
    url = (
        next(iter(doc.xpath('//link[@rel="canonical"]/@href')), "")
        or _meta(metas, "og:url")
        or _str(ld.get("url") if isinstance(ld.get("url"), str) else "")
    ).strip()
    authors = (
        _names(ld.get("author"))
        or _names(_meta(metas, "author", "article:author", "byl", "dc.creator", "parsely-author"))
        or _names(getattr(extracted, "author", "") or "")
    )
    authors = [re.sub(r"^(?i:by)\s+", "", a) for a in authors if not a.startswith("http")] or authors
    body = drop_lines(body, authors)
    if not body:
        raise ReaderError(f"{where}: no article text found in the page (only its furniture)")
    section = _str(ld.get("articleSection")) or _meta(metas, "article:section", "section", "parsely-section")
    tags = [t.strip() for t in doc.xpath('//meta[@property="article:tag"]/@content') if t.strip()]
    keywords = _str(ld.get("keywords")) or _meta(metas, "keywords", "news_keywords") or ", ".join(tags)
    lang = normalize_lang(doc.get("lang", "") or _str(ld.get("inLanguage")) or _meta(metas, "og:locale", "language", "content-language"))
    lang = lang or detect_language(title + "\n" + body)
    extra: dict[str, str] = {}
    if modified:
        extra["modified"] = modified.isoformat()
    if keywords:
        extra["keywords"] = keywords
    if extracted is None or not getattr(extracted, "text", ""):
        extra["extractor"] = "unstructured"
    return Article(
        id=derived_article_id(url) if url else fallback_id,
        title=title or Path(source_path).stem,
        body=body,
        url=url,
        published=published,
        source=source,
        authors=authors,
        lang=lang,
        section=section,
        source_path=source_path,
        extra=extra,
    )


class HtmlReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        data = path.read_bytes()
        html = decode_bytes(data, display_path(path), declared_charset(data))
        yield article_from_html(html, display_path(path), display_path(path), derived_article_id(identity_path(path)))
