"""Does the archive answer the question? The evidence for answering or abstaining, with the reason.

A wrong answer costs a fact-checker more than "the archive does not say". Three hard tests, then
a calibrated judgement of the retrieval ranking (bench/abstention_bench.py measures it):

- relevance: the best sentence of the passages scores at least ``abstain_threshold``;
- key words: when the best passage and sentence are in the question's language, some sentence
  holds a share of the question's content words (embeddings rate a neighbouring topic as close);
- the year: a year the question names is carried by one of the passages shown;
- does the best passage stand out? An answered question's best passage stands above the
  other articles' next 29; an unanswered one finds a flat field of loosely related passages.
  Read from the fused ranking and from each embedder's own scores (USE and e5 rarely agree
  on a passage by chance), with the question's anchors: across languages, its numbers and
  Latin-script names (years, acronyms, names) survive translation, so finding them in the
  best passage is evidence, and missing all of them is evidence against. With the default
  embedders a logistic model (``MODEL``) weighs these; with others, thresholds
  (``answer_min_top``, ``answer_min_gap``, ``answer_anchor_margin``) decide.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..retrieval.centring import language_priors
from ..retrieval.passage import Passage
from ..settings import Settings
from ..text.language import detect_language
from ..text.scripts import CJK_CHAR
from .citations import content_tokens

_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_YEAR_RE = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_ANCHOR_RE = re.compile(rf"\d+(?:[.,]\d+)*|[{_LATIN}][{_LATIN}0-9'-]*[{_LATIN}0-9]")


# A logistic model over the ranking's features, fitted by `python bench/abstention_bench.py --fit`
# on the first 150 questions of each calibration set, on four archive shapes (XQuAD's English
# paragraphs, RGB's Chinese news, the start-up archive of scripts/start.sh, the skewed
# newsroom-day archive; XQuAD en/zh/es and RGB questions, answerable or not by archive), for the
# default embedders. Other embedder sets use the threshold rule (answer_min_top / answer_min_gap).
REASONS = ("no relevant sentence", "key words missing", "nothing stands out", "names and numbers missing",
           "nothing retrieved")
MODEL_EMBEDDERS = ("use", "e5")
# The model reads language-centred scores: it holds where the best passage's language is centred,
# that is where the archive holds enough of it for its mean vector to be learnt (the calibration
# archives had 240 and 7,337 chunks), or the embedders' language priors supply the mean (the
# default: retrieval/centring.language_means). Elsewhere scores run high everywhere and the thresholds decide.
MODEL_MIN_CHUNKS = 200
# The field the best passage must stand out from: the other articles' next BACKGROUND_PASSAGES
# (the fused gap), at least MIN_BACKGROUND of them for a gap at all, and each embedder's next
# LEG_DEPTH articles (its own gap). The service retrieves JUDGED_PASSAGES for the judgement. The
# model was fitted on these values (bench/abstention_bench.py --fit): change them together, then refit.
BACKGROUND_PASSAGES = 29
JUDGED_PASSAGES = BACKGROUND_PASSAGES + 1
MIN_BACKGROUND = 10
LEG_DEPTH = 9
# Fitted 2026-12-08 (bench/abstention_bench.py --fit) with the language priors on and e5 counted
# twice in the fused score (retrieval/fusion.LEG_WEIGHTS), on 1,731 of 2,040 questions (the rest failed a
# hard test): calibration 0.953 answered / 0.952 abstained, every archive shape at 0.90 or more.
MODEL: dict[str, float] = {
    "intercept": -7.8891, "anchors_found": 1.787, "anchors_missing": -2.3294, "e5_gap": 6.5988, "e5_top": 7.574,
    "gap": 30.8872, "names_missing": -3.2826, "relevance": 11.879, "top": 2.4733, "use_gap": 22.5946,
    "use_top": -19.9421,
}


@dataclass
class Answerability:
    relevance: float  # the best sentence's score
    top: float  # the best passage's retrieval score
    gap: float | None  # best passage minus the mean of other articles' next 29 (None: too few)
    coverage: float | None  # share of the question's content words in a same-language sentence
    anchors: float | None  # share of the question's numbers/Latin names in the best article (other language)
    features: dict[str, float]  # what the model reads
    confidence: float | None  # the model's probability that the archive answers (None: threshold rule)
    why: str  # "" when answerable, else the test that failed

    @property
    def answerable(self) -> bool:
        return not self.why

    @property
    def certainty(self) -> float:
        """How surely the archive answers: 0 when not answerable, else the model's probability
        (1 under the threshold rule, which has none)."""
        if not self.answerable:
            return 0.0
        return 1.0 if self.confidence is None else self.confidence


def anchors(question: str) -> set[str]:
    """Numbers, and in a CJK question the Latin-script words (RCEP, NBA, Tesla): they survive translation.

    In a Latin-script question, capitalised words other than the first count too.
    """
    found: set[str] = set()
    cjk = bool(CJK_CHAR.search(question))
    for i, m in enumerate(_ANCHOR_RE.finditer(question)):
        word = m.group()
        if word[0].isdigit():
            if len(word) >= 2:  # one-digit numbers are spelled out as often as written
                found.add(word)
        elif cjk or (word[0].isupper() and i > 0 and m.start() > 0):
            found.add(word.casefold())
    return found


def years_missing(question: str, passages: list[Passage]) -> bool:
    """Does the question name a year that none of the passages carries (text, title or date)?

    A year survives every translation. Measured on the retrieved top 8 (bench/abstention_bench.py's
    archives): the asked year is in some passage for 78 of 85 XQuAD English year questions, 76 of
    80 Chinese, all 146 RGB and 22 cross-lingual ones, 187 of 207 AVeriTeC evidence questions;
    "Which company did Tesla acquire in 2022?" against Nikola Tesla's biography finds it in none.
    """
    asked = set(_YEAR_RE.findall(question))
    if not asked:
        return False
    held = " ".join(f"{p.title} {p.text} {(p.published or '')[:4]}" for p in passages)
    return not any(year in held for year in asked)


def anchor_share(question: str, passage: str) -> float | None:
    """Share of the question's anchors found in a passage in another language; None: nothing to look for.

    Numbers survive any translation; Latin-script words survive into Latin-script text, and
    from a CJK question (where they are acronyms and names kept as written) into any text.
    """
    words = anchors(question)
    if not CJK_CHAR.search(question) and CJK_CHAR.search(passage):
        words = {w for w in words if w[0].isdigit()}
    if not words:
        return None
    haystack = passage.casefold()
    return sum(w in haystack for w in words) / len(words)


def _leg_field(ranked: list[Passage], name: str, depth: int = LEG_DEPTH) -> tuple[float, float]:
    """One embedder's view: its best score among the passages, and how far that stands above its next ``depth``."""
    best: dict[tuple[str, str], float] = {}
    for p in ranked:
        if name in p.legs:
            best[p.key] = max(best.get(p.key, -1.0), p.legs[name])
    ordered = sorted(best.values(), reverse=True)
    if not ordered:
        return 0.0, 0.0
    rest = ordered[1 : 1 + depth]
    return ordered[0], ordered[0] - (sum(rest) / len(rest) if rest else 0.0)


