"""HTML for answers, sources and exports. Archive text is always escaped: it is shown, never run.

Every string that came from the archive (titles, outlets, passages, quotes, URLs) or from a
model goes through ``html.escape``; only ``http(s)`` URLs ever become links. The markup we
add ourselves is limited to citation links (``href="#nr-src-T-N"``), marks, and details.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

from ..answering.answer import Answer, Citation
from ..retrieval.passage import Passage, safe_url
from .i18n import STRINGS, t

_LABELS = {"supports", "contradicts", "mentions"}
_VERDICTS = {"supported", "contradicted", "mixed", "not_in_archive"}


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=True)


@dataclass
class Card:
    """One source as the side panel shows it, whatever produced it (answer, search, check, quote)."""

    title: str
    source: str
    url: str
    published: str | None
    lang: str
    authors: list[str]
    text: str
    lo: int = -1  # highlighted span inside ``text``; -1 = none
    hi: int = -1
    n: int = 0  # 0 = not numbered (retrieved, not cited)
    label: str = ""  # a stance (translated) or free text such as who said it


def card_from_passage(p: Passage, n: int = 0, lo: int = -1, hi: int = -1, label: str = "") -> Card:
    return Card(p.title, p.source, p.url, p.published, p.lang, list(p.authors), p.text, lo, hi, n, label)


def card_from_citation(c: Citation) -> Card:
    lo, hi = c.quote_start - c.start, c.quote_end - c.start
    if (lo, hi) == (0, len(c.text)):
        lo = hi = -1  # the whole passage: nothing to single out
    return Card(c.title, c.source, c.url, c.published, c.lang, list(c.authors), c.text, lo, hi, c.n)


def cite_link(turn: int, n: int) -> str:
    """A clickable [n]: the page script opens source n of this turn in the side panel."""
    return f'<a class="nr-cite" href="#nr-src-{turn}-{n}">[{n}]</a>'


def _passage_body(card: Card) -> str:
    text, lo, hi = card.text, card.lo, card.hi
    if 0 <= lo < hi <= len(text):
        body = esc(text[:lo]) + "<mark>" + esc(text[lo:hi]) + "</mark>" + esc(text[hi:])
    else:
        body = esc(text)
    return body.replace("\n", "<br>")


def card_html(card: Card, turn: int, lang: str, open_: bool = False) -> str:
    facts = [card.source, (card.published or "")[:10], card.lang.upper(), ", ".join(card.authors)]
    meta = " · ".join(esc(x) for x in facts if x)
    link = safe_url(card.url)
    link_html = (f'<a class="nr-link" href="{esc(link)}" target="_blank" rel="noopener noreferrer nofollow">'
                 f'{esc(t("open_original", lang))}: {esc(link)}</a>') if link else ""
    num = f'<span class="nr-n">[{card.n}]</span> ' if card.n else ""
    label = ""
    if card.label in _LABELS:
        label = f' <span class="nr-label nr-{card.label}">{esc(t(card.label, lang))}</span>'
    elif card.label:
        label = f' <span class="nr-label">{esc(card.label)}</span>'
    ident = f' id="nr-src-{turn}-{card.n}"' if card.n else ""
    return (
        f'<details class="nr-source"{ident}{" open" if open_ else ""}>'
        f"<summary>{num}<strong>{esc(card.title or '(untitled)')}</strong>{label}</summary>"
        f'<div class="nr-meta">{meta}</div>{link_html}'
        f'<div class="nr-passage">{_passage_body(card)}</div></details>'
    )


def panel_html(turn: int, cards: list[Card], others: list[Card], lang: str, heading: str = "cited",
               others_key: str = "also_retrieved", notes: str = "") -> str:
    """One turn's sources: numbered cards (the first open), then the uncited ones one click away."""
    if not cards and not others:
        body = f'<p class="nr-empty">{esc(t("no_sources", lang))}</p>'
    else:
        body = f'<h4 class="nr-panel-head">{esc(t(heading, lang))} ({len(cards)})</h4>' if cards else ""
        body += "".join(card_html(c, turn, lang, open_=(i == 0)) for i, c in enumerate(cards))
        if others:
            inner = "".join(card_html(c, turn, lang) for c in others)
            body += f'<details class="nr-more"><summary>{esc(t(others_key, lang))} ({len(others)})</summary>{inner}</details>'
    return f'<section class="nr-turn" id="nr-turn-{turn}" data-turn="{turn}">{notes}{body}</section>'


