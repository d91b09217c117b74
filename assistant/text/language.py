"""Language detection, offline: py3langid's bundled model, CJK weighed per character."""
from __future__ import annotations

import re
from functools import lru_cache

from .scripts import HAN

_ZH_HANT_HINT = re.compile(f"[{HAN}]")


@lru_cache(maxsize=1)
def _langid():
    import py3langid

    return py3langid


def detect_language(text: str) -> str:
    """Best-guess ISO 639-1 language of a text, offline (py3langid's bundled model).

    Mixed-language articles get the language of the majority of their text; CJK
    characters are weighed per character since they carry a word each.
    """
    sample = text[:4000]
    if not sample.strip():
        return ""
    cjk = len(_ZH_HANT_HINT.findall(sample))
    letters = sum(1 for ch in sample if ch.isalpha())
    if letters and cjk / letters > 0.3:
        return "zh"
    lang, _ = _langid().classify(sample)
    return lang
