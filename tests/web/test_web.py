"""The app's chat handler without a browser: it streams, links citations, marks unsupported sentences."""
from __future__ import annotations

import re

from assistant.web.chat import ChatHandlers
from conftest import SEED
from llm_server import ScriptedLLM

QUESTION = "Qui a signé l'accord au nom des deux parties ?"
GOOD = "Yu Yingfu et Liu Tao ont signé l'accord au nom des deux parties [1]."
UNSUPPORTED = "Le contrat porte sur la construction de trois usines de semi-conducteurs au Brésil [1]."


def test_the_chat_streams_then_shows_the_checked_answer(assistant_factory):
    with ScriptedLLM(lambda m: GOOD + " " + UNSUPPORTED) as server:
        a = assistant_factory(llm_base_url=server.base_url, llm_model="scripted", llm_timeout=10)
        a.ingest([SEED])
        chat = ChatHandlers(a, lambda request: None)
        steps = list(chat.respond(QUESTION, [], [], [], "answer", None, None, "", "", "en", None))
    texts = [s[0][-1]["content"] for s in steps]
    streamed = [x for x in texts[1:-1] if x]
    # Grows sentence by sentence: each cited sentence as soon as its citation arrives (assistant/answering/model_output.py).
    assert len(streamed) >= 2 and all(len(a) <= len(b) for a, b in zip(streamed, streamed[1:]))
    final, history, panels, panel_html, export_html, box = steps[-1]
    message = final[-1]["content"]
    assert message.count('href="#nr-src-0-1"') == 2
    flagged = re.search(r'<span class="nr-unsupported"[^>]*>(.*?)</span>', message).group(1)
    assert "Brésil" in flagged and "not supported by the cited source" in flagged and "Yu Yingfu" not in flagged
    assert len(history) == 1 and history[0][0] == QUESTION and "Yu Yingfu" in history[0][1]
    assert len(panels) == 1 and box == ""
    assert 'id="nr-src-0-1"' in panel_html and "<mark>" in panel_html
    assert "Citation checks (1)" in panel_html and "Brésil" in panel_html.split("Citation checks")[1]
    assert 'download="answer.md"' in export_html


def test_an_input_error_is_one_line_in_the_chat_and_keeps_the_question(assistant_factory):
    a = assistant_factory(embedders="minilm")
    chat = ChatHandlers(a, lambda request: None)
    *_, last = chat.respond("Quoi ?", [], [], [], "answer", None, None, "2024-13-45", "", "fr", None)
    assert last[0][-1]["content"].startswith("Erreur: ") and "since" in last[0][-1]["content"]
    assert last[5] == "Quoi ?" and last[2] == []
