"""Answers with citations: extractive (offline default) or written by an LLM, same shape."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..embedders.interface import Embedder
from ..embedders.sparse import tokenize
from ..retrieval.passage import Passage
from ..text.language import detect_language
from ..text.sentences import sentences
from ..text.tokens import count_tokens
from ..text.words import ASKS, ENUMERATION_CUE, HOLDS, PRONOUN_OPENING, ROUNDUP_RE, TIMELINE_RE
from .citations import CheckResult, content_tokens
from .model_output import is_refusal

ABSTAIN = {
    "en": "The archive does not answer this question.",
    "fr": "Les archives ne répondent pas à cette question.",
    "es": "El archivo no responde a esta pregunta.",
    "de": "Das Archiv beantwortet diese Frage nicht.",
    "zh": "档案中没有能回答这个问题的内容。",
    "ar": "لا يجيب الأرشيف عن هذا السؤال.",
    "ru": "В архиве нет ответа на этот вопрос.",
}
# A sentence that is itself a question (an interviewer's, a headline's) holds no answer, yet
# embeds close to any question: "中共二十大后，中国将采取哪些措施推动两国全面战略合作伙伴关系发展？"
# outscored the press release's signing sentence for "Who signed the CICG–Huawei agreement...".
_ASKS_ITSELF = re.compile(r"[?？؟]\W*$")
# How far below the best sentence another sentence may score and still be quoted: generous
# within the best passage (its context), none from other articles unless the question asks
# for an account across them. Measured on XQuAD (en, 200 questions): citations on the gold
# paragraph 0.72 when other articles were quoted within 0.12, 0.93 with this rule.
SAME_PASSAGE_MARGIN = 0.20
OTHER_PASSAGE_MARGIN = 0.0
ROUNDUP_MARGIN = 0.12
# How close the best retrieved passage's best sentence must come to the best sentence overall to
# lead the answer (the lexical bonus in score_sentences is 0.25 × word share; 0.05 is a fifth of it).
RANKED_FIRST_MARGIN = 0.05



def asked_for(question: str) -> str | None:
    """What a who / when / where / how-many question asks for ("who", "when", "where", "count"); None otherwise."""
    for kind, pattern in ASKS.items():
        if pattern.search(question):
            return kind
    return None


def holds_asked(sentence: str, kind: str, question: str = "") -> bool:
    """Does the sentence hold an entity of the asked kind (a date, a figure, a place, a name)
    other than those the question itself names?"""
    pattern = HOLDS.get(kind)
    if pattern is None:
        return True
    named = {w.casefold() for w in re.findall(r"\w+", question)}
    masked = re.sub(r"\w+", lambda m: "x" if m.group().casefold() in named else m.group(), sentence)
    return bool(pattern.search(masked))


def opens_with_pronoun(sentence: str) -> bool:
    return bool(PRONOUN_OPENING.search(sentence.strip()))


@dataclass
class Citation:
    n: int
    article_id: str
    chunk_id: str
    title: str
    source: str
    url: str
    published: str | None
    lang: str
    text: str
    start: int
    end: int
    quote: str = ""
    quote_start: int = 0
    quote_end: int = 0
    authors: list[str] = field(default_factory=list)


@dataclass
class AnswerSentence:
    text: str
    citations: list[int]
    supported: bool
    support: float


@dataclass
class Answer:
    question: str
    answer: str
    mode: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    sources: list[Passage] = field(default_factory=list)  # everything retrieved, cited or not
    sentences: list[AnswerSentence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    relevance: float = 0.0
    why_abstained: str = ""  # the answerability test that failed (see answerability.py)
    follows: str = ""  # the earlier question whose context this follow-up carried over (conversation.py)
    partial: bool = False  # LLM mode: the model's answer was cut off; only its complete, cited sentences are shown

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sources"] = [p.to_dict() for p in self.sources]
        return out


def abstain_text(question: str) -> str:
    return ABSTAIN.get(detect_language(question), ABSTAIN["en"])


def citation_for(n: int, p: Passage, quote: str = "", quote_start: int = 0, quote_end: int = 0) -> Citation:
    return Citation(
        n=n, article_id=p.article_id, chunk_id=p.chunk_id, title=p.title, source=p.source, url=p.url,
        published=p.published, lang=p.lang, text=p.text, start=p.start, end=p.end,
        quote=quote or p.text, quote_start=quote_start or p.start, quote_end=quote_end or p.end, authors=p.authors,
    )


@dataclass
class ScoredSentence:
    text: str
    passage: int
    start: int  # in the article body
    end: int
    score: float


def score_sentences(question: str, qvec: np.ndarray, passages: list[Passage], embedder: Embedder) -> list[ScoredSentence]:
    """Every sentence of the passages, scored against the question.

    Score = embedding cosine (cross-lingual) + a bonus for sharing the question's words.
    """
    cands: list[ScoredSentence] = []
    for i, p in enumerate(passages):
        for s in sentences(p.text):
            text = p.text[s.start : s.end]
            if count_tokens(text) < 4:
                continue
            cands.append(ScoredSentence(text, i, p.start + s.start, p.start + s.end, 0.0))
    if not cands:
        return []
    vecs = embedder.embed_passages([c.text for c in cands])
    cos = vecs @ np.asarray(qvec, dtype=np.float32)
    qtoks = set(tokenize(question))
    for c, sim in zip(cands, cos):
        overlap = len(qtoks & set(tokenize(c.text))) / len(qtoks) if qtoks else 0.0
        c.score = round(float(sim) + 0.25 * overlap, 4)
    return sorted(cands, key=lambda c: -c.score)


def _similar(a: str, b: str) -> bool:
    ta, tb = set(tokenize(a)), set(tokenize(b))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= 0.6


def extractive_answer(
    question: str,
    passages: list[Passage],
    scored: list[ScoredSentence],
    threshold: float,
    max_sentences: int = 3,
    why_not: str = "",
) -> Answer:
    """The best sentences of the passages, verbatim, each with its [n]; or an abstention (``why_not``)."""
    relevance = scored[0].score if scored else 0.0
    if not scored or relevance < threshold:
        why_not = why_not or "no relevant sentence"
    if why_not:
        return Answer(question, abstain_text(question), "extractive", True, sources=passages, relevance=relevance,
                      why_abstained=why_not)
    scored = [s for s in scored if not _ASKS_ITSELF.search(s.text)] or scored
    chosen: list[ScoredSentence] = []
    roundup = bool(ROUNDUP_RE.search(question))
    other_margin = ROUNDUP_MARGIN if roundup else OTHER_PASSAGE_MARGIN
    best_article = {i for i, p in enumerate(passages)
                    if (p.collection, p.article_id) == (passages[0].collection, passages[0].article_id)}
    scored, anchored = _anchor_on_best_article(scored, threshold, best_article)
    top = scored[0].score  # the lead sentence's score (after the first, ``scored`` is in score order)
    for s in scored:
        if s.score < max(threshold, top - SAME_PASSAGE_MARGIN) or len(chosen) >= max_sentences:
            break
        if anchored and not roundup and s.passage not in best_article:
            continue  # other articles outscored the lead only on the question's own words
        margin = SAME_PASSAGE_MARGIN if s.passage == scored[0].passage else other_margin
        if s.score < top - margin:
            continue
        if any(_similar(s.text, c.text) for c in chosen):
            continue  # the same wire sentence from another outlet
        chosen.append(s)
    chosen = _lead_with_answer(question, chosen, scored, top, threshold, max_sentences)
    chosen = _with_antecedents(chosen, passages)
    if TIMELINE_RE.search(question):
        chosen.sort(key=lambda s: (passages[s.passage].published or "", s.start))
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    lines: list[str] = []
    sents: list[AnswerSentence] = []
    for s in chosen:
        p = passages[s.passage]
        if s.passage not in numbers:
            numbers[s.passage] = len(numbers) + 1
            citations.append(citation_for(numbers[s.passage], p, s.text, s.start, s.end))
        n = numbers[s.passage]
        date = (p.published or "")[:10]
        lines.append(f"{s.text} [{n}]" if not date else f"({date}) {s.text} [{n}]")
        sents.append(AnswerSentence(s.text, [n], True, s.score))
    return Answer(question, "\n".join(lines), "extractive", False, citations, passages, sents, relevance=relevance)


def _anchor_on_best_article(scored: list[ScoredSentence], threshold: float,
                            best_article: set[int]) -> tuple[list[ScoredSentence], bool]:
    """Start from the best sentence of the best retrieved article (``best_article``: the indices of
    its passages) when it scores within RANKED_FIRST_MARGIN of the best sentence overall.
    Retrieval ranks passages on centred, language-fair scores; sentence scores add a bonus for
    the question's own words, which a passage in another language never earns (a Chinese question
    about the French press release otherwise quotes a Chinese sentence on Kenya's coalition
    agreement). The article, not its first passage: the press release's signatories are in its
    second-ranked chunk. Returns (scored, anchored)."""
    first = next((s for s in scored if s.passage in best_article), None)
    if first is None or first is scored[0] or first.score < max(threshold, scored[0].score - RANKED_FIRST_MARGIN):
        return scored, False
    return [first] + [s for s in scored if s is not first], True


def _lead_with_answer(question: str, chosen: list[ScoredSentence], scored: list[ScoredSentence], relevance: float,
                      threshold: float, max_sentences: int) -> list[ScoredSentence]:
    """For who / when / where / how-many / which-things questions, the first sentence is one holding
    an entity of the asked kind: the best-scored such sentence of the best passage within
    SAME_PASSAGE_MARGIN, else its best-scored one above the threshold. A list often follows the
    sentence that names its subject ("X and Y signed an agreement. Under it, they will cooperate
    in areas such as..."), in words the question does not share: for a list question the
    sentence right after the best one counts too."""
    kind = asked_for(question)
    if kind is None or not chosen:
        return chosen
    best = scored[0].passage
    floor = max(threshold, relevance - SAME_PASSAGE_MARGIN)
    wanted = content_tokens(question)
    after = min((s.start for s in scored if s.passage == best and s.start >= scored[0].end), default=None)
    listed = [s for s in scored if kind == "list" and s.passage == best and s.start == after]
    in_best = [s for s in scored if s.passage == best and (s.score >= threshold or s in listed)
               and holds_asked(s.text, kind, question)]
    holding = [s for s in in_best if s.score >= floor or s in listed]
    # none close to the best sentence: the best passage's best-scored one that holds it (the
    # question's words, translated, are what the near ones share with it; the answer need not)
    holding = holding or in_best[:1]
    if not holding:
        return chosen
    # nearest the question's key words first (what it asks about); for a list, one that announces
    # itself ("such as", "包括") before a mere run of commas; then by score
    lead = max(holding, key=lambda s: (len(wanted & content_tokens(s.text)),
                                       kind == "list" and bool(ENUMERATION_CUE.search(s.text)), s.score))
    rest = [s for s in chosen if s is not lead]
    return [lead] + rest[: max_sentences - 1]


def _with_antecedents(chosen: list[ScoredSentence], passages: list[Passage]) -> list[ScoredSentence]:
    """A sentence opening on a pronoun comes right after the sentence before it in its passage
    (where its antecedent is): quoted already or not."""
    out: list[ScoredSentence] = []
    for s in chosen:
        if any(o is s for o in out):
            continue
        p = passages[s.passage]
        before = [x for x in sentences(p.text) if p.start + x.end <= s.start] if opens_with_pronoun(s.text) else []
        if before:
            x = before[-1]
            start = p.start + x.start
            if not any(o.passage == s.passage and o.start == start for o in out):
                prev = next((c for c in chosen if c.passage == s.passage and c.start == start), None)
                out.append(prev or ScoredSentence(p.text[x.start : x.end], s.passage, start, p.start + x.end, s.score))
        out.append(s)
    return out


MODEL_DECLINED = "the model found no answer in the sources"  # why_abstained when the LLM says so
_DELIM_RE = re.compile(r"<\s*/?\s*sources?\b", re.IGNORECASE)


def format_sources(passages: list[Passage], budget_chars: int) -> tuple[str, int]:
    """Numbered, delimited sources for the prompt; returns the text and how many fit."""
    blocks: list[str] = []
    used = 0
    for i, p in enumerate(passages, start=1):
        text = _DELIM_RE.sub(lambda m: m.group(0).replace("<", "‹"), p.text)
        head = f'<source n="{i}" title="{_attr(p.title)}" outlet="{_attr(p.source)}" date="{(p.published or "unknown")[:10]}" lang="{p.lang}">'
        block = f"{head}\n{text}\n</source>"
        if blocks and used + len(block) > budget_chars:
            break
        blocks.append(block)
        used += len(block)
    return "\n\n".join(blocks), len(blocks)


def _attr(value: str) -> str:
    return _DELIM_RE.sub("", value).replace('"', "'").replace("\n", " ")[:200]


def llm_answer(
    question: str,
    text: str,
    passages: list[Passage],
    check: CheckResult,
    removed: list[str],
    strict: bool,
    relevance: float,
    partial: bool = False,
) -> Answer:
    """Turn a checked LLM completion into an Answer with renumbered, verified citations.

    ``partial``: the completion was cut (a broken stream, the token limit); ``removed`` then
    starts with the note saying so.
    """
    warnings = list(removed) + list(check.removed)
    declined: list[str] = []
    for s in check.sentences:
        if is_refusal(s.text):
            declined.append(s.text)  # "the sources do not say": never shown as a fact
        elif not s.citations:
            warnings.append(f"sentence without citation: {s.text[:80]}")
        elif s.novel:
            warnings.append(f"sentence not supported by its sources (they never mention {', '.join(s.novel[:3])}): {s.text[:80]}")
        elif not s.supported:
            warnings.append(f"sentence not supported by its sources (support {s.support:.2f}): {s.text[:80]}")
    # An uncited sentence is never shown: it rests on nothing in the archive (and may be the
    # model repeating its instructions). Unsupported cited sentences are marked, or dropped
    # under the strict setting.
    kept = [s for s in check.sentences if s.citations and (s.supported or not strict) and s.text not in declined]
    if not kept:
        # Nothing cited is left: the model declined, or nothing it said is backed.
        return Answer(question, abstain_text(question), "llm", True, sources=passages, warnings=warnings,
                      relevance=relevance, why_abstained=MODEL_DECLINED if declined else "", partial=partial)
    warnings.extend(f"the model says the sources do not answer this part: {d[:80]}" for d in declined)
    renumber: dict[int, int] = {}
    citations: list[Citation] = []
    lines: list[str] = []
    sents: list[AnswerSentence] = []
    for s in kept:
        new_numbers = []
        for n in s.citations:
            if n not in renumber:
                renumber[n] = len(renumber) + 1
                q = s.quotes.get(n)
                p = passages[n - 1]
                citations.append(citation_for(renumber[n], p, q.text if q else "", q.start if q else 0, q.end if q else 0))
            new_numbers.append(renumber[n])
        lines.append(s.text + "".join(f" [{n}]" for n in new_numbers))
        sents.append(AnswerSentence(s.text, new_numbers, s.supported, s.support))
    return Answer(question, " ".join(lines), "llm", False, citations, passages, sents, warnings, relevance,
                  partial=partial)
