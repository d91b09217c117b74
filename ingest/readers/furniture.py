"""A news page's furniture: what surrounds the reporting and must never reach a chunk.

Footers, cookie and consent notices, share bars, newsletter boxes, related-article lists,
bylines and author notes repeated as text. Once stored, every such line is retrieved, quoted
and cited as if it were reporting. Two passes, both conservative:

- ``strip_elements``: before text extraction, remove the page elements whose tag, ARIA role,
  class or id names them as furniture (the words news templates use, in en/fr/es/de/zh sites'
  markup), never one that holds the article or most of the page's text;
- ``drop_lines``: after extraction, drop short paragraphs that read as furniture whatever
  their markup (a cookie notice in the site's own voice, a copyright line, "Lire aussi",
  "分享到", "责任编辑：", a byline naming the article's author).
"""
from __future__ import annotations

import re
from typing import Any

# Elements that are furniture by their tag alone.
FURNITURE_TAGS = ("nav", "footer", "aside", "form", "button", "dialog", "noscript", "iframe", "template", "menu")
FURNITURE_ROLES = ("navigation", "contentinfo", "banner", "complementary", "dialog", "alertdialog", "search")
# Class and id words of news templates (matched as whole words between -, _ or spaces).
_FURNITURE_NAME = re.compile(
    r"(?:^|[-_\s])(?:"
    r"cookies?|consent|gdpr|cmp|didomi|onetrust|privacy-banner|"
    r"newsletters?|subscribe|subscription|signup|sign-up|abonnement|suscripcion|"
    r"share|shares|sharing|social|sociaux|compartir|partager|partage|teilen|"
    r"related|lies|relacionad[oa]s|verwandte|recommended|recommendations?|outbrain|taboola|"
    r"read-?more|more-?info|mas-?informacion|lire-?aussi|a-?lire|te-puede-interesar|sur-le-meme-sujet|"
    r"byline|signature|author|authors|author-bio|autor|auteur|editor|"
    r"breadcrumbs?|footer|site-header|masthead|top-?nav|nav|navbar|menu|sidebar|"
    r"promo|advert|advertisement|ads?|paywall|comments?"
    r")(?=$|[-_\s])",
    re.IGNORECASE,
)
# Never removed: what holds the reporting.
_KEEP_TAGS = ("html", "body", "article", "main")
# An element holding more than this share of the page's text is the content, whatever its name.
MAX_FURNITURE_SHARE = 0.5

# Paragraphs longer than this are reporting even when they mention cookies or subscriptions.
MAX_FURNITURE_CHARS = 300
# Notices in the site's own voice, copyright lines, newsletter pitches: anywhere in a short paragraph.
_NOTICE = re.compile(
    r"\b(?:we use|we and our partners use|this (?:web)?site uses|nous utilisons|ce site utilise|"
    r"utilizamos|usamos|este sitio(?: web)? utiliza|wir verwenden)\b[^\n]*\bcookies?\b"
    r"|本网站使用cookie|使用cookie"
    r"|©|\ball rights reserved\b|\btous droits réservés\b|\btodos los derechos reservados\b|\balle rechte vorbehalten\b"
    r"|版权所有|未经授权禁止转载|icp备"
    r"|\b(?:sign up (?:to|for)|subscribe to) (?:our|the)\b[^\n]*\bnewsletter|\binscrivez-vous à notre newsletter"
    r"|\bsuscríbete a nuestr[oa]|\bnewsletter abonnieren|关注我们的微信公众号|扫描二维码",
    re.IGNORECASE,
)
# Labels that open a share bar, a related-articles box or an editor's line: only in a paragraph
# of at most LABEL_MAX_CHARS ("Share prices fell…" opens a sentence of reporting).
_LABEL = re.compile(
    r"^(?:(?:share(?: this(?: article| story| page)?)?|partager(?: cet article)?|compartir|teilen)"
    r"(?=\s*(?:$|[:：]|on\b|sur\b|en\b|via\b|auf\b|facebook|twitter|whatsapp|linkedin|e-?mail))|分享到"
    r"|related(?: articles| stories)?|read more|read also|see also|more on this|lire aussi|à lire aussi"
    r"|sur le même sujet|más información|te puede interesar|lee también|mehr zum thema"
    r"|相关新闻|相关阅读|延伸阅读|推荐阅读|责任编辑|编辑[:：]|来源[:：]|记者[:：\s]"
    r"|published|updated|publié le|mis à jour|publicado|actualizado|veröffentlicht|aktualisiert|发布时间|更新时间)",
    re.IGNORECASE,
)
LABEL_MAX_CHARS = 80
# A byline: a short paragraph naming the article's author (10 words or fewer, past the name).
BYLINE_MAX_WORDS = 10


def _text_len(el: Any) -> int:
    return len("".join(el.itertext()).strip())


def _is_furniture(el: Any) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in FURNITURE_TAGS:
        return True
    if tag == "header":  # the site's header, not the article's own (which holds the headline)
        return not el.xpath(".//h1")
    if (el.get("role") or "").lower() in FURNITURE_ROLES:
        return True
    names = f"{el.get('class') or ''} {el.get('id') or ''}"
    return bool(names.strip()) and bool(_FURNITURE_NAME.search(names))


def strip_elements(doc: Any) -> int:
    """Remove furniture elements from an lxml HTML tree in place; returns how many."""
    body = doc.find("body")
    total = _text_len(body if body is not None else doc) or 1
    doomed = []
    for el in doc.iter():
        if not isinstance(el.tag, str) or el.tag in _KEEP_TAGS or not _is_furniture(el):
            continue
        if el.xpath(".//article|.//main") or _text_len(el) > MAX_FURNITURE_SHARE * total:
            continue
        doomed.append(el)
    gone = set(doomed)
    removed = 0
    for el in doomed:
        if el.getparent() is None or any(anc in gone for anc in el.iterancestors()):
            continue  # the root, or it goes with its ancestor
        el.drop_tree()
        removed += 1
    return removed


def is_byline(paragraph: str, authors: list[str]) -> bool:
    """A short paragraph naming one of the article's authors ("By Jane Doe", "Par Claire Martin
    Publié le…", "记者 李明", the name alone)."""
    text = paragraph.strip()
    for name in authors:
        name = name.strip()
        if len(name) >= 2 and name in text and len(text.replace(name, " ").split()) <= BYLINE_MAX_WORDS \
                and len(text) <= 4 * len(name) + 60:
            return True
    return False


def drop_lines(body: str, authors: list[str]) -> str:
    """The body without paragraphs that read as furniture; paragraphs are separated by blank lines."""
    kept = []
    for para in re.split(r"\n\s*\n", body):
        text = para.strip()
        if not text:
            continue
        if len(text) <= MAX_FURNITURE_CHARS and (_NOTICE.search(text) or is_byline(text, authors)):
            continue
        if len(text) <= LABEL_MAX_CHARS and _LABEL.search(text):
            continue
        kept.append(para.strip("\n"))
    return "\n\n".join(kept)
