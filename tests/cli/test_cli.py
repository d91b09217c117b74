"""The CLI contract other tools rely on: verbs, flags, JSON shapes, exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import SEED


def newsroom(data_dir, *args, check=True):
    env = {**os.environ, "NEWSROOM_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, env=env, timeout=240)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_ingest_search_ask_status_json(tmp_path):
    data = tmp_path / "data"
    report = json.loads(newsroom(data, "ingest", str(SEED), "--json").stdout)
    assert set(report) >= {"ingested", "unchanged", "updated", "failed", "chunks"} and report["ingested"] == 1
    again = json.loads(newsroom(data, "ingest", str(SEED), "--json").stdout)
    assert again["unchanged"] == 1 and again["chunks"] == 0

    results = json.loads(newsroom(data, "search", "Huawei Cloud", "--k", "3", "--lang", "fr", "--json").stdout)["results"]
    assert results and len(results) <= 3
    assert set(results[0]) == {"article_id", "chunk_id", "title", "source", "url", "published", "lang", "text", "start", "end", "score",
                               "duplicates"}

    answer = json.loads(newsroom(data, "ask", "Qui a signé l'accord au nom des deux parties ?", "--json").stdout)
    assert {"question", "answer", "mode", "abstained", "citations"} <= set(answer)
    assert answer["mode"] == "extractive" and answer["abstained"] is False
    assert {"n", "article_id", "chunk_id", "title", "source", "url", "published", "lang", "text", "start", "end"} <= set(answer["citations"][0])
    assert "Yu Yingfu" in answer["answer"] and "Liu Tao" in answer["answer"]

    status = json.loads(newsroom(data, "status", "--json").stdout)
    assert status["articles"] == 1 and status["chunks"] == report["chunks"] and status["languages"] == {"fr": report["chunks"]}
    assert status["embedders"] == ["use", "e5"]  # the default


def test_errors_are_one_line_with_a_nonzero_exit(tmp_path):
    proc = newsroom(tmp_path / "d", "search", "x", "--since", "not a date", check=False)
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "since" in proc.stderr
    proc = newsroom(tmp_path / "d", "ingest", str(tmp_path / "nope.jsonl"), "--strict", check=False)
    assert proc.returncode == 1 and "no such file" in proc.stdout
    env_bad = {**os.environ, "NEWSROOM_DATA_DIR": str(tmp_path / "d"), "NEWSROOM_ANSWER_MODE": "poetry"}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "status"], capture_output=True, text=True, env=env_bad)
    assert proc.returncode == 2 and "NEWSROOM_ANSWER_MODE" in proc.stderr
