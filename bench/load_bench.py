"""Load: N concurrent users asking through the HTTP API while an ingest runs through the app.

Seeds a scratch data dir with a few hundred real articles (XQuAD paragraphs, English and
Chinese), starts `newsroom serve` on a free loopback port, and lets ``--users`` threads ask
real questions (``--asks`` each, no think time) through POST /api/ask while one more client
uploads a third corpus through POST /api/ingest (when the server has that route). Then the
same again in LLM mode against the fixture OpenAI-compatible server (tests/llm_server.py)
answering every request after a fixed ``--llm-delay``. Reports errors by status and p50/p95
latency per phase; everything stays on 127.0.0.1 and stops by itself.

    python bench/load_bench.py                      # 20 users x 10 asks, both phases
    python bench/load_bench.py --users 20 --asks 5 --llm-delay 0.5 --json bench/out/load.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora" / "xquad"
sys.path.insert(0, str(ROOT / "tests"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Server:
    """`newsroom serve` in a subprocess on a free port, stopped on exit."""

    def __init__(self, data_dir: Path, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "w")
        cmd = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(data_dir)]
        self.proc = subprocess.Popen(cmd, env=env, cwd=data_dir.parent, stdout=self.log, stderr=subprocess.STDOUT)

    def __enter__(self) -> "Server":
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"newsroom serve exited ({self.proc.returncode}); see {self.log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("newsroom serve did not come up within 180 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def ingest_route(url: str) -> tuple[str, str] | None:
    """(content kind, field) of POST /api/ingest when the server has it: 'multipart' + file field, or 'json'."""
    spec = httpx.get(url + "/openapi.json", timeout=10).json()
    op = spec.get("paths", {}).get("/api/ingest", {}).get("post")
    if not op:
        return None
    content = op.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        schema = content["multipart/form-data"].get("schema", {})
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        for name, prop in schema.get("properties", {}).items():
            if "binary" in json.dumps(prop) or prop.get("contentMediaType"):
                return "multipart", name
        return "multipart", "files"
    return "json", "paths"


def run_ingest(url: str, route: tuple[str, str], corpus: Path, result: dict) -> None:
    started = time.perf_counter()
    try:
        if route[0] == "multipart":
            files = [(route[1], (corpus.name, corpus.read_bytes(), "application/x-ndjson"))]
            response = httpx.post(url + "/api/ingest", files=files, timeout=600)
        else:
            response = httpx.post(url + "/api/ingest", json={route[1]: [str(corpus)]}, timeout=600)
        result["status"] = response.status_code
        body = response.json() if "json" in response.headers.get("content-type", "") else {}
        result["report"] = {k: body.get(k) for k in ("ingested", "updated", "unchanged", "chunks") if isinstance(body, dict) and k in body}
        result["failed"] = len(body.get("failed", [])) if isinstance(body, dict) else None
    except httpx.HTTPError as exc:
        result["status"] = f"{type(exc).__name__}: {exc}"
    result["seconds"] = round(time.perf_counter() - started, 2)


def load(url: str, questions: list[str], users: int, asks: int, ingest_corpus: Path | None) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    start_gate = threading.Barrier(users + 1)

    def user(n: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            start_gate.wait()
            for i in range(asks):
                question = questions[(n * asks + i) % len(questions)]
                t0 = time.perf_counter()
                try:
                    r = client.post("/api/ask", json={"question": question})
                    ok = r.status_code == 200 and "answer" in r.json()
                    key = None if ok else f"HTTP {r.status_code}: {r.text[:80]}"
                except (httpx.HTTPError, ValueError) as exc:
                    key = type(exc).__name__
                elapsed = time.perf_counter() - t0
                with lock:
                    if key:
                        errors[key] = errors.get(key, 0) + 1
                    else:
                        latencies.append(elapsed)

    ingest: dict = {}
    route = ingest_route(url) if ingest_corpus else None
    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    start_gate.wait()
    ingest_thread = None
    if route:
        ingest_thread = threading.Thread(target=run_ingest, args=(url, route, ingest_corpus, ingest))
        ingest_thread.start()
    else:
        ingest["status"] = "skipped: the server has no POST /api/ingest"
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if ingest_thread:
        ingest_thread.join()
    return {
        "users": users, "asks_per_user": asks, "requests": users * asks, "ok": len(latencies),
        "errors": errors, "wall_s": round(wall, 1), "throughput_rps": round(len(latencies) / wall, 2),
        "p50_ms": round(1000 * percentile(latencies, 0.50)), "p95_ms": round(1000 * percentile(latencies, 0.95)),
        "max_ms": round(1000 * max(latencies)) if latencies else None,
        "mean_ms": round(1000 * statistics.fmean(latencies)) if latencies else None,
        "ingest_during_load": ingest,
    }


def grounded_reply(messages: list[dict]) -> str:
    """The fixture model's answer: source 1's first sentence, cited, so the citation check does real work."""
    user = messages[-1]["content"]
    m = re.search(r'<source n="1"[^>]*>\n(.*?)\n</source>', user, re.DOTALL)
    text = m.group(1) if m else ""
    first = re.split(r"(?<=[.!?。！？])\s*", text.strip(), maxsplit=1)[0][:400]
    return f"{first} [1]" if first else "The archive does not answer this question."


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--asks", type=int, default=10, help="questions per user per phase")
    p.add_argument("--llm-delay", type=float, default=0.5, help="seconds the fixture LLM waits before answering")
    p.add_argument("--corpus", type=Path, nargs="+", default=[CORPORA / "corpus.en.jsonl", CORPORA / "corpus.zh.jsonl"])
    p.add_argument("--questions", type=Path, nargs="+", default=[CORPORA / "questions.en.jsonl", CORPORA / "questions.zh.jsonl"])
    p.add_argument("--ingest-corpus", type=Path, nargs="+", default=[CORPORA / "corpus.es.jsonl", CORPORA / "corpus.de.jsonl"],
                   help="uploaded during the load, one per phase (new articles, so the ingest does real work)")
    p.add_argument("--embedders", default="use")
    p.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a new temporary one, removed)")
    p.add_argument("--phases", default="extractive,llm")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="newsroom-load-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSROOM_", "OPENAI_"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", DO_NOT_TRACK="1", SCARF_NO_ANALYTICS="1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", NEWSROOM_EMBEDDERS=args.embedders,
               NEWSROOM_RATE_PER_MINUTE="0")  # all users share 127.0.0.1: the per-client limit would measure itself
    questions = [q["question"] for path in args.questions for q in read_jsonl(path)]
    questions = questions[::max(1, len(questions) // 400)]
    results: dict = {"embedders": args.embedders, "cores": os.cpu_count()}
    try:
        data = work / "data"
        if not (data / "qdrant").exists():
            t0 = time.perf_counter()
            seed = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", *map(str, args.corpus), "--json",
                                   "--data-dir", str(data)], env=env, cwd=work, capture_output=True, text=True)
            if seed.returncode != 0:
                print(seed.stderr[-2000:], file=sys.stderr)
                return 1
            report = json.loads(seed.stdout)
            results["seed"] = {"articles": report["ingested"], "chunks": report["chunks"], "seconds": round(time.perf_counter() - t0, 1)}
            print(f"seeded {report['ingested']} articles ({report['chunks']} chunks)", flush=True)
        for n, phase in enumerate(args.phases.split(",")):
            phase_env = dict(env, NEWSROOM_ANSWER_MODE=phase)
            fixture = None
            if phase == "llm":
                from llm_server import ScriptedLLM

                fixture = ScriptedLLM(grounded_reply, delay_s=args.llm_delay, overlap_delays=True).__enter__()
                phase_env.update(NEWSROOM_LLM_BASE_URL=fixture.base_url, NEWSROOM_LLM_MODEL="fixture")
            upload = args.ingest_corpus[n % len(args.ingest_corpus)] if args.ingest_corpus else None
            try:
                with Server(data, phase_env, work / f"serve-{phase}.log") as server:
                    print(f"{phase}: {args.users} users x {args.asks} asks against {server.url}", flush=True)
                    t0 = time.perf_counter()  # the first question loads the models: timed apart
                    httpx.post(server.url + "/api/ask", json={"question": questions[-1]}, timeout=300).raise_for_status()
                    first_ms = round(1000 * (time.perf_counter() - t0))
                    results[phase] = load(server.url, questions, args.users, args.asks, upload)
                    results[phase]["first_ask_ms"] = first_ms
                    results[phase]["load_average_after"] = round(os.getloadavg()[0], 1)
                    if fixture is not None:
                        results[phase]["llm_delay_s"] = args.llm_delay
                        results[phase]["llm_calls"] = len(fixture.requests)
            finally:
                if fixture is not None:
                    fixture.__exit__(None, None, None)
            print(json.dumps(results[phase], ensure_ascii=False), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print("\n| phase | requests | errors | p50 ms | p95 ms | max ms | req/s | ingest during load |")
    print("|---|---|---|---|---|---|---|---|")
    for phase in args.phases.split(","):
        r = results[phase]
        ing = r["ingest_during_load"]
        ing_text = ing.get("status") if isinstance(ing.get("status"), str) else f"HTTP {ing.get('status')}, {ing.get('report')}, {ing.get('seconds')} s"
        print(f"| {phase} | {r['requests']} | {sum(r['errors'].values())} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | "
              f"{r['throughput_rps']} | {ing_text} |")
    return 1 if any(results[ph]["errors"] for ph in args.phases.split(",")) else 0


if __name__ == "__main__":
    sys.exit(main())