def features(ranked: list[Passage], relevance: float, gap: float, anchors_share: float | None,
             embedders: tuple[str, ...], names_share: float | None = None) -> dict[str, float]:
    """What the model reads: the fused ranking, each embedder's own view, the sentence, the anchors
    (``anchors_share``: across languages; ``names_share``: in the question's own language)."""
    out = {"top": ranked[0].score, "gap": gap, "relevance": relevance,
           "anchors_missing": float(anchors_share == 0.0), "anchors_found": float(bool(anchors_share)),
           "names_missing": 0.0 if names_share is None else 1.0 - names_share}
    for name in embedders:
        out[f"{name}_top"], out[f"{name}_gap"] = _leg_field(ranked, name)
    return out


def confidence(feats: dict[str, float], model: dict[str, float]) -> float:
    """The model's probability that the archive answers."""
    z = model["intercept"] + sum(w * feats.get(k, 0.0) for k, w in model.items() if k != "intercept")
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def centred(lang: str, chunks: int, settings: Settings) -> bool:
    """Are scores of passages in ``lang`` language-centred, as the model was fitted on? Yes where the
    archive holds enough of the language to learn its mean, or the priors supply it for every embedder."""
    if chunks >= MODEL_MIN_CHUNKS:
        return True
    return settings.language_priors and all(name in language_priors().get(lang, {}) for name in MODEL_EMBEDDERS)


