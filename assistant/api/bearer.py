"""The API's login, also as ``Authorization: Bearer NAME:PASSWORD``: what chat front ends and MCP clients send.

They take one API key; here that key is a user's name and password joined by a colon, checked
exactly as HTTP Basic credentials are (the same users file, memo, rate and back-off).
"""
from __future__ import annotations

import base64
from typing import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request

from .access import Principal

LOGIN_HINT = ("log in: send HTTP Basic credentials, or NAME:PASSWORD of a user in the users file as a Bearer "
              "token (the API key)")


def bearer_or_basic(principal: Callable[[Request], Principal]) -> Callable[[Request], Principal]:
    """``principal`` (the API's login dependency) taking a Bearer NAME:PASSWORD as Basic credentials."""

    def who(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            basic = b"Basic " + base64.b64encode(header[7:].strip().encode("utf-8"))
            headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"authorization"]
            request = Request({**request.scope, "headers": [*headers, (b"authorization", basic)]})
        try:
            return principal(request)
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
            raise HTTPException(401, LOGIN_HINT, headers=exc.headers) from exc

    return who

