"""The Ask tab: chat that streams, filters and a mode switch beside it, sources panel, export."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..answering import export
from ..answering.answer import Answer
from ..errors import NewsroomError
from ..inputs import recent_turns
from ..retrieval.passage import Passage
from ..service import Assistant, Filters
from . import render
from .i18n import t

MODES = [("mode_answer", "answer"), ("mode_sources", "sources"), ("mode_check", "check"), ("mode_quote", "quote")]

# Runs once when the sources panel mounts: a [n] in any answer opens that turn's source n;
# copy buttons copy their hidden textarea. Nothing here reads archive text as HTML.
PAGE_JS = """
if (!window.nrInstalled) {
  window.nrInstalled = true;
  document.addEventListener('click', function (ev) {
    var el = ev.target;
    if (!el || !el.closest) return;
    var cite = el.closest('a.nr-cite');
    if (cite) {
      ev.preventDefault();
      ev.stopPropagation();
      var card = document.getElementById(cite.getAttribute('href').slice(1));
      if (!card) return;
      var turn = card.closest('.nr-turn');
      document.querySelectorAll('#nr-sources .nr-turn').forEach(function (s) { s.hidden = (s !== turn); });
      turn.querySelectorAll('details.nr-source[id]').forEach(function (d) {
        d.open = (d === card);
        d.classList.toggle('nr-current', d === card);
      });
      card.scrollIntoView({block: 'nearest'});
      return;
    }
    var copy = el.closest('button.nr-copy');
    if (copy) {
      var area = document.getElementById(copy.getAttribute('data-copy'));
      if (!area) return;
      var done = function () { copy.textContent = copy.getAttribute('data-done'); };
      var fallback = function () {
        area.hidden = false; area.select(); document.execCommand('copy'); area.hidden = true; done();
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(area.value).then(done, fallback);
      } else {
        fallback();
      }
    }
  }, true);
}
"""

Access = Callable[[gr.Request | None], "tuple[str, ...] | None"]


@dataclass
class Turn:
    """What one question produced: the chat HTML, the panel HTML, the export (Answer mode only)."""

    message: str
    panel: str
    export: str = ""
    answer_text: str | None = None  # Answer mode: kept for follow-up questions


class ChatHandlers:
    def __init__(self, assistant: Assistant, access: Access):
        self.assistant = assistant
        self.access = access

    # -- layout ----------------------------------------------------------------
    def build(self, labels: Any, ui_lang: gr.Dropdown) -> ChatHandlers:
        s = self.assistant.settings
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                self.chat = gr.Chatbot(label=t("chat"), height=460, render_markdown=False, sanitize_html=True,
                                       latex_delimiters=[], elem_id="nr-chat", feedback_options=None,
                                       allow_tags=False, buttons=[])
                labels.add(self.chat, "label", "chat")
                self.question = gr.Textbox(label=t("question"), placeholder=t("question_ph"), elem_id="nr-question",
                                           lines=1, max_length=s.max_question_chars)
                labels.add(self.question, "placeholder", ("question", "question_ph"))
                with gr.Row():
                    ask = labels.add(gr.Button(t("ask"), variant="primary", elem_id="nr-ask"), "value", "ask")
                    clear = labels.add(gr.Button(t("new"), elem_id="nr-new"), "value", "new")
                with gr.Accordion(t("export"), open=False, elem_id="nr-export-box") as export_box:
                    self.export = gr.HTML(render.export_empty("en"), elem_id="nr-export")
                labels.add(export_box, "label", "export")
            with gr.Column(scale=2, min_width=300):
                self.mode = gr.Radio([(t(k), v) for k, v in MODES], value="answer", label=t("mode"), elem_id="nr-mode")
                labels.add(self.mode, "label", "mode")
                labels.add(self.mode, "choices", MODES)
                with gr.Accordion(t("filters"), open=False, elem_id="nr-filters") as filters_box:
                    self.langs = gr.CheckboxGroup([], label=t("langs"), elem_id="nr-langs")
                    self.outlets = gr.Dropdown([], multiselect=True, label=t("outlets"), elem_id="nr-outlets")
                    with gr.Row():
                        self.since = gr.Textbox(label=t("since"), elem_id="nr-since", max_length=32)
                        self.until = gr.Textbox(label=t("until"), elem_id="nr-until", max_length=32)
                labels.add(filters_box, "label", "filters")
                for comp, key in ((self.langs, "langs"), (self.outlets, "outlets"), (self.since, "since"),
                                  (self.until, "until")):
                    labels.add(comp, "label", key)
                self.sources = gr.HTML(render.empty_panel("en", loaded=False), elem_id="nr-sources", js_on_load=PAGE_JS)
        self.history = gr.State([])  # (question, answer text) pairs: follow-ups in Answer mode
        self.panels = gr.State([])  # one panel per turn, so older [n] still open their own sources

        inputs = [self.question, self.chat, self.history, self.panels, self.mode, self.langs, self.outlets,
                  self.since, self.until, ui_lang]
        outputs = [self.chat, self.history, self.panels, self.sources, self.export, self.question]
        ask.click(self.respond, inputs, outputs, api_visibility="private")
        self.question.submit(self.respond, inputs, outputs, api_visibility="private")
        reset = [self.chat, self.history, self.panels, self.sources, self.export]
        clear.click(_reset, [ui_lang], reset, api_visibility="private")
        self.chat.clear(_reset, [ui_lang], reset, api_visibility="private")  # the chat's own bin button
        return self

    @property
    def load_outputs(self) -> list[Any]:
        return [self.langs, self.outlets, self.sources]

    def on_load(self, facets: dict[str, Any], lang: str) -> list[Any]:
        """Filter choices from what this user may see; the empty panel in the browser's language."""
        return [gr.update(choices=sorted(facets.get("languages") or {})),
                gr.update(choices=sorted(facets.get("sources") or {})), render.empty_panel(lang)]

    @property
    def relabel_outputs(self) -> list[Any]:
        return [self.sources, self.export]

    def relabel(self, lang: str, panels: list[str]) -> list[Any]:
        if panels:
            return [gr.update(), gr.update()]
        return [render.empty_panel(lang), render.export_empty(lang)]

    # -- the one event ---------------------------------------------------------
    def respond(self, q: str, msgs: list, history: list, panels: list, mode: str, langs: list[str] | None,
                outlets: list[str] | None, since: str, until: str, lang: str,
                request: gr.Request) -> Iterator[tuple]:
        q = (q or "").strip()
        if not q:
            yield msgs, history, panels, gr.update(), gr.update(), ""
            return
        msgs = list(msgs or []) + [{"role": "user", "content": render.esc(q)}, {"role": "assistant", "content": "…"}]
        yield msgs, history, panels, gr.update(), gr.update(), ""
        filters = Filters(lang=langs or None, source=outlets or None, since=(since or "").strip() or None,
                          until=(until or "").strip() or None)
        collections = self.access(request)
        turn = len(panels or [])
        try:
            for event in self._events(mode, q, filters, collections, list(history or []), turn, lang):
                if isinstance(event, str):  # streamed text
                    msgs[-1]["content"] = render.streaming_html(event)
                    yield msgs, history, panels, gr.update(), gr.update(), ""
                    continue
                msgs[-1]["content"] = event.message
                new_panels = list(panels or []) + [event.panel]
                new_history = list(history or []) + ([(q, event.answer_text)] if event.answer_text is not None else [])
                export_html = event.export or render.export_empty(lang)
                yield msgs, new_history, new_panels, render.stack_panels(new_panels), export_html, ""
        except NewsroomError as exc:
            msgs[-1]["content"] = f"{render.esc(t('error', lang))}: {render.esc(str(exc))}"
            yield msgs, history, panels, gr.update(), gr.update(), q

    def _events(self, mode: str, q: str, filters: Filters, collections: Any, history: list, turn: int,
                lang: str) -> Iterator[str | Turn]:
        if mode == "sources":
            return self._sources(q, filters, collections, turn, lang)
        if mode == "check":
            return self._check(q, filters, collections, turn, lang)
        if mode == "quote":
            return self._quote(q, filters, collections, turn, lang)
        return self._answer(q, filters, collections, history, turn, lang)

    # -- modes -----------------------------------------------------------------
    def _answer(self, q: str, filters: Filters, collections: Any, history: list, turn: int,
                lang: str) -> Iterator[str | Turn]:
        text = ""
        recent = recent_turns([tuple(h) for h in history], self.assistant.settings)
        for event in self.assistant.ask_stream(q, filters, history=recent, collections=collections):
            if isinstance(event, Answer):
                yield answer_turn(event, turn, lang)
            else:
                text += event
                yield text

    def _sources(self, q: str, filters: Filters, collections: Any, turn: int, lang: str) -> Iterator[Turn]:
        passages = self.assistant.search(q, filters, collections=collections)
        items = [(p, "") for p in passages]
        yield Turn(render.sources_list_html(passages, turn, lang), passages_panel(passages, turn, lang),
                   exports(q, "", items, lang))

    def _check(self, q: str, filters: Filters, collections: Any, turn: int, lang: str) -> Iterator[Turn]:
        result = self.assistant.check(q, filters, collections=collections)
        cards = [render.card_from_passage(e.passage, i, e.quote_start - e.passage.start,
                                          e.quote_end - e.passage.start, e.stance)
                 for i, e in enumerate(result.evidence, 1)]
        counts = {k: len(v) for k, v in result.by_stance().items()}
        summary = " · ".join(f"{t(k, lang)}: {n}" for k, n in counts.items())
        if result.verdict:
            summary = f"{t('verdict', lang)}: {t(result.verdict, lang)}. {result.explanation} {summary}"
        yield Turn(render.check_html(result.to_dict(), turn, lang),
                   render.panel_html(turn, cards, [], lang, heading="evidence"),
                   exports(q, summary, [(e.passage, e.quote) for e in result.evidence], lang))

    def _quote(self, q: str, filters: Filters, collections: Any, turn: int, lang: str) -> Iterator[Turn]:
        result = self.assistant.quote(q, filters, collections=collections)
        cards = [render.card_from_passage(h.passage, i, h.match_start - h.passage.start,
                                          h.match_end - h.passage.start,
                                          f"{t('said_by', lang)} {h.speaker}" if h.speaker else "")
                 for i, h in enumerate(result.hits, 1)]
        yield Turn(render.quote_html(result.to_dict(), turn, lang),
                   render.panel_html(turn, cards, [], lang, heading="quote_hits"),
                   exports(q, f"{t('quote_places', lang)}: {len(result.hits)}",
                           [(h.passage, h.quote) for h in result.hits], lang))


