"""The one service object behind the CLI, the Gradio app and the HTTP API."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator

from ingest.normalize import MetadataError, parse_datetime
from ingest.pipeline import IngestReport, ingest
from ingest.workers import ParserPool

from .answering import prompts
from .answering.answer import Answer, ScoredSentence, extractive_answer, format_sources, llm_answer, score_sentences
from .answering.answerability import JUDGED_PASSAGES, Answerability, judge
from .answering.citations import check_answer, sanitize
from .answering.claims import ClaimCheck, gather_evidence, parse_verdict
from .answering.conversation import Resolved, resolve
from .answering.generation import generate_answer
from .answering.llm import ChatModel
from .answering.model_output import read_completion
from .answering.quotes import QuoteResult, candidates, chronological, close_hits, exact_hits
from .embedders.dense import MemoEmbedder
from .embedders.factory import build_embedders
from .embedders.interface import Embedder
from .errors import InputError
from .inputs import History, check_date, check_history, check_text, check_values
from .retrieval import holdings
from .retrieval.passage import Passage
from .retrieval.phrases import find_phrase
from .retrieval.query import embed_query
from .retrieval.search import archive_languages, retrieve
from .settings import Settings
from .store.factory import open_store
from .store.interface import SearchFilter, Store


@dataclass
class Filters:
    """Search filters as users give them (CLI flags, API bodies, app widgets)."""

    lang: list[str] | None = None
    source: list[str] | None = None
    since: str | None = None
    until: str | None = None

    def to_search_filter(self, collections: tuple[str, ...] | None = None) -> SearchFilter:
        """The store's filter, after the bounds every request's filters must keep (``inputs``)."""
        langs, sources = check_values(self.lang, "language"), check_values(self.source, "outlet")
        try:
            since = parse_datetime(check_date(self.since, "since"), "since")
            until = parse_datetime(check_date(self.until, "until"), "until")
        except MetadataError as exc:
            raise InputError(str(exc)) from exc
        if until and self.until and len(self.until.strip()) <= 10:
            until = until.replace(hour=23, minute=59, second=59)  # a date means the whole day
        return SearchFilter(
            langs=tuple(x for x in langs if x),
            sources=tuple(x for x in sources if x),
            since=since,
            until=until,
            collections=collections,
        )


class Assistant:
    """Lazily opens the store and models; safe to share between threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._embedders: list[Embedder] | None = None
        # Parser processes, started by the first ingest of two files or more and kept for the next.
        self._parsers = ParserPool(settings.ingest_workers, settings) if settings.ingest_workers > 0 else None
        self._store: Store | None = None
        self._lock = threading.RLock()  # opening/closing the store; queries
        self._ingest_lock = threading.Lock()  # one ingest at a time; queries go on beside it
        self._llm = ChatModel(settings) if settings.llm_enabled else None

    # -- parts -----------------------------------------------------------------
    @property
    def embedders(self) -> list[Embedder]:
        if self._embedders is None:
            self._embedders = build_embedders(self.settings)
        return self._embedders

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings, {e.name: e.dim for e in self.embedders})
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._parsers is not None:
                self._parsers.close()
            if self._store is not None:
                self._store.close()
                self._store = None

    @property
    def mode(self) -> str:
        return "llm" if self._llm else "extractive"

    # -- ingest ----------------------------------------------------------------
    def ingest(self, paths: list[Path], progress: Callable[[IngestReport], None] | None = None,
               prune: bool = False, *, names: dict[str, str] | None = None,
               collection: str | None = None, untrusted: bool = False) -> IngestReport:
        """Read files into the store; with ``prune``, drop articles whose files under ``paths`` are gone.

        ``names``: what the report calls each path (uploads); ``collection`` overrides the articles' own.
        An article is its (collection, id). ``untrusted=True`` for writes from users (uploads):
        they see only what their articles' collections show now, so an embargoed article with the
        same id is neither replaced, deleted nor revealed by the report; they cannot prune.
        Questions are answered while an ingest runs (Qdrant serves reads during writes); two
        ingests take turns.
        """
        store = self.store
        with self._ingest_lock:
            return ingest(paths, store, self.embedders, self.settings, progress, prune=prune, names=names,
                          collection=collection, pool=self._parsers, untrusted=untrusted)

    def start_parsers(self) -> ParserPool | None:
        """Start the parser processes now, not at the first ingest of two files or more (the app
        does, so an upload waits for none to boot). None with no workers configured."""
        return self._parsers.start() if self._parsers else None

    # -- search ----------------------------------------------------------------
    def _check_query(self, text: str, what: str) -> str:
        return check_text(text, what, self.settings)

    def search(self, query: str, filters: Filters | None = None, k: int | None = None, mode: str = "hybrid",
               collections: tuple[str, ...] | None = None) -> list[Passage]:
        query = self._check_query(query, "query")
        if k is not None and not 1 <= k <= 100:
            raise InputError("k must be between 1 and 100")
        flt = (filters or Filters()).to_search_filter(collections)
        with self._lock:
            return retrieve(query, self.store, self.embedders, self.settings, flt, k, mode)

    def phrase(self, words: str, filters: Filters | None = None,
               collections: tuple[str, ...] | None = None) -> list[Passage]:
        """Every article containing the exact wording (not top-k), earliest first, one passage each."""
        words = self._check_query(words, "phrase")
        flt = (filters or Filters()).to_search_filter(collections)
        with self._lock:
            return find_phrase(words, self.store, flt)

    # -- ask -------------------------------------------------------------------
    def ask(self, question: str, filters: Filters | None = None, history: History | None = None,
            collections: tuple[str, ...] | None = None) -> Answer:
        answer: Answer | None = None
        for event in self.ask_stream(question, filters, history, collections):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def ask_stream(self, question: str, filters: Filters | None = None, history: History | None = None,
                   collections: tuple[str, ...] | None = None) -> Iterator[str | Answer]:
        """Yield text as it is written, then the checked Answer last.

        ``history``: the earlier turns, as ``(question, answer)`` pairs or OpenAI-style messages."""
        question = self._check_query(question, "question")
        turns = check_history(history, self.settings)
        flt = (filters or Filters()).to_search_filter(collections)
        primary = MemoEmbedder(self.embedders[0])  # scoring and the citation check share sentence vectors
        seen: dict[str, tuple[list[Passage], list[ScoredSentence], Answerability]] = {}

        def evidence_for(text: str) -> tuple[list[Passage], list[ScoredSentence], Answerability]:
            if text not in seen:  # the follow-up decision and the answer share their searches
                seen[text] = self._evidence(text, text, flt, primary)
            return seen[text]

        resolved = self._standalone(question, turns, lambda text: evidence_for(text)[2].certainty)
        passages, scored, evidence = evidence_for(resolved.query)
        relevance = evidence.relevance
        if self._llm is None or not evidence.answerable:
            answer = extractive_answer(question, passages, scored, self.settings.abstain_threshold, why_not=evidence.why)
            answer.follows = resolved.follows
            if self._llm is not None:
                answer.mode = "llm"
            yield answer.answer
            yield answer
            return
        for event in generate_answer(self._llm, question, passages, primary, self.settings, relevance):
            if isinstance(event, Answer):
                event.follows = resolved.follows
            yield event

    def answerability(self, question: str, filters: Filters | None = None,
                      collections: tuple[str, ...] | None = None) -> Answerability:
        """Whether `ask` would answer, and on what evidence (for calibration and diagnostics)."""
        question = self._check_query(question, "question")
        flt = (filters or Filters()).to_search_filter(collections)
        return self._evidence(question, question, flt, MemoEmbedder(self.embedders[0]))[2]

    def _evidence(self, question: str, query: str, flt: SearchFilter,
                  primary: MemoEmbedder) -> tuple[list[Passage], list[ScoredSentence], Answerability]:
        with self._lock:
            vectors = embed_query(query, self.embedders)
            # Enough passages to judge whether the best one stands out; the first top_k are used.
            ranked = retrieve(query, self.store, self.embedders, self.settings, flt,
                              k=max(self.settings.top_k, JUDGED_PASSAGES), vectors=vectors)
            lang_chunks = archive_languages(self.store, flt)
        passages = ranked[: self.settings.top_k]
        scored = score_sentences(query, vectors.dense[primary.name], passages, primary)
        evidence = judge(question, ranked, scored, self.settings, tuple(e.name for e in self.embedders), lang_chunks)
        return passages, scored, evidence

    def _standalone(self, question: str, history: list[tuple[str, str]],
                    certainty: Callable[[str], float]) -> Resolved:
        """The question alone when it stands on its own (conversation.resolve decides); else the
        previous question's words carried into retrieval, or in LLM mode its condensed rewrite."""
        resolved = resolve(question, history, certainty)
        if not resolved.follows or self._llm is None:
            return resolved
        convo = "\n".join(f"Q: {q}\nA: {a}" for q, a in history[-4:])
        rewritten = self._llm.complete("", prompts.render("condense", history=convo, question=question), 120).strip()
        return replace(resolved, query=rewritten or resolved.query)

    # -- claims and quotes -----------------------------------------------------
    def check(self, claim: str, filters: Filters | None = None, collections: tuple[str, ...] | None = None) -> ClaimCheck:
        """Passages that support, contradict or mention a claim; in LLM mode also a verdict."""
        claim = self._check_query(claim, "claim")
        flt = (filters or Filters()).to_search_filter(collections)
        primary = MemoEmbedder(self.embedders[0])
        with self._lock:
            passages = retrieve(claim, self.store, self.embedders, self.settings, flt, k=max(self.settings.top_k, 10))
        evidence = gather_evidence(claim, passages, primary, self.settings.support_threshold,
                                   self.settings.abstain_threshold)
        result = ClaimCheck(claim, self.mode, None if evidence else "not_in_archive", evidence)
        if self._llm is None or not evidence:
            return result
        given = [e.passage for e in evidence]
        sources, used = format_sources(given, self.settings.llm_context_chars)
        user = prompts.render("claim_check", today=date.today().isoformat(), sources=sources, claim=claim)
        verdict, text = parse_verdict(self._llm.complete(prompts.render("system"), user))
        text, removed = sanitize(read_completion(text, used).text, {p.url for p in given[:used] if p.url})
        checked = check_answer(text, given[:used], primary, self.settings.support_threshold)
        explained = llm_answer(claim, text, given[:used], checked, removed, self.settings.strict_citations, 1.0)
        result.verdict = verdict
        result.explanation = explained.answer if not explained.abstained else ""
        result.warnings = explained.warnings + ([] if verdict else ["the model gave no verdict word"])
        # Number the evidence as the explanation cites it: [n] is the n-th evidence item.
        cited = {c.chunk_id: c.n for c in explained.citations}
        result.evidence.sort(key=lambda e: cited.get(e.passage.chunk_id, len(cited) + 1))
        return result

    def quote(self, words: str, filters: Filters | None = None, collections: tuple[str, ...] | None = None,
              limit: int = 200) -> QuoteResult:
        """Every place the words appear, earliest first; close wordings when none matches exactly."""
        words = self._check_query(words, "quotation")
        flt = (filters or Filters()).to_search_filter(collections)
        with self._lock:
            found = candidates(words, self.store, flt, limit)
            hits = exact_hits(words, found)
            if hits:
                return QuoteResult(words, chronological(hits), exact=True)
            near = retrieve(words, self.store, self.embedders, self.settings, flt, k=20)
        close = close_hits(words, near, MemoEmbedder(self.embedders[0]), self.settings.quote_similarity)
        return QuoteResult(words, chronological(close), exact=False)

    # -- status ----------------------------------------------------------------
    def status(self, collections: tuple[str, ...] | None = None, locations: bool = True) -> dict[str, Any]:
        """What the archive holds; ``locations=False`` (non-admins over HTTP) names no server path or URL."""
        flt = SearchFilter(collections=collections)
        with self._lock:
            store = self.store
            facts = holdings.article_facts(store, flt)  # articles are (collection, id): not a facet of ids
            return {
                "articles": len(facts),
                "chunks": store.count(flt),
                "languages": store.facet("lang", flt),
                "sources": store.facet("source", flt),
                "years": holdings.holdings(facts)["years"],  # articles, not chunks
                "store": (str(self.settings.store_path) if self.settings.embedded else self.settings.qdrant_url)
                if locations else ("embedded" if self.settings.embedded else "server"),
                "embedders": [e.name for e in self.embedders],
                "answer_mode": self.mode,
            }

    # -- library ---------------------------------------------------------------
    def facets(self, collections: tuple[str, ...] | None = None) -> dict[str, dict[str, int]]:
        """Languages, outlets and collections with their chunk counts: filter choices (cheap, unlike status)."""
        flt = SearchFilter(collections=collections)
        with self._lock:
            return {key: self.store.facet(field, flt, limit=1000)
                    for key, field in (("languages", "lang"), ("sources", "source"), ("collections", "collection"))}

    def holdings(self, collections: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Articles by language, outlet and year (what the Library view shows)."""
        with self._lock:
            return holdings.holdings(holdings.article_facts(self.store, SearchFilter(collections=collections)))

    def coverage(self, query: str, filters: Filters | None = None,
                 collections: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Articles matching ``query`` per month and language (semantic, any language, or verbatim)."""
        query = self._check_query(query, "query")
        flt = (filters or Filters()).to_search_filter(collections)
        with self._lock:
            passages = retrieve(query, self.store, self.embedders, self.settings, flt, k=200)
            mentions = [h.payload for h in self.store.phrase(query, flt, limit=10_000)]
        found = holdings.matching_articles(passages, mentions)
        return {"query": query, "articles": len(found), "months": holdings.per_month(found)}
