"""unstructured, made to run offline and silently.

unstructured downloads spaCy's en_core_web_sm on first use (fails offline) and
sends telemetry unless told not to. We replace its model loader with a blank
multilingual spaCy pipeline plus a rule-based sentencizer: no download, no POS
tags (elements come out as Text more often than NarrativeText, which does not
matter since we chunk ourselves). Pinned to the tested unstructured release and
covered by tests/ingest/test_readers.py.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

# Set before unstructured is imported: its telemetry reads these at import time.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

SKIPPED_CATEGORIES = frozenset({"Header", "Footer", "PageBreak", "PageNumber", "Image", "FigureCaption"})


@dataclass(frozen=True)
class Element:
    category: str
    text: str


@lru_cache(maxsize=1)
def _patched() -> None:
    import spacy
    from unstructured.nlp import tokenize

    def blank_pipeline():
        nlp = spacy.blank("xx")
        nlp.add_pipe("sentencizer")
        return nlp

    tokenize._get_nlp = lru_cache(maxsize=1)(blank_pipeline)


def partition_text_elements(text: str, kind: str) -> list[Element]:
    """Partition HTML or Markdown text into (category, text) elements, offline."""
    _patched()
    if kind == "html":
        from unstructured.partition.html import partition_html

        elements = partition_html(text=text)
    elif kind == "md":
        from unstructured.partition.md import partition_md

        elements = partition_md(text=text)
    else:
        raise ValueError(kind)
    return [
        Element(e.category, e.text.strip())
        for e in elements
        if e.category not in SKIPPED_CATEGORIES and e.text and e.text.strip()
    ]