def _reset(lang: str) -> tuple:
    return [], [], [], render.empty_panel(lang), render.export_empty(lang)


def answer_turn(answer: Answer, turn: int, lang: str) -> Turn:
    cards = [render.card_from_citation(c) for c in answer.citations]
    cited = {c.chunk_id for c in answer.citations}
    others = [render.card_from_passage(p) for p in answer.sources if p.chunk_id not in cited]
    panel = render.panel_html(turn, cards, others, lang, others_key="closest" if answer.abstained else "also_retrieved",
                              notes=render.warnings_html(answer.warnings, lang))
    exported = ""
    if answer.citations:
        data = answer.to_dict()
        exported = render.export_html(export.to_markdown(data), export.to_csv(data), lang)
    return Turn(render.answer_html(answer, turn, lang), panel, exported, answer.answer)


def exports(question: str, summary: str, items: list[tuple[Passage, str]], lang: str) -> str:
    """Search, check and quote results exported like an answer: one numbered source per passage."""
    if not items:
        return ""
    citations = [{"n": i, "title": p.title, "source": p.source, "published": p.published, "url": p.url,
                  "quote": quote, "text": p.text} for i, (p, quote) in enumerate(items, 1)]
    data = {"question": question, "answer": summary, "citations": citations}
    return render.export_html(export.to_markdown(data), export.to_csv(data), lang)


def passages_panel(passages: list[Passage], turn: int, lang: str) -> str:
    cards = [render.card_from_passage(p, i) for i, p in enumerate(passages, 1)]
    return render.panel_html(turn, cards, [], lang, heading="found_passages")