def judge(question: str, ranked: list[Passage], scored: list, settings: Settings, embedders: tuple[str, ...] = (),
          lang_chunks: dict[str, int] | None = None, background: int = MIN_BACKGROUND,
          model: dict[str, float] | None = None) -> Answerability:
    """The evidence from the retrieval ranking (best first, fused scores) and the scored sentences.

    ``scored``: ScoredSentence-like objects (``passage`` index into ``ranked``, ``text``, ``score``),
    best first. ``embedders``: the names of the store's embedders, primary first. ``lang_chunks``:
    chunks per language in the searched archive (the model is used where it was calibrated).
    """
    model = MODEL if model is None else model
    relevance = scored[0].score if scored else 0.0
    if not ranked:
        return Answerability(relevance, 0.0, None, None, None, {}, None, "nothing retrieved")
    best = ranked[0]
    rest = [p.score for p in ranked[1:] if p.key != best.key][:BACKGROUND_PASSAGES]
    gap = best.score - sum(rest) / len(rest) if len(rest) >= background else None
    qlang = detect_language(question)[:2]
    coverage = None
    # where the passage the answer comes from, and its best sentence, are in the question's language
    if scored and ranked[scored[0].passage].lang[:2] == qlang and best.lang[:2] == qlang:
        wanted = content_tokens(question)
        same = [s for s in scored[:20] if ranked[s.passage].lang[:2] == qlang]
        if wanted and same:
            coverage = max(len(wanted & content_tokens(s.text)) / len(wanted) for s in same)
    # The question's names and numbers in the best article (title and retrieved passages): across
    # languages the words that survive translation, in its own language every one of them.
    found_in = " ".join([best.title] + [p.text for p in ranked if p.key == best.key])
    found = anchor_share(question, found_in)
    share, names = (None, found) if best.lang[:2] == qlang else (found, None)
    feats = features(ranked, relevance, gap, share, embedders, names) if gap is not None else {}
    in_domain = tuple(embedders) == MODEL_EMBEDDERS and centred(best.lang, (lang_chunks or {}).get(best.lang, 0), settings)
    prob = confidence(feats, model) if feats and model and in_domain else None
    why = ""
    if relevance < settings.abstain_threshold:
        why = "no relevant sentence"
    elif coverage is not None and coverage < settings.answer_min_overlap:
        why = "key words missing"
    elif years_missing(question, ranked[: settings.top_k]):
        why = "names and numbers missing"
    elif gap is None:
        why = ""  # too few passages to compare with: the sentence tests decide
    elif prob is not None:
        if prob < settings.answer_min_confidence:
            missing = share == 0.0 or (names is not None and names < 1.0)
            why = "names and numbers missing" if missing else "nothing stands out"
    else:
        needed = settings.answer_min_gap + (settings.answer_anchor_margin if share == 0.0 else 0.0)
        if best.score < settings.answer_min_top and gap < needed:
            why = "names and numbers missing" if share == 0.0 else "nothing stands out"
    return Answerability(relevance, best.score, gap, coverage, share, feats, prob, why)
