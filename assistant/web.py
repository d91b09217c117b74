"""The Gradio app: chat with cited sources beside it. Thin layer over Assistant."""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402

from .answer import Answer  # noqa: E402
from .errors import NewsroomError  # noqa: E402
from .render import answer_text, sources_html  # noqa: E402
from .service import Assistant, Filters  # noqa: E402

LANGUAGES = ["ar", "de", "en", "es", "fr", "ru", "zh"]
CSS = """
.nr-source {border-left: 3px solid #888; padding: 4px 10px; margin: 8px 0;}
.nr-meta {color: #555; font-size: 0.9em;}
.nr-passage {margin-top: 4px; white-space: normal;}
.nr-passage mark {background: #ffe58a;}
"""


def create_app(assistant: Assistant) -> gr.Blocks:
    with gr.Blocks(title="Newsroom assistant") as app:
        gr.Markdown("## Newsroom assistant\nAsk the archive in any language. Every sentence cites the passage it rests on.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Answer", height=460, render_markdown=False, sanitize_html=True,
                                  elem_id="nr-chat", feedback_options=None)
                question = gr.Textbox(label="Question", placeholder="Qui a signé l'accord ?", elem_id="nr-question",
                                      lines=1, max_length=assistant.settings.max_question_chars)
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="nr-ask")
                    clear = gr.Button("New conversation")
            with gr.Column(scale=2):
                with gr.Accordion("Filters", open=False):
                    langs = gr.CheckboxGroup(LANGUAGES, label="Languages (none = all)", elem_id="nr-langs")
                    since = gr.Textbox(label="Published since (YYYY-MM-DD)")
                    until = gr.Textbox(label="Published until (YYYY-MM-DD)")
                sources = gr.HTML('<p class="nr-empty">Sources appear here.</p>', elem_id="nr-sources")
        state = gr.State([])  # (question, answer) history of this browser session only

        def respond(q, history_msgs, history, lang_sel, since_v, until_v):
            q = (q or "").strip()
            if not q:
                yield history_msgs, history, gr.update(), ""
                return
            msgs = list(history_msgs or []) + [{"role": "user", "content": q}, {"role": "assistant", "content": ""}]
            filters = Filters(lang=lang_sel or None, since=since_v or None, until=until_v or None)
            try:
                text = ""
                for event in assistant.ask_stream(q, filters, history=list(history or [])):
                    if isinstance(event, Answer):
                        msgs[-1]["content"] = answer_text(event)
                        yield msgs, list(history or []) + [(q, event.answer)], sources_html(event), ""
                    else:
                        text += event
                        msgs[-1]["content"] = text
                        yield msgs, history, gr.update(), ""
            except NewsroomError as exc:
                msgs[-1]["content"] = f"Error: {exc}"
                yield msgs, history, gr.update(), q

        inputs = [question, chat, state, langs, since, until]
        outputs = [chat, state, sources, question]
        ask.click(respond, inputs, outputs, api_visibility="private")
        question.submit(respond, inputs, outputs, api_visibility="private")
        clear.click(lambda: ([], [], '<p class="nr-empty">Sources appear here.</p>'), None, [chat, state, sources],
                    api_visibility="private")
    return app
