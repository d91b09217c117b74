"""An answer written by the LLM: prompt, stream a preview, read the completion, check its citations."""
from __future__ import annotations

from datetime import date
from typing import Iterator

from ..embedders.interface import Embedder
from ..errors import BackendError
from ..retrieval.passage import Passage
from ..settings import Settings
from . import prompts
from .answer import Answer, format_sources, llm_answer
from .citations import check_answer, sanitize
from .llm import ANSWER_MAX_TOKENS, BrokenStream, ChatModel
from .model_output import Preview, read_completion


def generate_answer(model: ChatModel, question: str, passages: list[Passage], embedder: Embedder,
                    settings: Settings, relevance: float) -> Iterator[str | Answer]:
    """Yield preview text as the model writes (see `Preview`), then the checked Answer last.

    A stream that breaks after some text, or a completion cut at the token limit, gives a
    partial answer: its complete, cited sentences, checked as usual, and a note first among
    the warnings. When nothing cited survives the cut, or the endpoint fails before any text,
    BackendError is raised: an abstention would wrongly say the archive does not answer.
    """
    sources, used = format_sources(passages, settings.llm_context_chars)
    passages = passages[:used]
    user = prompts.render("answer", today=date.today().isoformat(), sources=sources, question=question)
    urls = {p.url for p in passages if p.url}
    preview = Preview(len(passages), urls)
    raw: list[str] = []
    cut: list[str] = []
    try:
        for delta in model.stream(prompts.render("system"), user):
            if delta.text:
                raw.append(delta.text)
                shown = preview.feed(delta.text)
                if shown:
                    yield shown
            if delta.finish_reason == "length":
                cut.append(f"the model reached its token limit ({ANSWER_MAX_TOKENS})")
    except BrokenStream as exc:
        cut.append(str(exc))
    rest = preview.finish()
    if rest:
        yield rest
    completion = read_completion("".join(raw), len(passages))
    text, removed = sanitize(completion.text, urls)
    check = check_answer(text, passages, embedder, settings.support_threshold)
    notes = [f"partial answer: {cut[0]}; only its complete, cited sentences are shown"] if cut else []
    answer = llm_answer(question, text, passages, check, notes + completion.notes + removed, settings.strict_citations,
                        relevance, partial=bool(cut))
    if cut and answer.abstained:
        still = " while still reasoning (turn thinking off or raise the limit)" if completion.unfinished_reasoning else ""
        raise BackendError(f"{cut[0]}{still} before writing any cited sentence: try again")
    yield answer
