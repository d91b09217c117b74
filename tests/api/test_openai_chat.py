"""The OpenAI-compatible chat endpoint, driven by the `openai` client against a running app with logins."""
from __future__ import annotations

import json

import httpx
import openai
import pytest

from assistant.api.bodies import Message
from assistant.api.openai_chat import conversation
from conftest import start_app
from edge_world import APOLLO, EMBARGOED, PASSWORDS, RESTRICTED, RESTRICTED_ID, build_world, leaks


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("chat"))
    proc, url = start_app(world.env())
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def client(url: str, name: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=f"{name}:{PASSWORDS[name]}", max_retries=0, timeout=120)


def test_models_need_a_login_bearer_or_basic(app_url):
    with pytest.raises(openai.AuthenticationError, match="Bearer"):
        openai.OpenAI(base_url=f"{app_url}/v1", api_key="alice:wrong", max_retries=0).models.list()
    ids = [m.id for m in client(app_url, "alice").models.list()]
    assert ids == ["newsroom", "newsroom-sources", "newsroom-check", "newsroom-quote"]
    r = httpx.get(f"{app_url}/v1/models", auth=("alice", PASSWORDS["alice"]))
    assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == ids


def test_answer_with_sources_plain_and_streamed(app_url):
    chat = client(app_url, "editor")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": APOLLO}]
    plain = chat.chat.completions.create(model="newsroom", messages=messages)
    text = plain.choices[0].message.content
    structured = plain.model_extra["newsroom"]
    assert "Grissom" in text and not structured["abstained"]
    assert structured["citations"][0]["article_id"] == RESTRICTED_ID
    assert "\n1. " in text and "Secret Desk Wire" in text.split("\n1. ", 1)[1]  # the numbered source: outlet
    pieces, last = [], None
    for chunk in chat.chat.completions.create(model="newsroom", messages=messages, stream=True):
        pieces.append(chunk.choices[0].delta.content or "")
        last = chunk
    assert "".join(pieces) == text
    assert last.choices[0].finish_reason == "stop" and last.model_extra["newsroom"]["citations"] == structured["citations"]


def test_abstention_says_why(app_url):
    reply = client(app_url, "editor").chat.completions.create(
        model="newsroom", messages=[{"role": "user", "content": "What is the price of rice in Jakarta markets today?"}])
    assert reply.model_extra["newsroom"]["abstained"]
    why = reply.model_extra["newsroom"]["why_abstained"]
    assert why and reply.choices[0].message.content.startswith("The archive does not answer this question.")
    assert "Closest sources" in reply.choices[0].message.content


@pytest.mark.parametrize("model", ["newsroom", "newsroom-sources", "newsroom-check", "newsroom-quote"])
def test_a_user_without_the_desk_never_sees_it(app_url, model):
    chat = client(app_url, "alice")
    for words, extra in ((APOLLO, {}), ("Grissom, White, and Chaffee", {}),
                         (APOLLO, {"newsroom": {"collection": ["investigations"]}}),
                         ("Who discovered oxygen first?", {})):
        plain = chat.chat.completions.create(model=model, messages=[{"role": "user", "content": words}], extra_body=extra)
        body = plain.model_dump_json()
        streamed = "".join(c.model_dump_json() for c in chat.chat.completions.create(
            model=model, messages=[{"role": "user", "content": words}], extra_body=extra, stream=True))
        for text in (body, streamed):
            assert not leaks(text, RESTRICTED + EMBARGOED, (words,)), (model, words, text[:300])


def test_the_editor_sees_the_desk_in_every_mode(app_url):
    """The control: the same calls reach the restricted article for someone granted it."""
    chat = client(app_url, "editor")
    for model, words in (("newsroom-sources", APOLLO), ("newsroom-check", "Grissom, White and Chaffee named their flight Apollo 1"),
                         ("newsroom-quote", "Grissom, White, and Chaffee")):
        reply = chat.chat.completions.create(model=model, messages=[{"role": "user", "content": words}])
        assert "Secret Desk Wire" in reply.choices[0].message.content, model
        assert RESTRICTED_ID in json.dumps(reply.model_extra["newsroom"]), model


def test_bad_requests_are_one_line_errors(app_url):
    chat = client(app_url, "alice")
    with pytest.raises(openai.BadRequestError, match="newsroom-sources"):
        chat.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": APOLLO}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        chat.chat.completions.create(model="newsroom", messages=[{"role": "assistant", "content": "Hello"}])
    with pytest.raises(openai.BadRequestError, match="empty"):
        chat.chat.completions.create(model="newsroom", messages=[{"role": "user", "content": "  "}], stream=True)


def test_messages_become_the_question_and_its_latest_turns(make_settings):
    settings = make_settings(max_history_turns=2)
    msgs = [Message(role="system", content="rules"), Message(role="user", content="Who named Apollo 1?"),
            Message(role="assistant", content="Grissom, White and Chaffee [1]"), Message(role="user", content="Why?"),
            Message(role="assistant", content="A motivational focus [1]"), Message(role="user", content="And then?"),
            Message(role="assistant", content="A fire [1]"),
            Message(role="user", content=[{"type": "text", "text": "When?"}, {"type": "image_url", "image_url": {}}])]
    assert conversation(msgs, settings) == ("When?", [("Why?", "A motivational focus [1]"), ("And then?", "A fire [1]")])
