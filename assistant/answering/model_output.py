"""What open models write, turned into what the citation check reads.

Real models think aloud (`<think>` blocks, sometimes with the opening tag in the chat
template and only `</think>` in the output), cite as `[1, 2]`, `【1】`, `[^1]` or
`[Source 1]`, answer in Markdown lists, and append a list of sources. `read_completion`
turns a whole completion into plain lines with canonical `[n]` citations; `Preview` reads a
stream while it arrives and shows only the sentences that cite a source.
The habits come from the models' chat templates and documentation (Qwen3, DeepSeek-R1,
Magistral, Kimi, gpt-oss, Llama, Mistral, Gemma) and are replayed in `tests/replay/`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text.sentences import sentences
from .citations import sanitize

# -- reasoning -------------------------------------------------------------------
# Opening and closing markers of thinking blocks: Qwen3 / DeepSeek-R1 / QwQ (<think>), Claude-style
# prompts (<thinking>), Magistral ([THINK]), Kimi (◁think▷).
_OPEN = r"<think>|<thinking>|<reasoning>|<thought>|\[THINK\]|◁think▷"
_CLOSE = r"</think>|</thinking>|</reasoning>|</thought>|\[/THINK\]|◁/think▷"
_MARKER_RE = re.compile(f"(?P<open>{_OPEN})|(?P<close>{_CLOSE})", re.IGNORECASE)
_MARKERS = ("<think>", "<thinking>", "<reasoning>", "<thought>", "[think]", "◁think▷",
            "</think>", "</thinking>", "</reasoning>", "</thought>", "[/think]", "◁/think▷",
            "<|channel|>", "<|message|>", "<|end|>", "<|start|>", "<|return|>")
# gpt-oss's harmony format when a server passes it through: analysis channel, then final channel.
_HARMONY_FINAL = "<|channel|>final<|message|>"
_HARMONY_TOKEN_RE = re.compile(r"<\|(?:start|end|return|channel|message|constrain)\|>(?:assistant)?")


def split_reasoning(text: str) -> tuple[str, str, bool]:
    """(answer, reasoning, still_thinking): thinking blocks taken out of a completion.

    A closing marker with no opening one means the template opened the block (DeepSeek-R1):
    everything before it was reasoning. An opening marker never closed (the model ran out of
    tokens, or the stream is still inside it) makes everything after it reasoning.
    """
    if "<|channel|>" in text:
        head, sep, final = text.partition(_HARMONY_FINAL)
        if not sep:
            return "", _HARMONY_TOKEN_RE.sub(" ", text), True
        return _HARMONY_TOKEN_RE.sub("", final), _HARMONY_TOKEN_RE.sub(" ", head), False
    answer: list[str] = []
    reasoning: list[str] = []
    inside = False
    pos = 0
    for m in _MARKER_RE.finditer(text):
        if m.group("open"):
            if not inside:
                answer.append(text[pos : m.start()])
                pos, inside = m.end(), True
        elif inside:
            reasoning.append(text[pos : m.start()])
            pos, inside = m.end(), False
        else:  # closed without being opened: what came before was reasoning
            reasoning.append("".join(answer) + text[pos : m.start()])
            answer, pos = [], m.end()
    (reasoning if inside else answer).append(text[pos:])
    return "".join(answer), "\n".join(r.strip() for r in reasoning if r.strip()), inside


# -- citations --------------------------------------------------------------------
# Words models put before a source number: "[Source 1]", "[来源1]", "(source 2)", "[Doc 3]".
_LABEL = (r"(?:sources?|src|refs?\.?|references?|références?|docs?\.?|documents?|passages?|articles?|extraits?"
          r"|quellen?|fuentes?|fontes?|citations?|n°|no\.|#|来源|出处|资料|文献|参考资料|参考|文档|段落|引用|原文)")
_NUM = rf"(?:{_LABEL}\s*[:：]?\s*)?\d{{1,3}}"
_SEP = r"\s*(?:[,，;；、/]|and|et|y|und|和|与|及|-|–|—|~|～|to|à)\s*"
_NUMLIST = rf"{_NUM}(?:{_SEP}{_NUM})*"
# [1] [1, 2] [1-3] 【1】 ［1］ 〔1〕 [^1] [[1]] [Source 1] 【4:0†source】 [1†L3-L9]
_BRACKET_RE = re.compile(
    rf"[\[【［〔]{{1,2}}\^?\s*(?P<nums>{_NUMLIST})\s*(?::\d+)?(?:†[^\]】］〔〕\n]{{0,40}})?[\]】］〕]{{1,2}}(?!\()",
    re.IGNORECASE,
)
# (Source 1), (sources 1 et 2), （来源1）: a label makes a parenthesis unambiguous.
_LABELLED_PAREN_RE = re.compile(rf"[(（]\s*(?P<nums>{_LABEL}\s*[:：]?\s*\d{{1,3}}(?:{_SEP}{_NUM})*)\s*[)）]",
                                re.IGNORECASE)
# A bare "(1)" only right before a sentence end or a line end, after a word: never "(1) first".
_BARE_PAREN_RE = re.compile(r"(?<=\S)[ \t]?[(（](?P<nums>\d{1,2}(?:\s*[,;，、]\s*\d{1,2})*)[)）](?=[ \t]*(?:[.!?。！？；]|$))",
                            re.MULTILINE)
_SUP_RE = re.compile(r"<sup>\s*\[?(?P<nums>\d{1,3}(?:\s*[,，]\s*\d{1,3})*)\]?\s*</sup>", re.IGNORECASE)
_RANGE_RE = re.compile(r"(\d{1,3})\s*(?:-|–|—|~|～|to|à)\s*(?:\D{0,12}?)(\d{1,3})", re.IGNORECASE)
MAX_RANGE = 10  # "[1-3]" expands to [1][2][3]; a longer range is a number, not a citation
# A citation written after the sentence's full stop belongs before it: "parties. [1]" -> "parties [1]."
_AFTER_STOP_RE = re.compile(r"(?<=[^\s.!?。！？])(?P<stop>[.!?。！？]+)[ \t]*(?P<cites>(?:\[\d{1,3}\][ \t]*)+)(?=\s|$)")


# "According to Source 1, ...", "Selon la source 2, ...", "根据来源1，...": a citation written as words.
_ACCORDING_RE = re.compile(
    rf"(?:(?<=^)|(?<=[.!?]\s)|(?<=[。！？\n]))(?:according to|based on|as stated in|per|selon|d'après|según|laut|根据|据)\s*"
    rf"(?:the |la |le |l'|el |der |die )?(?P<nums>{_LABEL}\s*\[?\d{{1,3}}\]?(?:{_SEP}\[?\d{{1,3}}\]?)*)\s*[,，:：]\s*(?P<first>\w)",
    re.IGNORECASE | re.MULTILINE,
)


def _according(m: re.Match) -> str:
    nums = _numbers(m.group("nums"))
    return m.group(0) if not nums else "".join(f"[{n}]" for n in nums) + " " + m.group("first").upper()


def _numbers(spec: str) -> list[int] | None:
    """The source numbers a citation names; None when it holds a range too long to be citations."""
    out: list[int] = []
    for part in re.split(r"\s*(?:[,，;；、/]|\band\b|\bet\b|\by\b|\bund\b|和|与|及)\s*", spec, flags=re.IGNORECASE):
        r = _RANGE_RE.search(part)
        if r and not 0 < int(r.group(2)) - int(r.group(1)) < MAX_RANGE:
            return None
        if r:
            out.extend(range(int(r.group(1)), int(r.group(2)) + 1))
        else:
            out.extend(int(d) for d in re.findall(r"\d{1,3}", part))
    return list(dict.fromkeys(out))


def _canonical(m: re.Match) -> str:
    nums = _numbers(m.group("nums"))
    return m.group(0) if nums is None else "".join(f"[{n}]" for n in nums)


def normalize_citations(text: str, n_sources: int | None = None) -> str:
    """Every citation form models use, written as `[n]` right before the sentence's end.

    A bare `(n)` counts only at a sentence end and when every number names a given source;
    "According to source 2, ..." becomes a citation of source 2.
    """
    text = _SUP_RE.sub(_canonical, text)
    text = _BRACKET_RE.sub(_canonical, text)
    text = _LABELLED_PAREN_RE.sub(_canonical, text)

    def bare(m: re.Match) -> str:
        nums = _numbers(m.group("nums"))
        if not nums or n_sources is None or not all(1 <= n <= n_sources for n in nums):
            return m.group(0)
        return " " + "".join(f"[{n}]" for n in nums)

    text = _BARE_PAREN_RE.sub(bare, text)
    text = _AFTER_STOP_RE.sub(lambda m: " " + m.group("cites").replace(" ", "").strip() + m.group("stop"), text)
    return _ACCORDING_RE.sub(_according, text)  # after the move above: this citation opens its sentence


# -- Markdown and source lists ----------------------------------------------------
_SOURCES_HEADING_RE = re.compile(
    r"^\s*(?:#{1,6}\s*)?[*_]*\s*(?:sources?|references?|références|fuentes|quellen|citations|bibliograph\w*"
    r"|参考资料|参考来源|参考文献|参考|资料来源|来源|引用|出处)\s*[*_]*\s*[:：]?\s*[*_]*\s*$",
    re.IGNORECASE,
)
_FOOTNOTE_DEF_RE = re.compile(r"^\s*\[\^?\d{1,3}\]\s*:")
_LIST_MARK_RE = re.compile(r"^\s*(?:[-*+•·]|\d{1,2}[.)]|[a-z][.)])\s+")
_HEADING_RE = re.compile(r"^\s*#{1,6}\s+")
_QUOTE_MARK_RE = re.compile(r"^\s*>\s?")
_EMPHASIS_RE = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
# "Answer:", "Réponse :", "答案：" before the answer itself.
_ANSWER_LABEL_RE = re.compile(r"^\s*(?:final answer|answer|réponse|respuesta|antwort|回答|答案|答)\s*[:：]\s*", re.IGNORECASE)
_TABLE_RULE_RE = re.compile(r"^\s*\|?\s*:?-{3,}")


def flatten_markdown(text: str) -> tuple[str, list[str]]:
    """Markdown to plain lines: one line per list item or paragraph, the source list dropped.

    Returns the text and notes on what was taken out.
    """
    notes: list[str] = []
    lines: list[str] = []
    for line in text.splitlines():
        if _SOURCES_HEADING_RE.match(line):
            notes.append("the model's own list of sources was left out (the app lists the sources it cites)")
            break
        if _FOOTNOTE_DEF_RE.match(line) or _TABLE_RULE_RE.match(line):
            continue
        line = _QUOTE_MARK_RE.sub("", line)
        line = _HEADING_RE.sub("", line)
        line = _LIST_MARK_RE.sub("", line)
        line = _EMPHASIS_RE.sub(lambda m: m.group(2) or m.group(3), line)
        line = _ANSWER_LABEL_RE.sub("", line)
        if "|" in line and line.strip().startswith("|"):
            line = " – ".join(c.strip() for c in line.strip().strip("|").split("|") if c.strip())
        if line.strip():
            lines.append(line.rstrip())
    return "\n".join(lines), notes


# -- refusals -----------------------------------------------------------------------
# How models say the sources do not answer, in the languages the app answers in. Each names
# the sources, or is the model speaking of itself, so a reported fact ("the ministry gave no
# details", "die Polizei machte keine Angaben", "公司未说明原因") is never taken for one.
_SRC = r"(?:provided |given |available |above )?(?:sources?|archives?|documents?|context|passages?|texts?|articles?|information provided)"
_SRC_FR = r"(?:les |ces |aucune des |aucun des )(?:sources?|archives?|documents?|passages?|extraits?|articles?)"
_REFUSAL_RE = re.compile(
    "|".join([
        rf"\b(?:the|these|my) {_SRC}\b[^.!?]{{0,60}}\b(?:do(?:es)? not|don't|doesn't|never|fail to|contain no|make no|say nothing|provide no)\b",
        rf"\b(?:no|not enough|insufficient) (?:information|mention|details?|data|evidence)\b[^.!?]{{0,40}}\b(?:in|from) (?:the |these )?{_SRC}",
        r"\bI (?:cannot|can't|could not|couldn't|am unable to|was unable to|do not|don't)\b[^.!?]{0,30}\b(?:answer|find|determine|tell|know|say)\b",
        r"\bnot (?:mentioned|specified|stated|found|given|provided|answered) in the (?:provided |given )?(?:sources?|archive|documents?|context)",
        rf"\b{_SRC_FR}\b[^.!?]{{0,60}}\bne (?:\w+ )?(?:précise|mentionne|permet|di|contien|indique|répond|fourni|donne|cite|parle|évoque)\w*",
        r"\bje ne (?:peux|sais|suis pas en mesure|trouve)\b",
        rf"\baucune (?:information|mention|indication|donnée|précision)\b[^.!?]{{0,60}}\b(?:dans|parmi) {_SRC_FR}",
        r"\bn'(?:est|sont) pas (?:mentionnée?s?|précisée?s?|indiquée?s?|fournie?s?) dans (?:les|ces) (?:sources|archives|documents|extraits)",
        r"\bimpossible de répondre\b",
        r"\blas fuentes\b[^.!?]{0,60}\bno (?:mencionan|indican|dicen|contienen|precisan|permiten)\b|\bno puedo (?:responder|determinar)\b",
        r"\bdie (?:Quellen|Dokumente|Texte)\b[^.!?]{0,60}\b(?:nicht|kein\w*)\b|\bich kann\b[^.!?]{0,30}\bnicht (?:beantworten|sagen)\b",
        r"(?:资料|来源|文档|档案|材料|上下文|原文|提供的内容)[^。！？]{0,20}(?:没有|未|并未|不包含|无)(?:提到|提及|说明|记载|涉及|包含|相关|给出|显示|明确)",
        r"(?:我|本助手)?无法(?:回答|根据|从)|没有(?:相关|足够)的?(?:信息|资料|内容|记载)",
    ]),
    re.IGNORECASE,
)


def is_refusal(sentence: str) -> bool:
    """True when the sentence says the sources do not answer (en, fr, es, de, zh)."""
    return bool(_REFUSAL_RE.search(sentence))


# -- the whole reading -----------------------------------------------------------------
@dataclass
class Completion:
    """A completion as the citation check reads it."""

    text: str  # plain lines, canonical [n] citations, no reasoning
    reasoning: str = ""  # what the model thought aloud: never shown, never checked
    unfinished_reasoning: bool = False  # the completion ended inside a thinking block
    notes: list[str] = field(default_factory=list)


def read_completion(raw: str, n_sources: int | None = None) -> Completion:
    """Reasoning out, citations canonical, Markdown flattened (see the module's docstring)."""
    answer, reasoning, unfinished = split_reasoning(raw)
    text, notes = flatten_markdown(answer)
    text = normalize_citations(text, n_sources)
    if unfinished and not text.strip():
        notes.append("the model was still reasoning when its answer ended (raise its token limit or turn thinking off)")
    return Completion(text, reasoning, unfinished, notes)


# -- streaming ----------------------------------------------------------------------
_CITED_RE = re.compile(r"\[\d{1,3}\]")
# A tail that may still become a citation or a marker: hold it back until it is complete.
_OPEN_TAIL_RE = re.compile(r"[\[【［〔(（<◁^][^\]】］〕)）>▷\n]{0,24}$")


def cited_sentences(text: str) -> str:
    """Only the sentences that cite a source and are not refusals, line by line."""
    lines = []
    for line in text.splitlines():
        kept = [line[s.start : s.end] for s in sentences(line)]
        kept = [s for s in kept if _CITED_RE.search(s) and not is_refusal(s)]
        if kept:
            lines.append(" ".join(kept))
    return "\n".join(lines)


class Preview:
    """What may be shown of a streaming completion, piece by piece.

    Only sentences that cite a source are shown, each up to its latest citation while it is
    being written: no preamble, no refusal, no reasoning (blocks are never shown; reasoning
    whose opening tag was in the chat template is shown only where it cites, until its
    closing tag arrives), no links or markup. A citation split across pieces (`[`, `1`, `]`)
    is shown once whole. The checked answer that follows the stream replaces the preview.
    """

    def __init__(self, n_sources: int | None = None, allowed_urls: set[str] | frozenset[str] = frozenset()):
        self.n_sources = n_sources
        self.allowed_urls = set(allowed_urls)
        self.raw = ""
        self.shown = ""

    def feed(self, piece: str) -> str:
        """Add a piece of the completion; return the text to show now (maybe empty)."""
        self.raw += piece
        answer = split_reasoning(self.raw)[0]
        lowered = answer[-12:].lower()
        for k in range(min(12, len(lowered)), 0, -1):  # a marker still being written
            if any(m.startswith(lowered[-k:]) for m in _MARKERS):
                answer = answer[:-k]
                break
        tail = _OPEN_TAIL_RE.search(answer)
        if tail:
            answer = answer[: tail.start()]
        text = self._read(answer)
        last = None
        for last in _CITED_RE.finditer(text):
            pass
        return self._advance(self._renumber(cited_sentences(text[: last.end()]))) if last else ""

    def finish(self) -> str:
        """The rest once the stream has ended."""
        return self._advance(self._renumber(cited_sentences(self._read(split_reasoning(self.raw)[0]))))

    def _renumber(self, text: str) -> str:
        """Sources numbered in order of first citation, as the checked answer numbers them."""
        order: dict[int, int] = {}

        def number(m: re.Match) -> str:
            return f"[{order.setdefault(int(m.group(0)[1:-1]), len(order) + 1)}]"

        return _CITED_RE.sub(number, text)

    def _read(self, answer: str) -> str:
        text = sanitize(read_completion(answer, self.n_sources).text, self.allowed_urls)[0]
        if self.n_sources is None:
            return text
        return _CITED_RE.sub(lambda m: m.group(0) if 1 <= int(m.group(0)[1:-1]) <= self.n_sources else "", text)

    def _advance(self, text: str) -> str:
        if not text.startswith(self.shown):
            return ""  # the reading changed earlier text: the checked answer will show it
        new, self.shown = text[len(self.shown) :], text
        return new
