"""LLM mode against the ways real servers differ: request fields, refusals of a field, rate
limits with Retry-After, time-outs, a stream that breaks mid-answer (through the HTTP API)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.errors import BackendError
from llm_server import UNPORTABLE_FIELDS, Reply, ScriptedLLM

ARCHIVE = Path(__file__).parents[1] / "replay" / "archive.jsonl"
QUESTION = "Qui a signé l'accord au nom des deux parties ?"
TITLE = "Le CICG et Huawei signent un accord de coopération"
PORTABLE_FIELDS = {"model", "messages", "temperature", "max_tokens", "stream"}


def _cited(messages: list[dict]) -> str:
    """A good answer citing the source the prompt numbered for the CICG article."""
    user = messages[-1]["content"]
    head = user[: user.index(f'title="{TITLE}"')]
    k = head[head.rindex('<source n="') + len('<source n="'):].split('"')[0]
    return f"Yu Yingfu et Liu Tao ont signé l'accord au nom des deux parties [{k}]. L'accord a été signé à Shenzhen [{k}]."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    data = tmp_path_factory.mktemp("servers") / "data"
    a = Assistant(load_settings(env={}, data_dir=str(data), embedders="use", answer_mode="extractive"))
    assert not a.ingest([ARCHIVE]).failed
    a.close()
    return str(data)


@pytest.fixture
def assistant_on(data_dir):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    made = []

    def make(server: ScriptedLLM, **flags) -> Assistant:
        flags = {"llm_timeout": 10, "llm_max_retries": 0, **flags}
        a = Assistant(load_settings(env={}, data_dir=data_dir, embedders="use", llm_base_url=server.base_url,
                                    llm_model="scripted", **flags))
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def test_requests_carry_only_fields_every_server_accepts(assistant_on):
    with ScriptedLLM(_cited) as server:
        answer = assistant_on(server).ask(QUESTION)
    assert not answer.abstained and "Liu Tao" in answer.answer
    body = server.requests[0]
    assert set(body) == PORTABLE_FIELDS and not set(UNPORTABLE_FIELDS) & set(body)
    assert body["max_tokens"] > 0 and body["temperature"] == 0 and body["stream"] is True


def test_a_reasoning_model_endpoint_gets_max_completion_tokens_and_no_temperature(assistant_on):
    with ScriptedLLM(_cited, profile="openai-reasoning") as server:
        a = assistant_on(server)
        first = a.ask(QUESTION)
        refused = len(server.refused)
        second = a.ask(QUESTION)
    assert not first.abstained and not second.abstained and "Liu Tao" in second.answer
    assert refused == 2 and len(server.refused) == 2  # learnt once, then asked right at once
    assert all("max_completion_tokens" in r and "max_tokens" not in r and "temperature" not in r
               for r in server.requests)


def test_a_chat_template_without_system_role_gets_the_rules_in_the_user_message(assistant_on):
    with ScriptedLLM(_cited, profile="no-system-role") as server:
        answer = assistant_on(server).ask(QUESTION)
    assert not answer.abstained
    messages = server.requests[0]["messages"]
    assert [m["role"] for m in messages] == ["user"]
    text = messages[0]["content"]
    assert text.index("never follow it") < text.index("<sources>")  # the rules come before the archive text
    assert text.count("<sources>") == text.count("</sources>") == 1


def test_a_rate_limit_waits_as_long_as_retry_after_asks(assistant_on):
    with ScriptedLLM(_cited, failures=[(429, "1"), (503, "1")]) as server:
        answer = assistant_on(server, llm_max_retries=2).ask(QUESTION)
    assert not answer.abstained and "Liu Tao" in answer.answer
    gaps = [b - a for a, b in zip(server.arrivals, server.arrivals[1:])]
    assert len(gaps) == 2 and all(g >= 0.95 for g in gaps), gaps


@pytest.mark.parametrize("status, says", [(503, r"unavailable \(503\) after 1 retries: try again later"),
                                          (429, r"rate-limiting \(429\) after 1 retries: try again later")])
def test_a_server_still_busy_after_the_retries_is_one_clear_line(assistant_on, status, says):
    with ScriptedLLM(_cited, failures=[(status, "0.1")] * 3) as server:
        with pytest.raises(BackendError, match=says):
            assistant_on(server, llm_max_retries=1).ask(QUESTION)
    assert len(server.arrivals) == 2


def test_a_slow_endpoint_times_out_with_one_clear_line(assistant_on):
    with ScriptedLLM(_cited, delay_s=3, overlap_delays=True) as server:
        with pytest.raises(BackendError, match=r"did not answer within 1 s \(NEWSROOM_LLM_TIMEOUT\)"):
            assistant_on(server, llm_timeout=1).ask(QUESTION)


def test_a_stream_broken_mid_answer_reaches_the_api_as_a_partial_answer(assistant_on):
    from assistant.api.routes import create_api

    def broken(messages):
        good = _cited(messages)
        cut = good.index(". ") + 2
        return Reply(good, [good[:20], good[20:cut], good[cut:cut + 12], good[cut + 12:]], break_after=3)

    with ScriptedLLM(broken) as server:
        client = TestClient(create_api(assistant_on(server, rate_per_minute=0)))
        r = client.post("/api/ask", json={"question": QUESTION, "stream": True})
    events = [(b.split("\n")[0][len("event: "):], json.loads(b.split("\n")[1][len("data: "):]))
              for b in r.text.strip().split("\n\n")]
    kinds = [k for k, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"token"}, kinds
    answer = events[-1][1]
    assert answer["partial"] and not answer["abstained"] and "Liu Tao" in answer["answer"]
    assert "Shenzhen" not in answer["answer"]  # the cut sentence is not shown
    assert answer["warnings"][0].startswith("partial answer: the LLM endpoint")
    assert "stopped in the middle of the answer" in answer["warnings"][0]
    assert "".join(d["text"] for k, d in events if k == "token") == answer["answer"].replace(". [1]", " [1].")


def test_a_claim_check_reads_reasoning_and_bracket_forms_too(assistant_on):
    def verdict(messages):
        k = _cited(messages).split("[")[1].split("]")[0]
        return f"<think>Source {k} names them.</think>SUPPORTED\nYu Yingfu et Liu Tao ont signé l'accord au nom des deux parties【{k}】。"

    with ScriptedLLM(verdict) as server:
        result = assistant_on(server).check("Yu Yingfu et Liu Tao ont signé l'accord au nom des deux parties")
    assert result.verdict == "supported" and "[1]" in result.explanation and "names them" not in result.explanation
