"""`newsroom mcp`: the archive's MCP tools served alone, over stdio (as one user) or streamable HTTP."""
from __future__ import annotations

from typing import Any

from ..auth import Users, load_users
from ..errors import ConfigError, StoreLockedError
from ..service import Assistant
from ..settings import Settings
from .limits import Backoff, LimitsMiddleware, TokenBucket, rules_from
from .mcp_tools import HTTP_PATH, create_mcp, guarded
from .routes import create_api
from .server import check_serving


def http_app(assistant: Assistant, users: Users) -> Any:
    """``newsroom mcp --transport http``: MCP alone at ``/mcp``, behind the app's logins and request limits."""
    settings = assistant.settings
    _, app = guarded(assistant, create_api(assistant, users).state.principal)  # the app's own login check
    # Body size, cross-site refusal and security headers as on the app; the rate per user and the
    # failed-login back-off are the login check's own.
    return LimitsMiddleware(app, rules=rules_from(settings), bucket=TokenBucket(settings.rate_per_minute),
                            backoff=Backoff())


def stdio_collections(users: Users, user: str | None) -> tuple[str, ...] | None:
    """What a stdio session may see: the named user's collections; everything when logins are off."""
    if not users.enabled:
        return None
    if not user:
        raise ConfigError("logins are on: run `newsroom mcp --user NAME` as a user of the users file")
    if user not in users.users:
        raise ConfigError(f"no user {user!r} in the users file (NEWSROOM_USERS_FILE)")
    return users.collections_for(user)


def serve_mcp(settings: Settings, transport: str, user: str | None = None) -> None:
    """Run the MCP server over ``stdio`` (as ``user``) or ``http`` (at settings.host:port/mcp) until stopped."""
    import sys

    import uvicorn

    users = load_users(settings)
    if transport == "http":
        check_serving(settings, users)
    collections = stdio_collections(users, user) if transport == "stdio" else ()
    assistant = Assistant(settings)
    try:
        try:
            assistant.store  # a store held by another process fails here, not at the first tool call
        except StoreLockedError as exc:
            raise StoreLockedError(f"{str(exc).split(';')[0]}; the embedded store serves one process: give `newsroom "
                                   "mcp` its own NEWSROOM_DATA_DIR, or use a Qdrant server (NEWSROOM_QDRANT_URL)") from exc
        if transport == "stdio":
            create_mcp(assistant, collections).run("stdio")
            return
        print(f"newsroom: MCP over streamable HTTP at http://{settings.host}:{settings.port}{HTTP_PATH}",
              file=sys.stderr, flush=True)
        uvicorn.run(http_app(assistant, users), host=settings.host, port=settings.port, log_level="warning")
    finally:
        assistant.close()
