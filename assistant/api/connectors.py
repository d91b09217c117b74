"""The routes other tools connect through, added to the app's API: the OpenAI-compatible chat
endpoint (``/v1``: chat front ends, the ``openai`` client) and MCP over streamable HTTP (``/mcp``:
AI assistants). Both sit behind the API's login and apply its collections and embargo rules."""
from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, Request

from ..service import Assistant
from . import mcp_tools
from .access import Principal
from .openai_chat import chat_router


def add_connectors(api: FastAPI, assistant: Assistant, principal: Callable[[Request], Principal]) -> None:
    """Add ``/v1/*`` and ``/mcp`` to ``api`` (``principal``: the API's login dependency)."""
    api.include_router(chat_router(assistant, principal))
    mcp_tools.mount(api, assistant, principal)
