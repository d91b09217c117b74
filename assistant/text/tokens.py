"""Token counts in any script, with no tokenizer to download."""
from __future__ import annotations

import re

from .scripts import CJK

# One token per CJK/kana/hangul character, one per word or number elsewhere (a run
# of more than MAX_WORD_CHARS letters, as in Thai or a base64 blob, counts one token
# per MAX_WORD_CHARS so that no "word" can make a chunk unbounded), one per other
# symbol: close to what multilingual subword tokenizers count.
MAX_WORD_CHARS = 24
TOKEN_RE = re.compile(rf"[{CJK}]|[^\W{CJK}]{{1,{MAX_WORD_CHARS}}}|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    """Approximate subword tokens in any script (no tokenizer download needed)."""
    return len(TOKEN_RE.findall(text))
