"""An OpenAI-compatible chat endpoint over the service: ``GET /v1/models``, ``POST /v1/chat/completions``.

Chat front ends (Open WebUI, LibreChat) and the ``openai`` client talk to the archive as to a model.
One model per mode of the app's chat (answer, sources only, check a claim, find a quote). The last
user message is the question, earlier user/assistant turns the conversation. The reply is Markdown:
the answer (archive text escaped, so it never becomes a link, an image or HTML) then its numbered
sources; the structured result (``Answer.to_dict()`` and the like) rides in the extra field
``newsroom``. Logins are the API's: HTTP Basic, or ``Bearer NAME:PASSWORD`` (what a front end sends
as its API key); each user sees only their collections, and embargoed articles nobody.
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from ..answering.answer import Answer
from ..errors import InputError, NewsroomError
from ..inputs import history_pairs, recent_turns
from ..retrieval.passage import Passage, safe_url
from ..service import Assistant, Filters
from ..settings import Settings
from ..text.language import detect_language
from ..web.i18n import t
from .access import Principal, narrowed
from .bearer import bearer_or_basic
from .bodies import MAX_HISTORY_ITEMS, FilterBody, Message

log = logging.getLogger(__name__)

# One model per mode of the app's chat (web/chat.py's mode switch), named for what it returns.
MODELS: dict[str, str] = {
    "newsroom": "a cited answer from the archive, or an abstention saying why",
    "newsroom-sources": "the passages that match, best first (no answer written)",
    "newsroom-check": "the passages that support, contradict or mention the claim in the last message",
    "newsroom-quote": "every place the words of the last message appear, earliest first",
}
CLOSEST_SHOWN = 3  # sources listed under an abstention
CREATED = 1_765_000_000  # a fixed "created" time for the model list (the models are modes, not releases)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~&])")  # as export.md_escape: what makes links, images, HTML


class ChatBody(BaseModel):
    """OpenAI's chat request; sampling options (temperature, max_tokens...) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str = "newsroom"
    messages: list[Message] = Field(min_length=1, max_length=MAX_HISTORY_ITEMS + 1)
    stream: bool = False
    newsroom: FilterBody | None = Field(default=None, description="filters: lang, source, since, until, collection")


def conversation(messages: list[Message], settings: Settings) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, the user's) and the latest earlier turns that fit the history bounds."""
    if messages[-1].role != "user":
        raise InputError("the last message must be the user's question")
    question = history_pairs([messages[-1].model_dump()])[0][0]
    return question, recent_turns(history_pairs(m.model_dump() for m in messages[:-1]), settings)


def md_inline(text: str) -> str:
    """Escape what could make a link, image or HTML; spacing kept, so streamed pieces escape alike."""
    return _MD_SPECIAL.sub(r"\\\1", text or "")


def source_line(n: int, title: str, outlet: str, published: str | None, url: str, quote: str = "",
                label: str = "") -> str:
    """One numbered source: title, outlet, date, link; the quoted sentence below it."""
    meta = ", ".join(md_inline(x) for x in (outlet, (published or "")[:10]) if x)
    head = f"{n}. " + (f"*{md_inline(label)}* — " if label else "") + (md_inline(title) or "(untitled)")
    head += f" — {meta}" if meta else ""
    head += f" <{safe_url(url)}>" if safe_url(url) else ""
    return head + (f"\n   > {md_inline(' '.join(quote.split()))}" if quote else "")


def _block(heading: str, lines: list[str]) -> str:
    return f"\n\n**{heading}**\n\n" + "\n".join(lines) if lines else ""


def answer_sources(answer: Answer) -> str:
    """What follows the answer's text: its numbered sources, or why it abstained and the closest sources."""
    lang = detect_language(answer.question)
    if answer.abstained:
        why = t(f"why_{answer.why_abstained}", lang) if answer.why_abstained else ""
        first: dict[str, Passage] = {}
        for p in answer.sources:
            first.setdefault(p.article_id, p)
        articles = list(first.values())[:CLOSEST_SHOWN]  # one line per article, best first
        closest = [source_line(i, p.title, p.source, p.published, p.url) for i, p in enumerate(articles, 1)]
        return (f"\n\n*{md_inline(why)}*" if why else "") + _block(t("closest", lang), closest)
    cited = [source_line(c.n, c.title, c.source, c.published, c.url, c.quote) for c in answer.citations]
    notes = [f"*{md_inline(w)}*" for w in answer.warnings]
    return _block(t("cited", lang), cited) + ("\n\n" + "\n".join(notes) if notes else "")


