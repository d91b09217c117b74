"""FastAPI with the Gradio app mounted at /: one process, one Assistant."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .errors import InputError, NewsroomError
from .service import Assistant, Filters
from .settings import Settings


class SearchBody(BaseModel):
    query: str
    k: int | None = Field(default=None, ge=1, le=100)
    lang: list[str] | None = None
    since: str | None = None
    until: str | None = None
    source: list[str] | None = None


class AskBody(BaseModel):
    question: str
    lang: list[str] | None = None
    since: str | None = None
    until: str | None = None
    source: list[str] | None = None
    history: list[tuple[str, str]] | None = None


def create_api(assistant: Assistant) -> FastAPI:
    api = FastAPI(title="Newsroom assistant", version="0.1.0")

    @api.exception_handler(NewsroomError)
    async def newsroom_error(_: Request, exc: NewsroomError) -> JSONResponse:
        status = 400 if isinstance(exc, InputError) else 503
        return JSONResponse({"error": str(exc)}, status_code=status)

    @api.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "mode": assistant.mode}

    @api.post("/api/search")
    def search(body: SearchBody) -> dict[str, Any]:
        filters = Filters(lang=body.lang, source=body.source, since=body.since, until=body.until)
        results = assistant.search(body.query, filters, k=body.k)
        keys = ("article_id", "chunk_id", "title", "source", "url", "published", "lang", "text", "start", "end", "score")
        return {"results": [{k: getattr(p, k) for k in keys} for p in results]}

    @api.post("/api/ask")
    def ask(body: AskBody) -> dict[str, Any]:
        filters = Filters(lang=body.lang, source=body.source, since=body.since, until=body.until)
        return assistant.ask(body.question, filters, history=body.history).to_dict()

    @api.get("/api/stats")
    def stats() -> dict[str, Any]:
        return assistant.status()

    return api


def create_server(settings: Settings) -> tuple[FastAPI, Assistant]:
    import gradio as gr

    from .web import CSS, create_app

    assistant = Assistant(settings)
    api = create_api(assistant)
    gradio_tmp = settings.data_dir / "gradio-tmp"
    gradio_tmp.mkdir(parents=True, exist_ok=True)
    app = gr.mount_gradio_app(
        api,
        create_app(assistant).queue(max_size=64, default_concurrency_limit=4),
        path="/",
        blocked_paths=[str(settings.data_dir.resolve())],
        max_file_size="50mb",
        enable_monitoring=False,
        show_error=False,
        footer_links=[],
        ssr_mode=False,
        css=CSS,
    )
    return app, assistant


def serve(settings: Settings) -> None:
    import os

    import uvicorn

    os.environ.setdefault("GRADIO_TEMP_DIR", str((settings.data_dir / "gradio-tmp").resolve()))
    app, assistant = create_server(settings)
    assistant.store  # open the store now: a held store fails here with a clear message, not on first question
    print(f"newsroom: serving on http://{settings.host}:{settings.port}  (mode: {assistant.mode})", flush=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        assistant.close()
