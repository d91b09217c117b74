"""A text's folded form: case-, accent-, width-, quote-mark- and spacing-insensitive, for exact wording checks."""
from __future__ import annotations

import re
import unicodedata

_FOLD_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({c: '"' for c in "“”„‟«»「」『』"} | {c: "'" for c in "‘’‚‛‹›"})
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Case-, accent-, width-, quote-mark- and spacing-insensitive form for exact wording checks."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES)).casefold()
    return _FOLD_SPACE.sub(" ", _COMBINING.sub("", decomposed)).strip()
