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
  (answerability.py's confidence), unless it is already sure alone. Alone, "全年营收是多少？" stands out weakly (0.57) on some
  company's yearly revenue; with "网易2022年的业绩怎么样？" before it, surely (0.99) on NetEase's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .answerability import anchors
from .citations import content_tokens
from .unicode_ranges import CJK_CHAR

# Third-person pronouns and possessives that need an antecedent (en, fr, es, de); "-t-il" and
# other inverted French subjects included. Matched as whole words, case-insensitively.
_PRONOUNS = re.compile(
    r"\b(?:it|its|they|them|their|he|him|his|she|her|"
    r"il|elle|ils|elles|lui|leur|leurs|celui|celle|ceux|celles|"
    r"él|ella|ellos|ellas|"
    r"er|sie|ihn|ihm|ihr|ihre|ihren)\b",
    re.IGNORECASE,
)
# Demonstratives before a noun ("that story", "cette affaire", "ese acuerdo"), not before a time
# word ("this year" asks about now) and not "that" as a conjunction after a verb of saying.
_DEMONSTRATIVE = re.compile(
    r"(?<!said )(?<!says )(?<!claim )(?<!claims )(?<!claimed )(?<!show )(?<!shows )(?<!think )(?<!believe )"
    r"\b(?:this|that|these|those|ce|cet|cette|ces|ese|esa|esos|esas|este|esta|estos|estas|dieser|diese|dieses)\s+"
    r"(?!year|month|week|day|morning|time|is|was|are|were|année|mois|semaine|año|mes|semana|jahr|monat|woche)"
    r"[^\W\d_]",
    re.IGNORECASE,
)
# Impersonal French and English forms that contain a pronoun but refer to nothing.
_IMPERSONAL = re.compile(r"\b(?:il y a|y a-t-il|y avait-il|il faut|s'agit-il|il s'agit|is it true|it is true)\b",
                         re.IGNORECASE)
# Openings that continue the previous question.
_CONTINUES = re.compile(
    r"^\s*[¿(«\"]*\s*(?:and|also|what about|how about|then|et|aussi|et pour|quid de|y(?! a)|también|und|auch)\b",
    re.IGNORECASE,
)
# Chinese: a pronoun or demonstrative as the question's subject (its first characters), or a
# continuing opening / closing particle.
_ZH_PRONOUN = re.compile(r"^\s*(?:他们|她们|它们|他|她|它|其|该|此|这|那|上述|对方)")
_ZH_CONTINUES = re.compile(r"^\s*(?:那么|还有|另外|此外|那)|呢\s*[？?]?\s*$")

# Interrogatives and particles, which say what is asked, not about what.
_INTERROGATIVES = {
    "where", "who", "whom", "whose", "what", "when", "which", "how", "why", "many", "much",
    "ou", "qui", "quel", "quels", "quelle", "quelles", "quand", "comment", "pourquoi", "combien",
    "donde", "quien", "quienes", "que", "cual", "cuales", "cuando", "como", "cuanto", "cuantos", "cuanta", "cuantas",
    "wo", "wer", "was", "wann", "welche", "welcher", "wie", "warum", "wieviel",
}
_ZH_FUNCTION = re.compile(r"哪里|哪儿|哪些|哪个|什么|多少|几|何时|怎么|怎样|如何|为什么|谁|吗|呢|了|的|是|在|有")
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
        return bool(_ZH_PRONOUN.search(question) or _ZH_CONTINUES.search(question))
    if _CONTINUES.search(question):
        return True
    text = _IMPERSONAL.sub(" ", question)
    m = _PRONOUNS.search(text) or _DEMONSTRATIVE.search(text)
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
    cjk = CJK_CHAR.findall(_ZH_FUNCTION.sub("", question))
    if CJK_CHAR.search(question):
        return len(cjk) <= SHORT_CJK_CHARS
    return len(content_tokens(question) - _INTERROGATIVES) <= SHORT_WORDS


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
