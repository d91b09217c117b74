"""An answer with its citations as Markdown or CSV, ready to paste into a fact-check report.

Both take ``Answer.to_dict()`` (already access-checked by the caller). Archive text is data:
in Markdown it is escaped so it cannot become links, images or HTML; in CSV a cell that a
spreadsheet would run as a formula is prefixed with an apostrophe.
"""
from __future__ import annotations

import csv
import io
import re
from typing import Any

from ..retrieval.passage import safe_url

CSV_COLUMNS = ("n", "title", "outlet", "date", "url", "quote", "passage")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~&])")  # what can make links, images, HTML or emphasis
_MD_LINE_START = re.compile(r"^([#>+\-=])")  # what would make a heading, list or quote
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def md_escape(text: str) -> str:
    """Archive text shown literally in Markdown: punctuation escaped, newlines kept as spaces."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text or "").split()))
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", _MD_LINE_START.sub(r"\\\1", text))
    return re.sub(r"\\\[(\d{1,3})\\\](?!\()", r"[\1]", text)  # citation markers [n] stay readable


def _rows(answer: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for c in answer.get("citations") or []:
        rows.append({
            "n": str(c.get("n", "")),
            "title": c.get("title") or "",
            "outlet": c.get("source") or "",
            "date": (c.get("published") or "")[:10],
            "url": safe_url(c.get("url", "")),
            "quote": c.get("quote") or "",
            "passage": c.get("text") or "",
        })
    return rows


def to_markdown(answer: dict[str, Any]) -> str:
    """The question, the answer with its [n] markers, then one numbered source per citation."""
    lines = [f"## {md_escape(answer.get('question', ''))}", "", md_escape(answer.get("answer", ""))]
    rows = _rows(answer)
    if rows:
        lines += ["", "### Sources", ""]
    for r in rows:
        meta = ", ".join(md_escape(x) for x in (r["outlet"], r["date"]) if x)
        head = f"{r['n']}\\. {md_escape(r['title']) or '(untitled)'}" + (f" — {meta}" if meta else "")
        lines.append(head + (f" <{r['url']}>" if r["url"] else ""))
        if r["quote"]:
            lines.append(f"   > {md_escape(r['quote'])}")
        lines.append("")
    for w in answer.get("warnings") or []:
        lines.append(f"*Warning: {md_escape(w)}*")
    return "\n".join(lines).rstrip() + "\n"


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(answer: dict[str, Any]) -> str:
    """One row per citation: n, title, outlet, date, url, quote, passage."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in _rows(answer):
        writer.writerow([_cell(r[c]) for c in CSV_COLUMNS])
    return out.getvalue()
