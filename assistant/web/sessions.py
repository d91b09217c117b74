"""Who a web-app request comes from, as Gradio verified it: the one place we read Gradio's logins.

Gradio keeps its login sessions in the mounted app's ``tokens`` table (token -> user name), set
by its ``/login`` route and read from the ``access-token[-unsecure]-<cookie_id>`` cookie. It has
no public call for "which user sent this request" outside an event handler, and the server's
middlewares (rate limits, the upload ledger) need exactly that before Gradio runs. So this
adapter reads those internals, for the pinned release only: an upgrade fails here, at start-up.
"""
from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from ..errors import ConfigError

GRADIO_VERSION = "6.31.0"  # the release whose App.tokens / App.cookie_id this reads (pyproject pins it)


class WebSessions:
    """Maps a request's login cookie to the user Gradio logged in (None: not logged in, or logins off)."""

    def __init__(self) -> None:
        self._app: Any = None

    def bind(self, parent: Any) -> None:
        """Find the Gradio app mounted on ``parent`` (after ``gr.mount_gradio_app``)."""
        import gradio

        if gradio.__version__ != GRADIO_VERSION:
            raise ConfigError(f"gradio {gradio.__version__} is installed; this release of the app reads the login "
                              f"sessions of gradio {GRADIO_VERSION}: install the pinned set (constraints.txt)")
        for route in getattr(parent, "routes", []):
            app = getattr(route, "app", None)
            if hasattr(app, "tokens") and hasattr(app, "cookie_id"):
                self._app = app
                return
        raise ConfigError("no Gradio app is mounted: bind the web sessions after mount_gradio_app")

    def user(self, headers: dict[str, str]) -> str | None:
        """The verified user behind a request's headers (lower-cased names), from its login cookie."""
        if self._app is None or "cookie" not in headers:
            return None
        try:
            jar = SimpleCookie(headers["cookie"])
        except CookieError:
            return None
        tokens: dict[str, str] = self._app.tokens
        for name in (f"access-token-{self._app.cookie_id}", f"access-token-unsecure-{self._app.cookie_id}"):
            morsel = jar.get(name)
            if morsel is not None and morsel.value in tokens:
                return tokens[morsel.value]
        return None
