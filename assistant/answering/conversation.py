"""Follow-up or new topic? Whether a question in a conversation leans on the previous turn.

A journalist's next question is as often about something else as about the last answer. A
question that stands on its own is searched exactly as if asked alone; one that leans on the
previous question borrows its words (extractive mode) or is condensed with it (LLM mode). Two
kinds of evidence, both measurable (bench/newsroom_day.py, rows "follow-up" and "topic switch"):

- the wording: a third-person pronoun or demonstrative with no name before it in the question
  ("Where was it held?", "Were they banned?", "Et où l'ont-ils signé ?", "他们被禁赛了吗？"), or
  an opening that continues ("And Chongqing's growth in 2022?", "Et dans quelle ville ?",
  "¿Y en 2022?", "那么…", "…呢？");
- the retrieval: a short question naming nothing ("全年营收是多少？", "Where is the men's race
  held?", "谁签的字？") that finds what it asks more surely with the previous question than alone
  (answerability.py's confidence), unless it is already sure alone. Alone, "全年营收是多少？"
  stands out weakly (0.57) on some company's yearly revenue; with "网易2022年的业绩怎么样？"
  before it, surely (0.99) on NetEase's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..text.scripts import CJK_CHAR
from ..text.words import (
    CONTINUES,
    DEMONSTRATIVE,
    IMPERSONAL,
    INTERROGATIVES,
    PRONOUNS,
    ZH_CONTINUES,
    ZH_FUNCTION,
    ZH_PRONOUN,
)
from .answerability import anchors
from .citations import content_tokens

# A question with at most this many words of its own (content words past the interrogatives;
# for Chinese, characters past them) and no name or number is short enough to be elliptical.
# Examples from the issue and newsroom-day's conversations: "Where was it held?" (1 word),
# "Where is the men's race held?" (3), "全年营收是多少？" (4 characters), while its RGB and
# AVeriTeC questions asked alone mostly run longer (RGB: 71 of 300 have 8 CJK characters or
# fewer, nearly all of them with a year or a Latin name).
SHORT_WORDS = 3
SHORT_CJK_CHARS = 6
# A title in book-title marks or quotation marks names a work ("《护卫者》的主演是谁？").
_TITLE = re.compile(r"《[^》]+》|“[^”]+”|\"[^\"]+\"")
# A short question the archive answers this surely alone stands on its own even when the
# previous question with it scores higher: at the top of the answerability model's scale a
# higher figure is chance, not evidence (newsroom-day: "漫长的季节的导演是谁？" 0.977 alone,
# 0.999 after an unrelated question on Kenya's Christians); "全年营收是多少？" alone, 0.57, is
# a guess that "网易2022年的业绩怎么样？" before it settles (0.99).
SURE_ALONE = 0.9


@dataclass(frozen=True)
class Resolved:
    """What to search for a question in a conversation."""

    query: str  # the text retrieval searches (the question itself when it stands alone)
    follows: str = ""  # the earlier question whose context was carried over; "" when none
    reason: str = ""  # why: "refers back" (its wording) or "incomplete alone" (retrieval)


def refers_back(question: str) -> bool:
    """Does the wording lean on an earlier turn (a pronoun with no antecedent, a continuing opening)?"""
    if CJK_CHAR.search(question) and len(CJK_CHAR.findall(question)) * 2 >= len(question.replace(" ", "")):
        return bool(ZH_PRONOUN.search(question) or ZH_CONTINUES.search(question))
    if CONTINUES.search(question):
        return True
    text = IMPERSONAL.sub(" ", question)
    m = PRONOUNS.search(text) or DEMONSTRATIVE.search(text)
    if m is None:
        return False
    # A name before the pronoun is its antecedent ("Did Joe Biden change his plan?").
    before = text[: m.start()]
    named = any(w[:1].isupper() for w in re.findall(r"\w+", before)[1:]) or bool(re.search(r"\d", before))
    return not named


def is_short(question: str) -> bool:
    """A few words of its own and no name or number: possibly elliptical ("在哪里举行？")."""
    if anchors(question) or _TITLE.search(question):
        return False
    cjk = CJK_CHAR.findall(ZH_FUNCTION.sub("", question))
    if CJK_CHAR.search(question):
        return len(cjk) <= SHORT_CJK_CHARS
    return len(content_tokens(question) - INTERROGATIVES) <= SHORT_WORDS


def resolve(question: str, history: list[tuple[str, str]], certainty: Callable[[str], float]) -> Resolved:
    """The question alone, or with the previous question's context when it leans on it.

    ``history``: earlier (question, answer) pairs, oldest first. ``certainty(text)``: how surely
    searching ``text`` finds a passage that answers it, 0 when nothing stands out (the service's
    answerability judgement); asked only for short questions without a pronoun.
    """
    if not history:
        return Resolved(question)
    previous = history[-1][0].strip()
    if not previous:
        return Resolved(question)
    combined = f"{previous} {question}"
    if refers_back(question):
        return Resolved(combined, previous, "refers back")
    if is_short(question):
        alone = certainty(question)
        if alone < SURE_ALONE and certainty(combined) > alone:
            return Resolved(combined, previous, "incomplete alone")
    return Resolved(question)
