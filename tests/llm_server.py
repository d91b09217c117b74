"""A small OpenAI-compatible chat server for tests: scripted completions, streamed as SSE.

A script returns the completion's text, or a `Reply` that streams it the way a real server
would: in given pieces, with reasoning in `reasoning_content` / `reasoning`, cut off
mid-stream, or after refusals (429/503 with Retry-After). A `profile` makes the server refuse
requests as a real one does (OpenAI's reasoning models, a chat template without a system role).
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class Reply:
    """How one completion streams. ``pieces`` overrides the default 12-character split."""

    content: str = ""
    pieces: list[str] | None = None
    reasoning: list[str] = field(default_factory=list)  # streamed before the content
    reasoning_field: str = "reasoning_content"  # vLLM, llama.cpp; Ollama says "reasoning"
    break_after: int | None = None  # drop the connection after this many content pieces
    finish_reason: str = "stop"

    def content_pieces(self) -> list[str]:
        if self.pieces is not None:
            return self.pieces
        return [self.content[i : i + 12] for i in range(0, len(self.content), 12)]


# Error bodies as the servers send them (status 400), for requests they do not accept.
PROFILES = {
    # OpenAI's o-series and gpt-5 models.
    "openai-reasoning": [
        (lambda b: "max_tokens" in b, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with "
                                                 "this model. Use 'max_completion_tokens' instead.", "type":
                                                 "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}}),
        (lambda b: b.get("temperature", 1) != 1, {"error": {"message": "Unsupported value: 'temperature' does not support 0 "
                                                            "with this model. Only the default (1) value is supported.",
                                                            "type": "invalid_request_error", "param": "temperature",
                                                            "code": "unsupported_value"}}),
    ],
    # vLLM or llama.cpp rendering Gemma's chat template.
    "no-system-role": [
        (lambda b: any(m["role"] == "system" for m in b["messages"]),
         {"object": "error", "message": "System role not supported", "type": "BadRequestError", "code": 400}),
    ],
}
# Fields a request from the app must never carry: some servers reject them.
UNPORTABLE_FIELDS = ("stream_options", "max_completion_tokens", "reasoning_effort", "response_format", "tools")


class ScriptedLLM:
    """Answers with ``script(messages) -> text | Reply``; records every request it got."""

    def __init__(self, script: Callable[[list[dict]], "str | Reply"], delay_s: float = 0.0, api_key: str | None = None,
                 overlap_delays: bool = False, profile: str | None = None,
                 failures: list[tuple[int, str | None]] | None = None, models: list[str] | None = None):
        """``delay_s`` blocks the server (requests wait in turn); with ``overlap_delays`` each
        request waits on its own, as a real server answering many users at once does.
        ``failures``: (status, Retry-After) answered to the first requests, in turn."""
        self.script = script
        self.delay_s = delay_s
        self.overlap_delays = overlap_delays
        self.api_key = api_key
        self.profile = PROFILES[profile] if profile else []
        self.failures = list(failures or [])
        self.models = models or ["scripted"]
        self.requests: list[dict] = []
        self.refused: list[dict] = []  # requests answered with an error
        self.arrivals: list[float] = []  # when each chat request arrived (time.monotonic)
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._chat)
        self.app.post("/v1/embeddings")(self._embeddings)
        self.app.get("/v1/models")(self._models)
        self.embedding_batches: list[int] = []
        self._server: uvicorn.Server | None = None
        self.port = 0

    async def _models(self):
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models]}

    async def _chat(self, request: Request):
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}, status_code=401)
        body = await request.json()
        self.arrivals.append(time.monotonic())
        if self.failures:
            status, retry_after = self.failures.pop(0)
            self.refused.append(body)
            headers = {"retry-after": retry_after} if retry_after is not None else {}
            return JSONResponse({"error": {"message": "Server busy", "type": "server_error"}}, status_code=status,
                                headers=headers)
        for refuses, error in self.profile:
            if refuses(body):
                self.refused.append(body)
                return JSONResponse(error, status_code=400)
        self.requests.append(body)
        reply = self.script(body["messages"])
        if isinstance(reply, str):
            reply = Reply(reply)
        if self.delay_s and self.overlap_delays:
            await asyncio.sleep(self.delay_s)
        elif self.delay_s:
            time.sleep(self.delay_s)
        if not body.get("stream"):
            return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(reply.content_pieces())},
                                 "finish_reason": reply.finish_reason}]}

        def chunk(delta: dict, finish: str | None = None) -> str:
            event = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"

        def events():
            yield chunk({"role": "assistant", "content": ""})
            for piece in reply.reasoning:
                yield chunk({reply.reasoning_field: piece})
            for i, piece in enumerate(reply.content_pieces()):
                if reply.break_after is not None and i >= reply.break_after:
                    raise ConnectionResetError("scripted break")  # uvicorn drops the connection mid-body
                yield chunk({"content": piece})
            yield chunk({}, reply.finish_reason)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _embeddings(self, request: Request):
        """Deterministic bag-of-words vectors: a real (if crude) embedding, same text → same vector."""
        import hashlib

        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.embedding_batches.append(len(texts))
        data = []
        for i, text in enumerate(texts):
            vec = [0.0] * 64
            for word in text.lower().split():
                vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            data.append({"object": "embedding", "index": i, "embedding": vec})
        return {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    def __enter__(self) -> "ScriptedLLM":
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="critical")
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        while not self._server.started:
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.should_exit = True
