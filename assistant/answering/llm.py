"""The chat model: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, LM Studio, OpenAI).

One request shape that all of them accept: `messages`, `temperature`, `max_tokens`, `stream`,
and nothing optional (no `stream_options`, which some servers reject). When a server refuses
a part of it (OpenAI's reasoning models want `max_completion_tokens` and no temperature; some
chat templates, Gemma's among them, have no system role) the request is adapted once and the
adaptation kept for the next requests. 429 and 5xx answers are retried by the openai client,
which waits as long as the server's `Retry-After` asks (up to two minutes), else backs off
exponentially (NEWSROOM_LLM_MAX_RETRIES).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..errors import BackendError
from ..settings import Settings
from .model_output import split_reasoning

ANSWER_MAX_TOKENS = 700  # five cited sentences in any language, with room for a short preamble


@dataclass
class Delta:
    """One streamed event: answer text, reasoning text (`reasoning_content` / `reasoning`), or the end."""

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None


class BrokenStream(BackendError):
    """The endpoint stopped in the middle of an answer; ``partial`` is what had arrived."""

    def __init__(self, message: str, partial: str):
        super().__init__(message)
        self.partial = partial


@dataclass(frozen=True)
class Adaptation:
    """A change to the request for a server that refused the usual one (matched on its error text)."""

    name: str
    error: re.Pattern[str]
    apply: Callable[[dict[str, Any]], None]


def _completion_tokens(req: dict[str, Any]) -> None:
    req["max_completion_tokens"] = req.pop("max_tokens")


def _no_temperature(req: dict[str, Any]) -> None:
    req.pop("temperature", None)


def _system_into_user(req: dict[str, Any]) -> None:
    msgs = req["messages"]
    if msgs and msgs[0]["role"] == "system":
        system = msgs.pop(0)["content"]
        msgs[0] = {"role": "user", "content": f"{system}\n\n{msgs[0]['content']}"}


# Error texts seen from the servers (OpenAI's o-series/gpt-5; vLLM and llama.cpp rendering a
# Gemma or old Mistral template), reproduced by tests/llm_server.py's profiles.
ADAPTATIONS = (
    Adaptation("max_completion_tokens", re.compile(r"max_tokens.{0,80}(not supported|unsupported)|use .?max_completion_tokens", re.I | re.S),
               _completion_tokens),
    Adaptation("no temperature", re.compile(r"temperature.{0,80}(not support|unsupported|only the default)", re.I | re.S),
               _no_temperature),
    Adaptation("system prompt in the user message",
               re.compile(r"system role not supported|roles must alternate|system message.{0,40}not (supported|allowed)", re.I | re.S),
               _system_into_user),
)


class ChatModel:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = None
        self._adapted: list[Adaptation] = []  # what this endpoint needed, learnt from its errors
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return self.settings.llm_base_url or "the OpenAI API"

    @property
    def adaptations(self) -> list[str]:
        """Names of the request changes this endpoint needed so far."""
        return [a.name for a in self._adapted]

    def client(self):
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                base_url=self.settings.llm_base_url or None,
                api_key=self.settings.llm_api_key or "not-needed",
                timeout=self.settings.llm_timeout,
                max_retries=self.settings.llm_max_retries,  # honours Retry-After, else backs off exponentially
            )
        return self._client

    def request(self, system: str, user: str, max_tokens: int) -> dict[str, Any]:
        """The (streamed) request body, with the adaptations this endpoint needed."""
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        req: dict[str, Any] = {"model": self.settings.llm_model, "messages": messages, "temperature": 0,
                               "max_tokens": max_tokens, "stream": True}
        for a in self._adapted:
            a.apply(req)
        return req

    def _create(self, system: str, user: str, max_tokens: int):
        import openai

        while True:
            req = self.request(system, user, max_tokens)
            try:
                return self.client().chat.completions.create(**req)
            except openai.BadRequestError as exc:
                fix = next((a for a in ADAPTATIONS if a not in self._adapted and a.error.search(str(exc))), None)
                if fix is None:
                    raise
                with self._lock:
                    if fix not in self._adapted:
                        self._adapted.append(fix)

    def stream(self, system: str, user: str, max_tokens: int = ANSWER_MAX_TOKENS) -> Iterator[Delta]:
        """Yield the completion as it arrives; errors become one clear BackendError.

        A stream that breaks after some text arrived raises `BrokenStream` carrying that text.
        """
        import openai

        received: list[str] = []
        try:
            for event in self._create(system, user, max_tokens):
                if not event.choices:
                    continue
                choice = event.choices[0]
                delta = choice.delta
                text = (delta.content if delta else None) or ""
                # vLLM and llama.cpp send `reasoning_content`; Ollama and newer vLLM `reasoning`.
                extra = (delta.model_extra or {}) if delta is not None else {}
                reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
                if text:
                    received.append(text)
                if text or reasoning or choice.finish_reason:
                    yield Delta(text, reasoning if isinstance(reasoning, str) else "", choice.finish_reason)
        except openai.AuthenticationError as exc:
            raise BackendError(f"the LLM endpoint {self.where} rejected the API key (NEWSROOM_LLM_API_KEY): {exc.message}") from exc
        except openai.NotFoundError as exc:
            raise BackendError(f"the LLM endpoint {self.where} has no model '{self.settings.llm_model}' (NEWSROOM_LLM_MODEL)") from exc
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the user
            if received:
                detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                raise BrokenStream(f"the LLM endpoint {self.where} stopped in the middle of the answer ({detail[:120]})",
                                   "".join(received)) from exc
            raise BackendError(self._describe(exc)) from exc

    def _describe(self, exc: Exception) -> str:
        import openai

        where = self.where
        if isinstance(exc, openai.APITimeoutError) or "timeout" in type(exc).__name__.lower():
            return f"the LLM endpoint {where} did not answer within {self.settings.llm_timeout:g} s (NEWSROOM_LLM_TIMEOUT)"
        if isinstance(exc, openai.RateLimitError):
            return f"the LLM endpoint {where} is rate-limiting (429) after {self.settings.llm_max_retries} retries: try again later"
        if isinstance(exc, openai.InternalServerError):
            return f"the LLM endpoint {where} is unavailable ({exc.status_code}) after {self.settings.llm_max_retries} retries: try again later"
        if isinstance(exc, openai.APIConnectionError):
            return f"cannot reach the LLM endpoint {where}: is it running?"
        if isinstance(exc, openai.APIStatusError):
            return f"the LLM endpoint {where} refused the request ({exc.status_code}): {exc.message}"
        if isinstance(exc, openai.APIError):
            return f"the LLM endpoint {where} failed: {exc}"
        return f"the LLM endpoint {where} failed ({type(exc).__name__}: {exc})"

    def complete(self, system: str, user: str, max_tokens: int = ANSWER_MAX_TOKENS) -> str:
        """The whole completion's answer text, reasoning left out."""
        text = "".join(d.text for d in self.stream(system, user, max_tokens))
        return split_reasoning(text)[0]