def warnings_html(warnings: list[str], lang: str) -> str:
    """What the citation check removed or flagged, one click away (model text: escaped)."""
    if not warnings:
        return ""
    items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    return f'<details class="nr-warnings"><summary>{esc(t("checks", lang))} ({len(warnings)})</summary><ul>{items}</ul></details>'


def stack_panels(panels: list[str], keep: int = 12) -> str:
    """The last ``keep`` turns' panels, the latest shown: older answers' [n] still open their own sources."""
    if not panels:
        return ""
    panels = panels[-keep:]
    hidden = [p.replace('<section class="nr-turn"', '<section class="nr-turn" hidden', 1) for p in panels[:-1]]
    return "".join(hidden + panels[-1:])


def empty_panel(lang: str, loaded: bool = True) -> str:
    """The panel before any question; ``loaded`` marks that the page's load event has run (tests wait on it)."""
    ready = f' data-lang="{esc(lang)}"' if loaded else ""
    return f'<p class="nr-empty"{ready}>{esc(t("sources_empty", lang))}</p>'


# -- chat messages (the chatbot shows them as sanitized HTML) ----------------------------

def answer_html(answer: Answer, turn: int, lang: str) -> str:
    """The answer, sentence by sentence, with clickable [n]; unsupported sentences visibly marked;
    a follow-up says which earlier question it continued."""
    if answer.follows:
        follows = f'<small class="nr-follows">{esc(t("follows", lang))}: «{esc(answer.follows)}»</small><br>'
        return follows + _answer_body(answer, turn, lang)
    return _answer_body(answer, turn, lang)


def _answer_body(answer: Answer, turn: int, lang: str) -> str:
    if answer.abstained and f"why_{answer.why_abstained}" in STRINGS:
        why = t(f"why_{answer.why_abstained}", lang)
        return f'{esc(answer.answer)}<br><small class="nr-why">{esc(why)}</small>'
    if answer.abstained or not answer.sentences:
        return esc(answer.answer).replace("\n", "<br>")
    published = {c.n: (c.published or "")[:10] for c in answer.citations}
    parts = []
    for s in answer.sentences:
        date = published.get(s.citations[0], "") if answer.mode == "extractive" and s.citations else ""
        text = (f"({esc(date)}) " if date else "") + esc(s.text)
        cites = "".join(" " + cite_link(turn, n) for n in s.citations)
        if s.supported:
            parts.append(text + cites)
        else:
            note = esc(t("unsupported", lang))
            parts.append(f'<span class="nr-unsupported" title="{note}">{text}{cites} ⚠ ({note})</span>')
    return ("<br>" if answer.mode == "extractive" else " ").join(parts)


def streaming_html(text: str) -> str:
    return esc(text).replace("\n", "<br>")


def sources_list_html(passages: list[Passage], turn: int, lang: str) -> str:
    """Sources-only mode: one line per passage, each number opening it."""
    if not passages:
        return esc(t("no_sources", lang))
    lines = [f'{esc(t("found_passages", lang))}: {len(passages)}']
    for i, p in enumerate(passages, 1):
        meta = ", ".join(x for x in (p.source, (p.published or "")[:10], p.lang.upper()) if x)
        lines.append(f"{cite_link(turn, i)} {esc(p.title or '(untitled)')} — {esc(meta)}")
    return "<br>".join(lines)


def check_html(result: dict, turn: int, lang: str) -> str:
    """A claim check: verdict (LLM mode), counts by stance, then each evidence sentence."""
    evidence = result.get("evidence") or []
    if not evidence:
        return esc(t("no_evidence", lang))
    lines = []
    if result.get("verdict"):
        v = result["verdict"]
        lines.append(f'<strong>{esc(t("verdict", lang))}: {esc(t(v, lang) if v in _VERDICTS else v)}</strong>')
    counts = result.get("counts") or {}
    lines.append(" · ".join(f"{esc(t(s, lang))}: {counts.get(s, 0)}" for s in ("supports", "contradicts", "mentions")))
    if result.get("explanation"):
        lines.append(_linked(result["explanation"], turn))
    for i, e in enumerate(evidence, 1):
        lines.append(f'{cite_link(turn, i)} <span class="nr-label nr-{esc(e["stance"])}">{esc(t(e["stance"], lang))}</span> '
                     f'“{esc(e.get("quote"))}”')
    return "<br>".join(lines)


