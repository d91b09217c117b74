"""HTML news pages: metadata from <meta>, OpenGraph and JSON-LD; text by unstructured."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import lxml.html

from ..article import Article, derived_article_id
from ..normalize import MetadataError, clean_text, detect_language, normalize_lang, parse_datetime
from .base import ReaderError, ReadResult, decode_bytes
from .unstructured_offline import partition_text_elements


def _json_ld_article(doc: Any) -> dict[str, Any]:
    for script in doc.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        items = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(data, dict) else []
        for item in items:
            kind = item.get("@type") if isinstance(item, dict) else None
            kinds = kind if isinstance(kind, list) else [kind]
            if any(k in ("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting") for k in kinds):
                return item
    return {}


def _meta(doc: Any, *names: str) -> str:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            found = doc.xpath(f'//meta[@{attr}="{name}"]/@content')
            if found and found[0].strip():
                return found[0].strip()
    return ""


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        return _names(value.get("name", ""))
    return [s.strip() for s in str(value or "").split(",") if s.strip()]


class HtmlReader:
    def read(self, path: Path) -> Iterator[ReadResult]:
        html = decode_bytes(path.read_bytes(), str(path))
        if not html.strip():
            raise ReaderError(f"{path}: empty file")
        try:
            doc = lxml.html.document_fromstring(html.encode("utf-8"))
        except (lxml.etree.ParserError, ValueError) as exc:
            raise ReaderError(f"{path}: not parseable as HTML ({exc})") from exc
        ld = _json_ld_article(doc)
        elements = partition_text_elements(html, "html")
        body = clean_text("\n\n".join(e.text for e in elements)).strip()
        if not body:
            raise ReaderError(f"{path}: no article text found in the page")
        title = clean_text(
            ld.get("headline") or _meta(doc, "og:title", "twitter:title") or (doc.findtext(".//title") or "")
        ).strip()
        try:
            published = parse_datetime(
                ld.get("datePublished") or _meta(doc, "article:published_time", "datePublished", "date", "pubdate")
            )
        except MetadataError:
            published = None
        publisher = ld.get("publisher")
        source = _names(publisher)[0] if _names(publisher) else _meta(doc, "og:site_name")
        url = _meta(doc, "og:url") or next(iter(doc.xpath('//link[@rel="canonical"]/@href')), "")
        lang = normalize_lang(doc.get("lang", "") or _meta(doc, "og:locale", "language")) or detect_language(body)
        yield Article(
            id=derived_article_id(url) if url else derived_article_id(str(path.resolve())),
            title=title or path.stem,
            body=body,
            url=url,
            published=published,
            source=source,
            authors=_names(ld.get("author")) or _names(_meta(doc, "author", "article:author")),
            lang=lang,
            section=ld.get("articleSection", "") if isinstance(ld.get("articleSection", ""), str) else "",
            source_path=str(path),
        )
