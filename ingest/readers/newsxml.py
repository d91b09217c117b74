"""News XML: IPTC NewsML-G2, NITF, RSS and Atom feeds (sniffed by root element).

All of it parsed by ``xmlsafe.parse_xml``: entity declarations (XXE, billion laughs)
are refused, nothing is fetched.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import lxml.etree
import lxml.html

from assistant.text.language import detect_language

from ..article import Article, derived_article_id, derived_title
from ..normalize import MetadataError, clean_text, normalize_lang, parse_datetime
from .base import ReaderError, ReadFailure, ReadResult, display_path
from .xmlsafe import child, children, descendants, local, parse_xml, text_of

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_BLOCKS = frozenset("p hl1 hl2 h1 h2 h3 h4 h5 h6 li blockquote pre dd dt td caption".split())
_FEED_ROOTS = frozenset({"rss", "feed", "RDF"})
_G2_ROOTS = frozenset({"newsItem", "newsMessage", "packageItem"})


def _date(value: str, field: str = "published"):
    try:
        return parse_datetime(value.strip(), field) if value and value.strip() else None
    except MetadataError:
        return None


def block_text(el: ET.Element | None) -> str:
    """Paragraph text of an XML/XHTML body: one paragraph per block element."""
    if el is None:
        return ""
    blocks = [clean_text(" ".join(text_of(b).split())) for b in el.iter() if local(b.tag) in _BLOCKS]
    blocks = [b for b in blocks if b]
    if not blocks:
        return clean_text(" ".join(text_of(el).split()))
    return "\n\n".join(blocks)


def html_fragment_text(html: str, where: str) -> str:
    """Plain text of an HTML fragment (feed content, mail body), paragraphs kept."""
    from .html import MAX_NESTING, nesting_depth

    if not html.strip():
        return ""
    if "<" not in html:
        return clean_text(html).strip()
    depth = nesting_depth(html)
    if depth > MAX_NESTING:
        raise ReaderError(f"{where}: HTML nested {depth} elements deep (limit {MAX_NESTING})")
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return clean_text(html).strip()
    for bad in doc.xpath("//script|//style|//nav|//footer|//aside"):
        bad.drop_tree()
    parts: list[str] = []
    for el in doc.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCKS:
            text = " ".join(el.text_content().split())
            if text:
                parts.append(text)
    if not parts:
        parts = [" ".join(doc.text_content().split())]
    return clean_text("\n\n".join(parts)).strip()


# -- NITF -------------------------------------------------------------------------
def nitf_article(root: ET.Element, where: str, source_path: str, fallback_id: str, inherited: dict | None = None) -> Article:
    inherited = inherited or {}
    head = child(root, "head")
    body = child(root, "body")
    docdata = child(head, "docdata")
    title = text_of(child(body, "body.head", "hedline", "hl1")) or text_of(child(head, "title")) or inherited.get("title", "")
    text = block_text(child(body, "body.content"))
    if not text:
        raise ReaderError(f"{where}: NITF document has no body.content text")
    doc_id = (child(docdata, "doc-id").get("id-string", "") if child(docdata, "doc-id") is not None else "") or inherited.get("id", "")
    issue = child(docdata, "date.issue")
    release = child(docdata, "date.release")
    embargo = child(docdata, "date.expire")  # not an embargo; kept in extra
    published = _date(issue.get("norm", "") if issue is not None else "") or _date(release.get("norm", "") if release is not None else "") or inherited.get("published")
    body_head = child(body, "body.head")
    authors = [clean_text(" ".join(text_of(p).split())) for p in descendants(body_head, "person")] if body_head is not None else []
    if not authors:
        byline = text_of(child(body, "body.head", "byline"))
        authors = [byline[3:].strip() if byline.lower().startswith("by ") else byline] if byline else []
    pubdata = child(head, "pubdata")
    source = (pubdata.get("name", "") if pubdata is not None else "") or inherited.get("source", "")
    keywords = [k.get("key", "") for k in (descendants(docdata, "keyword") if docdata is not None else []) if k.get("key")]
    section = ""
    for meta in children(head, "meta") if head is not None else []:
        if meta.get("name", "").lower() in ("section", "category", "desk"):
            section = meta.get("content", "")
    tobject = child(head, "tobject")
    if not section and tobject is not None:
        section = tobject.get("tobject.type", "")
    lang = normalize_lang(root.get(XML_LANG, "") or (body.get(XML_LANG, "") if body is not None else "") or inherited.get("lang", ""))
    extra = {"format": "nitf"}
    if keywords:
        extra["keywords"] = ", ".join(keywords)
    if embargo is not None and embargo.get("norm"):
        extra["expires"] = embargo.get("norm", "")
    return Article(
        id=doc_id or fallback_id,
        title=clean_text(" ".join(title.split())) or derived_title(text),
        body=text,
        url=inherited.get("url", ""),
        published=published,
        source=clean_text(source),
        authors=[a for a in authors if a] or inherited.get("authors", []),
        lang=lang or detect_language(title + "\n" + text),
        section=clean_text(section) or inherited.get("section", ""),
        embargo_until=inherited.get("embargo_until"),
        source_path=source_path,
        extra=extra,
    )


# -- NewsML-G2 ----------------------------------------------------------------------
def _g2_item(item: ET.Element, where: str, source_path: str, fallback_id: str) -> Article:
    item_meta = child(item, "itemMeta")
    content_meta = child(item, "contentMeta")
    guid = item.get("guid", "")
    lang = normalize_lang(item.get(XML_LANG, "") or (child(content_meta, "language").get("tag", "") if child(content_meta, "language") is not None else ""))
    headline = text_of(child(content_meta, "headline"))
    published = (
        _date(text_of(child(content_meta, "contentCreated")))
        or _date(text_of(child(item_meta, "firstCreated")))
        or _date(text_of(child(item_meta, "versionCreated")))
    )
    modified = _date(text_of(child(content_meta, "contentModified"))) or _date(text_of(child(item_meta, "versionCreated")))
    embargo = _date(text_of(child(item_meta, "embargoed")), "embargo_until")
    authors = []
    for creator in children(content_meta, "creator") if content_meta is not None else []:
        name = text_of(child(creator, "name")) or creator.get("literal", "")
        if name:
            authors.append(clean_text(" ".join(name.split())))
    provider = child(item_meta, "provider")
    source = ""
    if provider is not None:
        source = text_of(child(provider, "name")) or provider.get("literal", "") or provider.get("qcode", "")
    if not source and content_meta is not None:
        info = child(content_meta, "infoSource")
        source = (text_of(child(info, "name")) or info.get("literal", "")) if info is not None else ""
    section = ""
    keywords = []
    for subj in children(content_meta, "subject") if content_meta is not None else []:
        name = text_of(child(subj, "name"))
        if name:
            keywords.append(name)
            if not section and subj.get("type", "") in ("cpnat:abstract", "cpnat:category", ""):
                section = name
    for kw in children(content_meta, "keyword") if content_meta is not None else []:
        if text_of(kw):
            keywords.append(text_of(kw))
    url = ""
    for link in children(item_meta, "link") if item_meta is not None else []:
        if link.get("rel", "") in ("irel:seeAlso", "canonical", "") and link.get("href", "").startswith("http"):
            url = link.get("href", "")
            break
    inherited = {"id": guid, "title": headline, "published": published, "source": source, "lang": lang,
                 "authors": authors, "section": section, "embargo_until": embargo, "url": url}
    text = ""
    content_set = child(item, "contentSet")
    if content_set is not None:
        for inline in children(content_set, "inlineXML"):
            nitf = next((e for e in inline.iter() if local(e.tag) == "nitf"), None)
            if nitf is not None:
                article = nitf_article(nitf, where, source_path, guid or fallback_id, inherited)
                article.id = guid or article.id
                article.extra["format"] = "newsml-g2"
                if modified:
                    article.extra["modified"] = modified.isoformat()
                return article
            xhtml_body = next((e for e in inline.iter() if local(e.tag) == "body"), None)
            text = block_text(xhtml_body if xhtml_body is not None else inline)
            if text:
                break
        if not text:
            text = "\n\n".join(clean_text(" ".join(text_of(i).split())) for i in children(content_set, "inlineData") if text_of(i))
    if not text:
        raise ReaderError(f"{where}: NewsML-G2 item {guid or '(no guid)'} has no inline text content")
    extra = {"format": "newsml-g2"}
    if modified:
        extra["modified"] = modified.isoformat()
    if keywords:
        extra["keywords"] = ", ".join(keywords)
    return Article(
        id=guid or fallback_id,
        title=clean_text(" ".join(headline.split())) or derived_title(text),
        body=text,
        url=url,
        published=published,
        source=clean_text(source),
        authors=authors,
        lang=lang or detect_language(headline + "\n" + text),
        section=clean_text(section),
        embargo_until=embargo,
        source_path=source_path,
        extra=extra,
    )


def g2_articles(root: ET.Element, where: str, source_path: str) -> Iterator[ReadResult]:
    items = [root] if local(root.tag) == "newsItem" else descendants(root, "newsItem")
    if not items:
        yield ReadFailure(where, "NewsML-G2 document holds no newsItem with text (packages are not followed)")
        return
    for n, item in enumerate(items, start=1):
        item_where = where if len(items) == 1 else f"{where}#item{n}"
        try:
            yield _g2_item(item, item_where, source_path, derived_article_id(source_path, str(n)))
        except (ReaderError, MetadataError) as exc:
            yield ReadFailure(item_where, str(exc).replace(f"{item_where}: ", ""))


# -- RSS / Atom ---------------------------------------------------------------------
def _feed_item(item: ET.Element, atom: bool, channel: dict, where: str, source_path: str, fallback_id: str) -> Article:
    if atom:
        title = text_of(child(item, "title"))
        link = ""
        for l in children(item, "link"):
            if l.get("rel", "alternate") == "alternate" and l.get("href"):
                link = l.get("href", "")
                break
        guid = text_of(child(item, "id"))
        published = _date(text_of(child(item, "published"))) or _date(text_of(child(item, "updated")))
        authors = [text_of(child(a, "name")) for a in children(item, "author") if text_of(child(a, "name"))]
        content = child(item, "content")
        summary = child(item, "summary")
        raw_el = content if content is not None and text_of(content) else summary
        kind = raw_el.get("type", "text") if raw_el is not None else "text"
        if kind == "xhtml":
            body = block_text(raw_el)
        else:
            raw = text_of(raw_el)
            body = html_fragment_text(raw, where) if kind == "html" or "<" in raw else clean_text(raw).strip()
        categories = [c.get("term", "") for c in children(item, "category") if c.get("term")]
        lang = item.get(XML_LANG, "") or channel.get("lang", "")
    else:
        title = text_of(child(item, "title"))
        link = text_of(child(item, "link"))
        guid = text_of(child(item, "guid")) or item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about", "")
        published = _date(text_of(child(item, "pubDate"))) or _date(text_of(child(item, "date")))
        authors = [text_of(a) for a in children(item, "creator") if text_of(a)] or [text_of(a) for a in children(item, "author") if text_of(a)]
        raw = text_of(child(item, "encoded")) or text_of(child(item, "description"))
        body = html_fragment_text(raw, where)
        categories = [text_of(c) for c in children(item, "category") if text_of(c)]
        lang = channel.get("lang", "")
    if not body:
        raise ReaderError("feed item has no text (no description or content)")
    title = clean_text(" ".join(title.split()))
    return Article(
        id=guid or link or fallback_id,
        title=title or derived_title(body),
        body=body,
        url=link.strip(),
        published=published,
        source=channel.get("title", ""),
        authors=[clean_text(a) for a in authors],
        lang=normalize_lang(lang) or detect_language(title + "\n" + body),
        section=clean_text(categories[0]) if categories else "",
        source_path=source_path,
        extra={"format": "atom" if atom else "rss", **({"keywords": ", ".join(categories)} if len(categories) > 1 else {})},
    )


def feed_articles(root: ET.Element, where: str, source_path: str) -> Iterator[ReadResult]:
    name = local(root.tag)
    atom = name == "feed"
    if atom:
        channel_el = root
        items = children(root, "entry")
    else:
        channel_el = child(root, "channel")
        items = (children(channel_el, "item") if channel_el is not None else []) + children(root, "item")
    channel = {
        "title": clean_text(text_of(child(channel_el, "title"))) if channel_el is not None else "",
        "lang": (root.get(XML_LANG, "") or text_of(child(channel_el, "language"))) if channel_el is not None else "",
    }
    if not items:
        yield ReadFailure(where, f"{'Atom' if atom else 'RSS'} feed has no items")
        return
    for n, item in enumerate(items, start=1):
        item_where = f"{where}#item{n}"
        try:
            yield _feed_item(item, atom, channel, item_where, source_path, derived_article_id(source_path, str(n)))
        except (ReaderError, MetadataError) as exc:
            yield ReadFailure(item_where, str(exc).replace(f"{item_where}: ", ""))


# -- readers ------------------------------------------------------------------------
def xml_articles(data: bytes, where: str, source_path: str, expect: str | None = None) -> Iterator[ReadResult]:
    """Articles of any supported news XML, dispatched on the root element."""
    root = parse_xml(data, where)
    name = local(root.tag)
    if name == "nitf" and expect in (None, "nitf"):
        yield nitf_article(root, where, source_path, derived_article_id(source_path))
    elif name in _G2_ROOTS and expect in (None, "newsml"):
        yield from g2_articles(root, where, source_path)
    elif name in _FEED_ROOTS and expect in (None, "feed"):
        yield from feed_articles(root, where, source_path)
    else:
        wanted = {"nitf": "NITF", "newsml": "NewsML-G2", "feed": "RSS/Atom"}.get(expect or "", "NITF, NewsML-G2, RSS or Atom")
        raise ReaderError(f"{where}: XML root element <{name}> is not {wanted}")


class _XmlReader:
    expect: str | None = None

    def read(self, path: Path) -> Iterator[ReadResult]:
        data = path.read_bytes()
        if not data.strip():
            raise ReaderError(f"{display_path(path)}: empty file")
        yield from xml_articles(data, display_path(path), display_path(path), self.expect)


class XmlReader(_XmlReader):
    """`.xml`: NITF, NewsML-G2, RSS or Atom, whichever the root element says."""


class NitfReader(_XmlReader):
    expect = "nitf"


class NewsMLReader(_XmlReader):
    expect = "newsml"


class FeedReader(_XmlReader):
    expect = "feed"
