"""The Library tab: upload files to ingest, what the archive holds, and a coverage timeline."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from ingest.readers import supported_suffixes

from ..errors import NewsroomError
from ..retrieval.holdings import UNDATED
from ..service import Assistant
from ..uploads import scrub_paths
from . import render
from .files import UploadLedger
from .i18n import t

AS_FILES = "*from-files*"  # the collection each file names (or "default"); only where every collection is allowed
Access = Callable[[gr.Request | None], "tuple[str, ...] | None"]


class LibraryHandlers:
    def __init__(self, assistant: Assistant, access: Access, ledger: UploadLedger):
        self.assistant = assistant
        self.access = access
        self.ledger = ledger  # which uploaded files belong to which user: the only files ingest takes

    def build(self, labels: Any, ui_lang: gr.Dropdown, tab: gr.Tab) -> LibraryHandlers:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                self.files = gr.File(label=t("upload"), file_count="multiple", type="filepath",
                                     file_types=[*supported_suffixes(), ".zip"], elem_id="nr-upload")
                self.collection = gr.Dropdown([(t("as_files"), AS_FILES)], value=AS_FILES, label=t("collection"),
                                              allow_custom_value=True, elem_id="nr-collection")
                go = gr.Button(t("ingest"), variant="primary", elem_id="nr-ingest")
                self.report = gr.HTML("", elem_id="nr-report")
                for comp, how, key in ((self.files, "label", "upload"), (self.collection, "label", "collection"),
                                       (go, "value", "ingest")):
                    labels.add(comp, how, key)
            with gr.Column(scale=2, min_width=300):
                labels.add(gr.Markdown(f"### {t('holdings')}"), "markdown", lambda lang: f"### {t('holdings', lang)}")
                self.summary = gr.HTML("", elem_id="nr-holdings")
                with gr.Row():
                    self.by_lang = gr.BarPlot(None, x="language", y="articles", label=t("by_language"),
                                              elem_id="nr-by-lang", height=220, min_width=200, y_lim=[0, None])
                    self.by_year = gr.BarPlot(None, x="year", y="articles", label=t("by_year"),
                                              elem_id="nr-by-year", height=220, min_width=200, y_lim=[0, None])
                labels.add(self.by_lang, "label", "by_language")
                labels.add(self.by_lang, "axes", ("language", "count"))
                labels.add(self.by_year, "label", "by_year")
                labels.add(self.by_year, "axes", ("year", "count"))
                self.outlets = gr.HTML("", elem_id="nr-by-outlet")
                refresh = labels.add(gr.Button(t("refresh"), size="sm"), "value", "refresh")
                labels.add(gr.Markdown(f"### {t('coverage')}"), "markdown", lambda lang: f"### {t('coverage', lang)}")
                with gr.Row():
                    query = gr.Textbox(label=t("coverage_query"), elem_id="nr-coverage-q", scale=3)
                    show = gr.Button(t("coverage_go"), elem_id="nr-coverage-go", scale=1)
                labels.add(query, "label", "coverage_query")
                labels.add(show, "value", "coverage_go")
                self.coverage_note = gr.HTML("", elem_id="nr-coverage-note")
                self.timeline = gr.BarPlot(None, x="month", y="articles", color="language", label=t("coverage"),
                                           elem_id="nr-timeline", height=260, y_lim=[0, None])
                labels.add(self.timeline, "label", "coverage")
                labels.add(self.timeline, "axes", ("month", "count", "language"))
        holdings_out = [self.summary, self.by_lang, self.by_year, self.outlets]
        go.click(self.ingest, [self.files, self.collection, ui_lang], [self.report, self.files, *holdings_out],
                 api_visibility="private")
        refresh.click(self.holdings, [ui_lang], holdings_out, api_visibility="private")
        tab.select(self.holdings, [ui_lang], holdings_out, api_visibility="private")
        for trigger in (show.click, query.submit):
            trigger(self.coverage, [query, ui_lang], [self.coverage_note, self.timeline], api_visibility="private")
        return self

    # -- page load: where this user may upload ---------------------------------------------
    @property
    def load_outputs(self) -> list[Any]:
        return [self.collection]

    def on_load(self, request: gr.Request | None, facets: dict[str, Any], lang: str) -> list[Any]:
        granted = self.access(request)
        if granted is None:  # logins off, or a "*" grant: any collection, existing ones offered
            names = sorted(set(facets.get("collections") or {}) | {"default"})
            return [gr.update(choices=[(t("as_files", lang), AS_FILES), *names], value=AS_FILES,
                              allow_custom_value=True)]
        names = sorted(granted)
        return [gr.update(choices=names, value=names[0] if names else None, allow_custom_value=False,
                          interactive=bool(names))]

    # -- handlers ------------------------------------------------------------------------
    def ingest(self, files: list[str] | None, collection: str, lang: str, request: gr.Request,
               progress: gr.Progress = gr.Progress()) -> list[Any]:
        paths: list[Path] = []
        try:
            if not files:
                return [render.notice(t("no_files", lang)), gr.update(), *self.holdings(lang, request)]
            # Only this user's own uploads in the app's upload folder: never a path a client named.
            owner = getattr(request, "username", None) or ""
            paths = [self.ledger.claim(owner, str(f)) for f in files]
            collection = (collection or "").strip()
            granted = self.access(request)
            if granted is not None and collection not in granted:
                return [render.notice(t("not_allowed", lang)), None, *self.holdings(lang, request)]

            def step(report: Any) -> None:
                done = report.ingested + report.updated + report.unchanged
                progress((done, None), desc=f"{done} {t('articles', lang)}", unit=t("articles", lang))

            progress(0, desc=t("ingest", lang))
            names = {str(p): p.name for p in paths}  # Gradio keeps the upload's own name as the file name
            report = self.assistant.ingest(paths, progress=step, names=names,
                                           collection=None if collection == AS_FILES else collection,
                                           untrusted=True)
            scrub_paths(report, names, self.ledger.folder)
            return [render.report_html(report.to_dict(), names, lang), None, *self.holdings(lang, request)]
        except NewsroomError as exc:
            message = str(exc).replace(str(self.ledger.folder), "…")
            return [render.notice(f"{t('error', lang)}: {message}"), None, *self.holdings(lang, request)]
        finally:
            remove_uploads(paths)

    def holdings(self, lang: str, request: gr.Request) -> list[Any]:
        data = self.assistant.holdings(self.access(request))
        langs = pd.DataFrame({"language": list(data["languages"]), "articles": list(data["languages"].values())})
        years = pd.DataFrame({"year": [t("undated", lang) if y == UNDATED else y for y in data["years"]],
                              "articles": list(data["years"].values())})
        return [render.holdings_html(data, lang), langs, years, render.outlets_html(data["sources"], lang)]

    def coverage(self, query: str, lang: str, request: gr.Request) -> list[Any]:
        if not (query or "").strip():
            return [gr.update(), gr.update()]
        try:
            data = self.assistant.coverage(query, collections=self.access(request))
        except NewsroomError as exc:
            return [render.notice(f"{t('error', lang)}: {exc}"), None]
        rows = [r for r in data["months"] if r["month"] != UNDATED]
        undated = sum(r["articles"] for r in data["months"] if r["month"] == UNDATED)
        frame = pd.DataFrame({"month": [r["month"] for r in rows], "language": [r["lang"] for r in rows],
                              "articles": [r["articles"] for r in rows]})
        note = f"{data['articles']} {t('coverage_found', lang)}" + (f" ({undated} {t('undated', lang)})" if undated else "")
        return [render.notice(note), frame]


def remove_uploads(paths: list[Path]) -> None:
    """Uploaded files live in Gradio's temp folder: delete them (and their emptied folder) after ingest."""
    for p in paths:
        try:
            p.unlink(missing_ok=True)
            os.rmdir(p.parent)
        except OSError:
            pass  # folder not empty (another upload) or already gone
