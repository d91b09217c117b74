"""A small OpenAI-compatible chat server for tests: scripted completions, streamed as SSE."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Callable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


class ScriptedLLM:
    """Answers with ``script(messages) -> text``; records every request it got."""

    def __init__(self, script: Callable[[list[dict]], str], delay_s: float = 0.0, api_key: str | None = None,
                 overlap_delays: bool = False):
        """``delay_s`` blocks the server (requests wait in turn); with ``overlap_delays`` each
        request waits on its own, as a real server answering many users at once does."""
        self.script = script
        self.delay_s = delay_s
        self.overlap_delays = overlap_delays
        self.api_key = api_key
        self.requests: list[dict] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._chat)
        self.app.post("/v1/embeddings")(self._embeddings)
        self.embedding_batches: list[int] = []
        self._server: uvicorn.Server | None = None
        self.port = 0

    async def _chat(self, request: Request):
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        text = self.script(body["messages"])
        if self.delay_s and self.overlap_delays:
            await asyncio.sleep(self.delay_s)
        elif self.delay_s:
            time.sleep(self.delay_s)
        if not body.get("stream"):
            return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}

        def events():
            for i in range(0, len(text), 12):
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": text[i:i + 12]}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
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
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="error")
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
