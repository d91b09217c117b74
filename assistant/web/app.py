"""The Gradio app: chat with cited sources beside it, and a Library view. Thin layer over Assistant.

Every handler takes the browser's ``gr.Request`` and passes the user's collections to the
Assistant, so what a user may not see never reaches the page.
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from ..auth import Users  # noqa: E402
from ..service import Assistant  # noqa: E402
from . import render  # noqa: E402
from .chat import ChatHandlers  # noqa: E402
from .files import UploadLedger  # noqa: E402
from .i18n import LANG_NAMES, LANGS, pick_language, t  # noqa: E402
from .library import LibraryHandlers  # noqa: E402

CSS = """
#nr-sources {max-height: 78vh; overflow-y: auto;}
.nr-source {border-left: 3px solid #888; padding: 4px 10px; margin: 8px 0;}
.nr-source[open] {border-left-color: #2563eb;}
.nr-source.nr-current {background: rgba(37, 99, 235, 0.06);}
.nr-source summary {cursor: pointer;}
.nr-meta {color: #555; font-size: 0.9em;}
.nr-link {font-size: 0.9em; word-break: break-all;}
.nr-passage {margin-top: 4px; white-space: normal;}
.nr-passage mark {background: #ffe58a;}
.nr-more > summary {cursor: pointer; font-weight: 600; margin-top: 8px;}
a.nr-cite {text-decoration: none; font-weight: 600; padding: 0 1px;}
.nr-unsupported {text-decoration: underline wavy #c2410c; color: #9a3412;}
.nr-label {font-size: 0.8em; padding: 0 5px; border-radius: 4px; background: #e5e7eb;}
.nr-label.nr-supports {background: #dcfce7;} .nr-label.nr-contradicts {background: #fee2e2;}
.nr-export {display: flex; flex-wrap: wrap; gap: 8px;}
.nr-export a, .nr-export button {border: 1px solid #999; border-radius: 6px; padding: 4px 10px; font-size: 0.9em;}
.nr-table td, .nr-table th {padding: 2px 8px; text-align: left;}
.nr-user {font-size: 0.85em; text-align: right; margin: 0;}
.nr-warnings {font-size: 0.85em; color: #9a3412; margin: 4px 0;}
@media (max-width: 640px) { #nr-sources {max-height: none;} #nr-title h2 {font-size: 1.2em;} }
"""

@dataclass
class Labels:
    """Components whose text follows the interface language: (component, how, key)."""

    items: list[tuple[Any, str, Any]] = field(default_factory=list)

    def add(self, component: Any, how: str, key: Any) -> Any:
        self.items.append((component, how, key))
        return component

    @property
    def components(self) -> list[Any]:
        return list({id(c): c for c, _, _ in self.items}.values())

    def updates(self, lang: str) -> list[Any]:
        """One update per component (in ``components`` order), merging what each registration sets."""
        merged: dict[int, dict[str, Any]] = {}
        for comp, how, key in self.items:
            merged.setdefault(id(comp), {}).update(_props(how, key, lang))
        return [gr.update(**merged[id(c)]) for c in self.components]


def _props(how: str, key: Any, lang: str) -> dict[str, Any]:
    if how == "choices":  # key: [(string key, value), ...]
        return {"choices": [(t(k, lang), v) for k, v in key]}
    if how == "markdown":  # key: a function of the language
        return {"value": key(lang)}
    if how == "value":
        return {"value": t(key, lang)}
    if how == "axes":  # key: (x title key, y title key[, colour title key])
        titles = {"x_title": t(key[0], lang), "y_title": t(key[1], lang)}
        return titles | ({"color_title": t(key[2], lang)} if len(key) > 2 else {})
    if how == "placeholder":  # key: (label key, placeholder key)
        return {"label": t(key[0], lang), "placeholder": t(key[1], lang)}
    return {"label": t(key, lang)}


def upload_folder() -> str:
    """Gradio's upload folder (GRADIO_TEMP_DIR, as the server sets it)."""
    from gradio.utils import get_upload_folder

    return get_upload_folder()


def user_collections(users: Users | None, request: gr.Request | None) -> tuple[str, ...] | None:
    """What this browser session's user may see (None = everything: logins are off)."""
    if users is None:
        return None
    return users.collections_for(getattr(request, "username", None) if request else None)


def _title(lang: str) -> str:
    return f"## {t('title', lang)}\n{t('tagline', lang)}"


def create_app(assistant: Assistant, users: Users | None = None, ledger: UploadLedger | None = None) -> gr.Blocks:
    """The whole app; ``users`` decides each session's collections (None: logins off); ``ledger`` holds
    the files each user uploaded (the server's; by default one for Gradio's upload folder, which then
    accepts no file until the server's guard records it)."""
    labels = Labels()
    access: Callable[[gr.Request | None], tuple[str, ...] | None] = lambda req: user_collections(users, req)
    with gr.Blocks(title="Newsroom assistant") as app:
        with gr.Row(equal_height=True):
            labels.add(gr.Markdown(_title("en"), elem_id="nr-title"), "markdown", _title)
            with gr.Column(scale=0, min_width=180):
                ui_lang = gr.Dropdown([(LANG_NAMES[c], c) for c in LANGS], value="en", label=t("ui_lang"),
                                      elem_id="nr-ui-lang")
                user = gr.HTML("", elem_id="nr-user")
            labels.add(ui_lang, "label", "ui_lang")
        with gr.Tabs():
            with gr.Tab(t("tab_chat"), id="chat", elem_id="nr-tab-chat") as tab_chat:
                chat = ChatHandlers(assistant, access).build(labels, ui_lang)
            labels.add(tab_chat, "label", "tab_chat")
            with gr.Tab(t("tab_library"), id="library", elem_id="nr-tab-library") as tab_lib:
                library = LibraryHandlers(assistant, access, ledger or UploadLedger(upload_folder())).build(
                    labels, ui_lang, tab_lib)
            labels.add(tab_lib, "label", "tab_library")

        def on_load(request: gr.Request) -> list[Any]:
            lang = pick_language(request.headers.get("accept-language") if request else None)
            facets = assistant.facets(access(request))
            return [gr.update(value=lang), *chat.on_load(facets, lang), *library.on_load(request, facets, lang),
                    render.user_html(signed_in(request), lang)]

        def relabel(lang: str, panels: list[str], request: gr.Request) -> list[Any]:
            return [*labels.updates(lang), *chat.relabel(lang, panels), render.user_html(signed_in(request), lang)]

        def signed_in(request: gr.Request | None) -> str | None:
            return getattr(request, "username", None) if users is not None and users.enabled else None

        app.load(on_load, None, [ui_lang, *chat.load_outputs, *library.load_outputs, user], api_visibility="private")
        ui_lang.change(relabel, [ui_lang, chat.panels], [*labels.components, *chat.relabel_outputs, user],
                       api_visibility="private")
    return app


