"""The app in a real browser: Playwright driving Debian's chromium, headless."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import SEED

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("browser") / "data"
    env = {**os.environ, "NEWSROOM_DATA_DIR": str(data), "GRADIO_ANALYTICS_ENABLED": "False"}
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(SEED)], env=env, check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode())
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: scripts/test.sh installs it with apt-get")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def test_ask_and_see_the_cited_passage(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_url + "/", wait_until="domcontentloaded")
    box = page.locator("#nr-question textarea")
    box.wait_for(timeout=30_000)
    box.fill("Qui a signé l'accord au nom des deux parties ?")
    page.locator("#nr-ask").click()
    page.locator("#nr-sources .nr-source").first.wait_for(timeout=60_000)
    chat = page.locator("#nr-chat").inner_text()
    assert "Yu Yingfu" in chat and "[1]" in chat
    source = page.locator("#nr-sources .nr-source").first
    assert "Le CICG et Huawei signent un accord de coopération" in source.inner_text()
    assert "Liu Tao" in source.locator("mark").inner_text()  # the cited sentence is highlighted
    os.makedirs("/tmp/newsroom-screens", exist_ok=True)
    page.screenshot(path="/tmp/newsroom-screens/main.png", full_page=True)
    page.close()
