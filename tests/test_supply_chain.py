"""No telemetry leaves the machine, whatever the caller's environment; the audited pin set is complete.

unstructured reports usage to Scarf unless DO_NOT_TRACK or SCARF_NO_ANALYTICS is set, and
Gradio sends analytics unless GRADIO_ANALYTICS_ENABLED=False: the package must turn both off
itself. The check runs ingest (Markdown and HTML go through unstructured), ask, and the served
app in a subprocess whose environment has none of those variables and whose sockets are
guarded: any name lookup or connection off the loopback is recorded and refused.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from readers_helpers import EN_BODY, FR_BODY, NEWS_HTML

ROOT = Path(__file__).resolve().parents[1]
TELEMETRY_VARS = ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                  "HF_HUB_DISABLE_TELEMETRY", "UNSTRUCTURED_DISABLE_NOTICE")

GUARDED_RUN = r"""
import ipaddress, json, socket, sys, time
from pathlib import Path
attempts = []
def _local(host):
    if host in (None, "", "localhost") or (isinstance(host, str) and host.startswith("/")):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False
_getaddrinfo, _connect = socket.getaddrinfo, socket.socket.connect
def getaddrinfo(host, *a, **kw):
    if not _local(host if not isinstance(host, bytes) else host.decode()):
        attempts.append(f"lookup {host}")
        raise socket.gaierror(f"name lookup refused by the test guard: {host}")
    return _getaddrinfo(host, *a, **kw)
def connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if not _local(host):
        attempts.append(f"connect {address!r}")
        raise ConnectionRefusedError(f"connection refused by the test guard: {address!r}")
    return _connect(self, address)
socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect

out, folder, data = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
try:
    from assistant.service import Assistant
    from assistant.settings import load_settings
    settings = load_settings(data_dir=data, embedders="minilm", answer_mode="extractive")
    a = Assistant(settings)
    report = a.ingest([folder])
    answer = a.ask("How much did the council approve for the harbour renovation?")
    a.close()
    from fastapi.testclient import TestClient
    from assistant.api.server import create_server
    app, served = create_server(settings)
    with TestClient(app) as client:
        pages = [client.get("/").status_code, client.get("/healthz").status_code]
    served.close()
    import unstructured, gradio  # both really loaded: their telemetry had its chance
    from unstructured.utils import _telemetry_opt_out
    from gradio.analytics import analytics_enabled
    time.sleep(1.0)  # analytics threads post in the background
    result = {"failed": report.failed, "ingested": report.ingested, "abstained": answer.abstained, "pages": pages,
              "loaded": ["unstructured" in sys.modules, "gradio" in sys.modules],
              "opted_out": [_telemetry_opt_out(), not analytics_enabled()]}
finally:
    result = locals().get("result", {})
    result["attempts"] = attempts
    Path(out).write_text(json.dumps(result))
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ingest_ask_and_serve_send_nothing_off_the_machine(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "story.md").write_text(f"# Harbour budget\n\n{EN_BODY}\n\n- first point\n- second point\n", encoding="utf-8")
    (folder / "page.html").write_text(NEWS_HTML, encoding="utf-8")
    # A page trafilatura finds nothing in: the unstructured fallback partitions it.
    (folder / "fallback.html").write_text(f"<html><body><table><tr><td>{FR_BODY}</td></tr></table></body></html>", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_VARS and not k.startswith("NEWSROOM_")}
    env["NEWSROOM_INGEST_WORKERS"] = "0"  # parsing in this process, where the guard is
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, "-c", GUARDED_RUN, str(out), str(folder), str(tmp_path / "data")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=280)
    result = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert result["attempts"] == [], result["attempts"]
    assert result["loaded"] == [True, True]
    # The package itself opted out (the environment it was started with had no such variable).
    assert result["opted_out"] == [True, True]
    assert result["failed"] == [] and result["ingested"] == 3 and not result["abstained"]
    assert result["pages"] == [200, 200]


def test_every_dependency_is_pinned_so_the_audit_sees_the_real_set():
    """scripts/test.sh audits constraints.txt with --no-deps: that is the whole set only if every line is name==version."""
    lines = [ln.strip() for ln in (ROOT / "constraints.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[\w,]+\])?==[\w.+!-]+", ln) for ln in lines), [
        ln for ln in lines if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.+!-]+", ln)]
    pinned = {re.split(r"[=\[]", ln, maxsplit=1)[0].lower().replace("_", "-") for ln in lines}
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in declared}
    assert names <= pinned, sorted(names - pinned)
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "pip-audit" in script and "constraints.txt" in script