@dataclass
class Reply:
    """A finished reply of the non-answer modes: its Markdown and the structured result."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)


def _sources(assistant: Assistant, question: str, flt: Filters, collections: tuple[str, ...] | None) -> Reply:
    passages = assistant.search(question, flt, collections=collections)
    lang = detect_language(question)
    lines = [source_line(i, p.title, p.source, p.published, p.url, p.text) for i, p in enumerate(passages, 1)]
    text = _block(t("found_passages", lang), lines).strip() or t("no_sources", lang)
    return Reply(text, {"results": [p.to_result() for p in passages]})


def _check(assistant: Assistant, claim: str, flt: Filters, collections: tuple[str, ...] | None) -> Reply:
    result = assistant.check(claim, flt, collections=collections)
    lang = detect_language(claim)
    if not result.evidence:
        return Reply(t("no_evidence", lang), result.to_dict())
    lead = f"**{t('verdict', lang)}:** {t(result.verdict, lang)}\n\n" if result.verdict else ""
    lead += md_inline(result.explanation) if result.explanation else ""
    lines = [source_line(i, e.passage.title, e.passage.source, e.passage.published, e.passage.url, e.quote,
                         label=t(e.stance, lang)) for i, e in enumerate(result.evidence, 1)]
    return Reply((lead + _block(t("evidence", lang), lines)).strip(), result.to_dict())


def _quote(assistant: Assistant, words: str, flt: Filters, collections: tuple[str, ...] | None) -> Reply:
    result = assistant.quote(words, flt, collections=collections)
    lang = detect_language(words)
    if not result.hits:
        return Reply(t("quote_none", lang), result.to_dict())
    lines = [source_line(i, h.passage.title, h.passage.source, h.passage.published, h.passage.url, h.quote,
                         label=f"{t('said_by', lang)} {h.speaker}" if h.speaker else "")
             for i, h in enumerate(result.hits, 1)]
    lead = t("quote_places", lang) if result.exact else t("quote_close", lang)
    return Reply(lead + _block(t("quote_hits", lang), lines), result.to_dict())


def _completion(cid: str, model: str, text: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, "newsroom": data}


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False, default=str)}\n\n"


def _stream_answer(cid: str, model: str, first: str | Answer, events: Iterator[str | Answer]) -> Iterator[str]:
    yield _chunk(cid, model, {"role": "assistant", "content": ""})
    try:
        for event in itertools.chain((first,), events):
            if isinstance(event, Answer):
                yield _chunk(cid, model, {"content": answer_sources(event)})
                yield _chunk(cid, model, {}, "stop", newsroom=event.to_dict())
            elif event:
                yield _chunk(cid, model, {"content": md_inline(event)})
    except NewsroomError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'newsroom_error'}})}\n\n"
    except Exception:  # the client gets a line it can show; the log gets the trace
        log.exception("streamed chat answer failed")
        yield f"data: {json.dumps({'error': {'message': 'internal error; the server log has the details'}})}\n\n"
    yield "data: [DONE]\n\n"


def _stream_reply(cid: str, model: str, reply: Reply) -> Iterator[str]:
    yield _chunk(cid, model, {"role": "assistant", "content": reply.text})
    yield _chunk(cid, model, {}, "stop", newsroom=reply.data)
    yield "data: [DONE]\n\n"


class OpenAIErrorRoute(APIRoute):
    """Errors as OpenAI clients read them, ``{"error": {"message", "type", "code"}}``: the API's own
    exception handlers decide the status and the message; this only reshapes their ``{"error": "..."}``."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def reshaped(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                handlers = request.app.exception_handlers
                api_handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
                if api_handler is None:
                    raise
                response = await api_handler(request, exc)
                message = json.loads(response.body).get("error", "")
                kept = {k: v for k, v in response.headers.items() if k in ("www-authenticate", "retry-after")}
                kind = "authentication_error" if response.status_code == 401 else "invalid_request_error" \
                    if response.status_code < 500 else "server_error"
                return JSONResponse({"error": {"message": message, "type": kind, "code": response.status_code}},
                                    status_code=response.status_code, headers=kept)

        return reshaped


def chat_router(assistant: Assistant, principal: Callable[[Request], Principal]) -> APIRouter:
    """``/v1/models`` and ``/v1/chat/completions`` over ``assistant``, behind ``principal`` (the API's login)."""
    router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], route_class=OpenAIErrorRoute)
    login = bearer_or_basic(principal)

    @router.get("/models")
    def models(who: Principal = Depends(login)) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": CREATED, "owned_by": "newsroom",
                                            "description": what} for name, what in MODELS.items()]}

    @router.post("/chat/completions", response_model=None)
    def chat(body: ChatBody, who: Principal = Depends(login)) -> dict[str, Any] | Response:
        """A chat turn: the answer (or the mode's result) as Markdown, the structured result in ``newsroom``."""
        if body.model not in MODELS:
            raise InputError(f"no model {body.model!r}: use one of {', '.join(MODELS)} (GET /v1/models)")
        question, history = conversation(body.messages, assistant.settings)
        filters = body.newsroom or FilterBody()
        collections = narrowed(who.collections, filters.collection)
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        if body.model == "newsroom":
            events = assistant.ask_stream(question, filters.filters(), history=history, collections=collections)
            if body.stream:
                first = next(events)  # bad input fails here, as a plain JSON error
                return StreamingResponse(_stream_answer(cid, body.model, first, events), media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            answer = [e for e in events if isinstance(e, Answer)][-1]
            return _completion(cid, body.model, md_inline(answer.answer) + answer_sources(answer), answer.to_dict())
        if body.model == "newsroom-sources":
            reply = _sources(assistant, question, filters.filters(), collections)
        elif body.model == "newsroom-check":
            reply = _check(assistant, question, filters.filters(), collections)
        else:
            reply = _quote(assistant, question, filters.filters(), collections)
        if body.stream:
            return StreamingResponse(_stream_reply(cid, body.model, reply), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return _completion(cid, body.model, reply.text, reply.data)

    return router
