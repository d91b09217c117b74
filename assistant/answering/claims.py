"""Claim checking: the archive passages that support, contradict or merely mention a claim.

Stance without a generative model is told from what can be seen in the text, and only
when the passage sentence is clearly about the claim (support at or above the citation
threshold):

- contradicts: the sentence negates what the claim asserts (or the reverse), or it
  gives different figures for the same statement;
- supports: neither of those, and every name and number of the claim is in the passage;
- mentions: everything else that is relevant enough to show.

In LLM mode the model also writes a one-word verdict and a short justification whose
citations go through the same check as answers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..embedders.sparse import tokenize
from ..retrieval.passage import Passage
from ..text.words import NEGATION_CJK, NEGATION_WORDS
from .citations import Quote, best_quotes, novel_facts

STANCES = ("supports", "contradicts", "mentions")
VERDICTS = {
    "SUPPORTED": "supported",
    "CONTRADICTED": "contradicted",
    "MIXED": "mixed",
    "NOT IN ARCHIVE": "not_in_archive",
}
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


def negated(text: str) -> bool:
    """Whether a sentence carries a negation, in any of the supported languages."""
    toks = set(tokenize(text.replace("n't", " not")))
    return bool(toks & NEGATION_WORDS) or bool(NEGATION_CJK.search(text))


def numbers(text: str) -> set[str]:
    """The figures in a text, written without thousands separators (1,200 and 1200 agree)."""
    out = set()
    for m in _NUMBER_RE.finditer(text):
        raw = m.group(0)
        if re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+", raw):
            raw = re.sub(r"[,.]", "", raw)
        out.add(raw.replace(",", "."))
    return out


@dataclass
class Evidence:
    stance: str  # supports | contradicts | mentions
    quote: str
    quote_start: int  # offsets of the quoted sentence in the article body
    quote_end: int
    score: float
    reason: str
    passage: Passage

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("stance", "quote", "quote_start", "quote_end", "score", "reason")}
        out["passage"] = self.passage.to_dict()
        return out


@dataclass
class ClaimCheck:
    claim: str
    mode: str
    verdict: str | None  # supported | contradicted | mixed | not_in_archive; None: extractive, not told
    evidence: list[Evidence] = field(default_factory=list)
    explanation: str = ""  # LLM mode: the checked justification with [n] = evidence numbers
    warnings: list[str] = field(default_factory=list)

    def by_stance(self) -> dict[str, list[Evidence]]:
        return {s: [e for e in self.evidence if e.stance == s] for s in STANCES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "mode": self.mode,
            "verdict": self.verdict,
            "counts": {s: len(v) for s, v in self.by_stance().items()},
            "evidence": [e.to_dict() for e in self.evidence],
            "explanation": self.explanation,
            "warnings": self.warnings,
        }


def stance_of(claim: str, quote: Quote, passage: Passage, support_threshold: float) -> tuple[str, str]:
    """The stance of one passage sentence towards the claim, and why."""
    if quote.support < support_threshold:
        return "mentions", f"related (similarity {quote.support:.2f})"
    if negated(claim) != negated(quote.text):
        side = "the source" if negated(quote.text) else "the claim"
        return "contradicts", f"{side} says the opposite (negation)"
    claim_nums, quote_nums = numbers(claim), numbers(quote.text)
    if claim_nums and quote_nums and not claim_nums & numbers(passage.text):
        return "contradicts", f"different figures: claim {', '.join(sorted(claim_nums))}, source {', '.join(sorted(quote_nums))}"
    missing = novel_facts(claim, passage.title + " " + passage.text)
    if missing:
        return "mentions", f"the source does not mention {', '.join(missing[:3])}"
    return "supports", f"the source states it (support {quote.support:.2f})"


def gather_evidence(
    claim: str,
    passages: list[Passage],
    embedder: Any,
    support_threshold: float,
    mention_threshold: float,
) -> list[Evidence]:
    """Each passage's best sentence for the claim, with its stance; weak matches left out."""
    if not passages:
        return []
    quotes = best_quotes([claim], [passages], embedder)[0]
    evidence = []
    for j, p in enumerate(passages):
        q = quotes.get(j)
        if q is None or q.support < mention_threshold:
            continue
        stance, reason = stance_of(claim, q, p, support_threshold)
        evidence.append(Evidence(stance, q.text, q.start, q.end, q.support, reason, p))
    order = {s: i for i, s in enumerate(STANCES)}
    evidence.sort(key=lambda e: (order[e.stance], -e.score))
    return evidence


def parse_verdict(text: str) -> tuple[str | None, str]:
    """Split an LLM reply into its verdict word and the justification that follows."""
    head = text.lstrip(" *#>\n")
    for word, verdict in VERDICTS.items():
        if head.upper().startswith(word):
            return verdict, head[len(word):].lstrip(" :.-*\n")
    return None, text.strip()
