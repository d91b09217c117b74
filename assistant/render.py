"""HTML for sources and citations. Archive text is always escaped: it is shown, never run."""
from __future__ import annotations

import html
from urllib.parse import urlparse

from .answer import Answer, Citation
from .retrieve import Passage


def safe_url(url: str) -> str:
    """Only http(s) links are ever made clickable."""
    return url if urlparse(url).scheme in ("http", "https") else ""


def _meta_line(title: str, source: str, published: str | None, lang: str, authors: list[str], url: str) -> str:
    parts = [f"<strong>{html.escape(title or '(untitled)')}</strong>"]
    facts = [x for x in (source, (published or "")[:10], lang.upper() if lang else "", ", ".join(authors)) if x]
    parts.append(f'<span class="nr-meta">{html.escape(" · ".join(facts))}</span>')
    link = safe_url(url)
    if link:
        parts.append(f'<a href="{html.escape(link, quote=True)}" target="_blank" rel="noopener noreferrer nofollow">{html.escape(link)}</a>')
    return "<br>".join(parts)


def citation_html(c: Citation) -> str:
    """The passage with the cited sentence highlighted."""
    text = c.text
    lo, hi = c.quote_start - c.start, c.quote_end - c.start
    if 0 <= lo < hi <= len(text) and (lo, hi) != (0, len(text)):
        body = html.escape(text[:lo]) + "<mark>" + html.escape(text[lo:hi]) + "</mark>" + html.escape(text[hi:])
    else:
        body = html.escape(text)
    return (
        f'<div class="nr-source" data-n="{c.n}"><div class="nr-head">[{c.n}] '
        f"{_meta_line(c.title, c.source, c.published, c.lang, c.authors, c.url)}</div>"
        f'<div class="nr-passage">{body.replace(chr(10), "<br>")}</div></div>'
    )


def passage_html(p: Passage) -> str:
    return (
        f'<div class="nr-source nr-uncited"><div class="nr-head">'
        f"{_meta_line(p.title, p.source, p.published, p.lang, p.authors, p.url)}</div>"
        f'<div class="nr-passage">{html.escape(p.text).replace(chr(10), "<br>")}</div></div>'
    )


def sources_html(answer: Answer) -> str:
    if not answer.citations and not answer.sources:
        return '<p class="nr-empty">No sources.</p>'
    cited = {c.chunk_id for c in answer.citations}
    parts = [citation_html(c) for c in answer.citations]
    others = [p for p in answer.sources if p.chunk_id not in cited]
    if others:
        label = "Closest sources" if answer.abstained else "Also retrieved, not cited"
        parts.append(f"<details><summary>{label} ({len(others)})</summary>{''.join(passage_html(p) for p in others)}</details>")
    return "".join(parts)


def answer_text(answer: Answer) -> str:
    """The chat text: flagged sentences are marked so nobody mistakes them for checked facts."""
    if answer.mode != "llm" or answer.abstained:
        return answer.answer
    lines = []
    for s in answer.sentences:
        mark = "" if s.supported else " ⚠ (not supported by the cited source)"
        lines.append(s.text + "".join(f" [{n}]" for n in s.citations) + mark)
    return " ".join(lines) or answer.answer