def _linked(text: str, turn: int) -> str:
    """Escaped model text whose [n] markers (already checked against the evidence) link to the panel."""
    return re.sub(r"\[(\d{1,3})\]", lambda m: cite_link(turn, int(m.group(1))), esc(text))


def quote_html(result: dict, turn: int, lang: str) -> str:
    hits = result.get("hits") or []
    if not hits:
        return esc(t("quote_none", lang))
    head = f'{esc(t("quote_places", lang))}: {len(hits)}' if result.get("exact", True) else esc(t("quote_close", lang))
    lines = [head]
    for i, h in enumerate(hits, 1):
        p = h["passage"]
        who = f' — {esc(t("said_by", lang))} {esc(h["speaker"])}' if h.get("speaker") else ""
        date = (p.get("published") or "")[:10]
        lines.append(f'{cite_link(turn, i)} {esc(date)} {esc(p.get("source"))}{who}: “{esc(h.get("quote"))}”')
    return "<br>".join(lines)


# -- export -------------------------------------------------------------------------------

def _data_url(mime: str, text: str) -> str:
    return f"data:{mime};charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def export_html(markdown: str, csv_text: str, lang: str) -> str:
    """Download links as data: URLs (no file is handed to Gradio) and copy buttons."""
    return (
        '<div class="nr-export">'
        f'<a class="nr-dl" id="nr-dl-md" download="answer.md" href="{_data_url("text/markdown", markdown)}">{esc(t("download_md", lang))}</a>'
        f'<a class="nr-dl" id="nr-dl-csv" download="sources.csv" href="{_data_url("text/csv", csv_text)}">{esc(t("download_csv", lang))}</a>'
        f'<button type="button" class="nr-copy" data-copy="nr-export-md" data-done="{esc(t("copied", lang))}">{esc(t("copy_md", lang))}</button>'
        f'<button type="button" class="nr-copy" data-copy="nr-export-csv" data-done="{esc(t("copied", lang))}">{esc(t("copy_csv", lang))}</button>'
        f'<textarea id="nr-export-md" readonly hidden>{esc(markdown)}</textarea>'
        f'<textarea id="nr-export-csv" readonly hidden>{esc(csv_text)}</textarea>'
        "</div>"
    )


def export_empty(lang: str) -> str:
    return f'<p class="nr-empty">{esc(t("export_empty", lang))}</p>'


def user_html(name: str | None, lang: str) -> str:
    """Who is signed in, with Gradio's logout link (nothing when logins are off)."""
    if not name:
        return ""
    return (f'<p class="nr-user">{esc(t("signed_in", lang))} <strong>{esc(name)}</strong> · '
            f'<a href="logout">{esc(t("logout", lang))}</a></p>')


# -- library --------------------------------------------------------------------------------

def notice(text: str) -> str:
    return f'<p class="nr-notice">{esc(text)}</p>'


def report_html(report: dict, names: dict[str, str], lang: str) -> str:
    """The ingest report with upload names instead of temporary paths."""
    def shown(path: str) -> str:
        head, bang, rest = path.partition("!")
        return names.get(head, head.rsplit("/", 1)[-1]) + bang + rest

    counts = " · ".join(f"{report.get(k, 0)} {esc(t(k, lang))}" for k in ("ingested", "updated", "unchanged"))
    failed = report.get("failed") or []
    lines = [f'<p class="nr-report-counts"><strong>{esc(t("ingest_report", lang))}</strong>: {counts} · '
             f'{report.get("chunks", 0)} {esc(t("chunks", lang))} · {len(failed)} {esc(t("failed", lang))}</p>']
    if failed:
        items = "".join(f"<li>{esc(shown(f.get('path', '')))}: {esc(f.get('error'))}</li>" for f in failed)
        lines.append(f'<ul class="nr-failed">{items}</ul>')
    return "".join(lines)


def holdings_html(data: dict, lang: str) -> str:
    return f'<p><strong>{data.get("articles", 0)}</strong> {esc(t("articles", lang))}</p>'


def outlets_html(sources: dict[str, int], lang: str, limit: int = 20) -> str:
    rows = "".join(f"<tr><td>{esc(name)}</td><td>{n}</td></tr>" for name, n in list(sources.items())[:limit])
    return (f'<table class="nr-table"><thead><tr><th>{esc(t("by_outlet", lang))}</th><th>{esc(t("articles", lang))}</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>")
