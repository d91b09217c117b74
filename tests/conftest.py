"""Shared fixtures. Tests run offline: any connection off the loopback fails loudly."""
from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SEED = CORPORA / "seed" / "article.jsonl" if (CORPORA / "seed").exists() else SAMPLES / "articles.jsonl"

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ConnectionRefusedError(f"test tried to reach {host}: tests must stay offline")
        except ValueError:
            if host not in ("localhost",):
                raise ConnectionRefusedError(f"test tried to reach {host}: tests must stay offline")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _offline():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


def start_app(env: dict[str, str], timeout: float = 180) -> tuple[subprocess.Popen, str]:
    """`newsroom serve` on a free loopback port, returned once /healthz answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode())
            if time.time() > deadline:
                proc.kill()
                raise RuntimeError("the app did not answer /healthz in time")
            time.sleep(0.3)


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
                if limit and len(rows) >= limit:
                    break
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def make_settings(tmp_path):
    from assistant.settings import load_settings

    def make(**flags):
        flags.setdefault("data_dir", str(tmp_path / "data"))
        flags.setdefault("embedders", "use")  # the default adds e5 (~10x slower ingest): tests that need it ask
        return load_settings(env={}, **flags)

    return make


@pytest.fixture
def assistant_factory(make_settings):
    from assistant.service import Assistant

    made = []

    def make(**flags):
        a = Assistant(make_settings(**flags))
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


@pytest.fixture(scope="session")
def xquad_store(tmp_path_factory):
    """XQuAD's English corpus (240 paragraphs) ingested once for the session, read-only."""
    from assistant.service import Assistant
    from assistant.settings import load_settings

    data = tmp_path_factory.mktemp("xquad") / "data"
    assistant = Assistant(load_settings(env={}, data_dir=str(data), embedders="use"))
    report = assistant.ingest([CORPORA / "xquad" / "corpus.en.jsonl", SEED])
    assert not report.failed
    yield assistant
    assistant.close()
