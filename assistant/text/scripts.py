"""Writing systems the text rules tell apart, defined once for tokenizing, chunking, BM25,
duplicate detection, answerability, citation checks and phrase search."""
from __future__ import annotations

import re

# Kana, Han (extension A, unified, compatibility) and Hangul: runs of these are cut into
# characters (and bigrams for BM25), and names in Latin script do not survive into them.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
# The CJK Unified Ideographs alone: Chinese characters (the language and name rules' "Han").
HAN = "\u4e00-\u9fff"
CJK_CHAR = re.compile(f"[{CJK}]")
# CJK plus Thai, Lao, Myanmar and Khmer: words not (or not always) set apart by spaces.
UNSPACED_CHAR = re.compile(f"[{CJK}\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")
