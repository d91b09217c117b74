"""`newsroom llm-check` against fixture servers that behave as real models do."""
from __future__ import annotations

import json

import pytest

from assistant.cli.main import main
from llm_server import Reply, ScriptedLLM


def _answering(answer: str, reasoning: list[str] | None = None):
    def script(messages):
        if "single word OK" in messages[-1]["content"]:
            return "OK"
        return Reply(answer, reasoning=reasoning or [])
    return script


@pytest.fixture
def check(monkeypatch, tmp_path, capsys):
    def run(server: ScriptedLLM | None, *flags: str, model: str = "scripted") -> tuple[int, str]:
        for key in list(__import__("os").environ):
            if key.startswith(("NEWSROOM_", "OPENAI_")):
                monkeypatch.delenv(key)
        monkeypatch.setenv("NEWSROOM_DATA_DIR", str(tmp_path / "data"))
        if server is not None:
            monkeypatch.setenv("NEWSROOM_LLM_BASE_URL", server.base_url)
            monkeypatch.setenv("NEWSROOM_LLM_MODEL", model)
            monkeypatch.setenv("NEWSROOM_LLM_MAX_RETRIES", "0")
        code = main(["llm-check", *flags])
        out = capsys.readouterr()
        return code, out.out + out.err
    return run


def test_a_model_that_cites_as_asked_is_reported_usable(check):
    with ScriptedLLM(_answering("The Portmere ferry timetable changes on 5 May [1].")) as server:
        code, out = check(server)
    assert code == 0 and "verdict: usable for LLM mode" in out
    assert "ok    models" in out and "'scripted' is listed" in out
    assert "cites as [1], as asked" in out and "streaming" in out
    assert "the standard request" in out


def test_a_thinking_model_citing_in_other_brackets_is_usable_with_advice(check):
    with ScriptedLLM(_answering("<think>Source 1 says 5 May.</think>The timetable changes on 5 May【1】.")) as server:
        code, out = check(server, "--json")
    report = json.loads(out)
    assert code == 0 and report["usable"]
    probes = {p["name"]: p for p in report["probes"]}
    assert probes["reasoning"]["status"] == "warn" and "reasoning parser" in probes["reasoning"]["advice"]
    assert probes["citations"]["status"] == "ok" and "【1】" in probes["citations"]["detail"]


def test_a_model_that_never_cites_fails_with_what_to_do(check):
    with ScriptedLLM(_answering("The timetable changes on 5 May."), models=["other-model"]) as server:
        code, out = check(server)
    assert code == 4 and "not usable" in out
    assert "'scripted' is not among the 1 listed (other-model)" in out
    assert "no citation the app can read" in out and "larger instruct model" in out


def test_a_reasoning_field_and_an_adapted_request_are_reported(check):
    with ScriptedLLM(_answering("It changes on 5 May [1].", reasoning=["The source says 5 May."]),
                     profile="openai-reasoning") as server:
        code, out = check(server)
    assert code == 0 and "separate reasoning field" in out and "adapted: max_completion_tokens, no temperature" in out


def test_no_endpoint_or_a_dead_one_is_one_clear_line(check):
    code, out = check(None)
    assert code == 2 and out.strip() == "newsroom: no LLM endpoint is configured: set NEWSROOM_LLM_BASE_URL (and NEWSROOM_LLM_MODEL)"
    server = ScriptedLLM(lambda m: "")
    server.port = 9  # nothing listens there
    code, out = check(server)
    assert code == 4 and "fail  completion  cannot reach the LLM endpoint http://127.0.0.1:9/v1" in out
