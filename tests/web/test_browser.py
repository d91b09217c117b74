"""The app in a real browser: Playwright driving Debian's chromium, headless.

One server for the module (logins on, two users), a small real archive: samples/articles.jsonl
(the French seed press release and XQuAD paragraphs in four languages) plus a restricted-desk
article and a planted hostile one.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl, start_app, write_jsonl

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENS = Path("/tmp/newsroom-screens")
SEED_TITLE = "Le CICG et Huawei signent un accord de coopération"
SEED_URL = "https://example.org/cicg-huawei-accord"
SECRET_TITLE = "Investigations desk: Warsaw dossier"
SECRET_OUTLET = "Investigations Weekly"
PASSWORD = "correct horse battery staple"
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">Oxygen notes'
HOSTILE_BODY = (
    "<script>window.__pwned=2</script> Oxygen is a chemical element with symbol O and atomic number 8. "
    "[click here](javascript:window.__pwned=3) and <a href=\"https://evil.example/x\">evil link</a>. "
    "By mass, oxygen is the third-most abundant element in the universe, after hydrogen and helium."
)


def _archive(folder: Path) -> Path:
    rows = read_jsonl(SAMPLES / "articles.jsonl")
    for i, row in enumerate(rows):
        if row["id"].startswith("seed-"):
            row.update(url=SEED_URL, authors=["Service de presse du CICG"])
        else:  # dated, so the coverage timeline has months to show
            row["published"] = f"{2015 + i % 4}-{1 + i % 12:02d}-15"
    warsaw = next(r for r in rows if r["title"] == "Warsaw")
    rows.append({**warsaw, "id": "secret-warsaw", "title": SECRET_TITLE, "source": SECRET_OUTLET,
                 "collection": "investigations", "published": "2024-03-01"})
    rows.append({"id": "hostile-1", "title": HOSTILE_TITLE, "body": HOSTILE_BODY, "lang": "en",
                 "source": "Planted", "url": "javascript:window.__pwned=4", "published": "2023-06-01"})
    return write_jsonl(folder / "archive.jsonl", rows)


def _users_file(folder: Path) -> Path:
    from assistant.auth import hash_password

    pw = hash_password(PASSWORD)
    text = (f'[users.editor]\npassword = "{pw}"\ncollections = ["*"]\n\n'
            f'[users.intern]\npassword = "{pw}"\ncollections = ["default"]\n')
    path = folder / "users.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    uploads = root / "uploads"
    env = {**os.environ, "NEWSROOM_DATA_DIR": str(root / "data"), "GRADIO_ANALYTICS_ENABLED": "False",
           "NEWSROOM_USERS_FILE": str(_users_file(root)), "NEWSROOM_UPLOAD_TEMP_DIR": str(uploads)}
    subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(_archive(root))], env=env, check=True,
                   capture_output=True)
    proc, url = start_app(env)
    yield {"url": url, "uploads": uploads, "root": root}
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


def _open(browser, server, user="editor", width=1280, height=900, locale="en-US"):
    """A logged-in page on the app, ready for a question."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = context.new_page()
    page.on("dialog", lambda d: pytest.fail(f"a dialog opened: {d.message}"))
    page.goto(server["url"] + "/", wait_until="domcontentloaded")
    page.locator("input[type=text], input:not([type])").first.fill(user)
    page.locator("input[type=password]").fill(PASSWORD)
    page.locator("input[type=password]").press("Enter")
    page.locator("#nr-question textarea").wait_for(timeout=30_000)
    page.locator("#nr-sources .nr-empty[data-lang]").wait_for(timeout=30_000)  # the load event has run
    return page


def _ask(page, question: str, mode: str | None = None):
    if mode:
        page.locator("#nr-mode label", has_text=mode).click()
    turns = page.locator("#nr-sources .nr-turn").count()
    page.locator("#nr-question textarea").fill(question)
    page.locator("#nr-ask").click()
    page.wait_for_function(f"document.querySelectorAll('#nr-sources .nr-turn').length > {turns}", timeout=60_000)


def test_ask_open_citation_and_export(server, browser):
    page = _open(browser, server)
    _ask(page, "Qui a signé l'accord au nom des deux parties ?")
    chat = page.locator("#nr-chat")
    assert "Yu Yingfu" in chat.inner_text()
    # Open another turn's source first, then click [1] in the answer: the panel shows source 1 of that answer.
    page.locator("#nr-sources .nr-turn details.nr-source[open] > summary").first.click()  # close it
    assert page.locator("#nr-src-0-1[open]").count() == 0
    chat.locator("a.nr-cite", has_text="[1]").first.click()
    card = page.locator("#nr-src-0-1")
    assert card.get_attribute("open") is not None
    text = card.inner_text()
    assert SEED_TITLE in text and "communiqué de presse" in text and "2025-12-02" in text and "FR" in text
    assert "Service de presse du CICG" in text
    assert card.locator("a.nr-link").get_attribute("href") == SEED_URL
    assert "Liu Tao" in card.locator("mark").inner_text()  # the cited sentence is highlighted
    more = page.locator("#nr-sources .nr-turn:not([hidden]) details.nr-more")
    assert "Also retrieved, not cited" in more.locator("> summary").inner_text()
    # Export: Markdown and CSV as data: URLs, never files handed to Gradio.
    page.locator("#nr-export-box").get_by_text("Export for a fact-check report").click()
    href = page.locator("#nr-dl-md").get_attribute("href")
    assert href.startswith("data:text/markdown;charset=utf-8;base64,")
    markdown = base64.b64decode(href.split(",", 1)[1]).decode("utf-8")
    assert SEED_TITLE in markdown and SEED_URL in markdown and "Liu Tao" in markdown
    csv_href = page.locator("#nr-dl-csv").get_attribute("href")
    csv_text = base64.b64decode(csv_href.split(",", 1)[1]).decode("utf-8")
    assert csv_text.startswith("n,title,outlet,date,url,quote,passage") and SEED_URL in csv_text
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("button.nr-copy").first.click()
    page.wait_for_function("document.querySelector('button.nr-copy').innerText === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == markdown
    with page.expect_download() as download:
        page.locator("#nr-dl-md").click()
    assert download.value.suggested_filename == "answer.md"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "main.png"), full_page=True)
    page.context.close()


def test_filter_by_language_and_hostile_text_stays_text(server, browser):
    page = _open(browser, server)
    page.locator("#nr-filters").get_by_text("Filters").first.click()
    page.locator("#nr-langs label", has_text="zh").click()
    _ask(page, "Super Bowl 50", mode="Sources only")
    langs = page.locator("#nr-sources .nr-turn:not([hidden]) .nr-meta").all_text_contents()
    assert langs and all(" · ZH" in x for x in langs), langs
    page.locator("#nr-langs label", has_text="zh").click()  # back to every language
    # A planted article: its HTML and Markdown are shown as text, nothing runs, no link appears.
    _ask(page, "oxygen chemical element atomic number abundant", mode="Sources only")
    _ask(page, "What is the atomic number of oxygen?", mode="Answer")
    panel = page.locator("#nr-sources").inner_text()
    assert "onerror" in panel and "<img" in panel  # the title, shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#nr-sources img, #nr-chat img, #nr-sources script").count() == 0
    hrefs = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href') || '')")
    assert not [h for h in hrefs if h.startswith("javascript:") or "evil.example" in h], hrefs
    page.context.close()


def test_check_a_claim_and_find_a_quote(server, browser):
    page = _open(browser, server)
    _ask(page, "CICG and Huawei signed a cooperation agreement in Shenzhen", mode="Check a claim")
    chat = page.locator("#nr-chat").inner_text()
    assert "supports: " in chat and "Shenzhen" in chat
    assert "supports" in page.locator("#nr-src-0-1 .nr-label").inner_text()
    _ask(page, "ont signé l'accord au nom des deux parties", mode="Find a quote")
    assert "Occurrences, earliest first: 1" in page.locator("#nr-chat").inner_text()
    page.locator("#nr-chat a.nr-cite").last.click()
    card = page.locator("#nr-src-1-1")
    assert card.get_attribute("open") is not None
    assert card.locator("mark").inner_text() == "ont signé l'accord au nom des deux parties"
    page.locator("#nr-export-box").get_by_text("Export for a fact-check report").click()
    href = page.locator("#nr-dl-md").get_attribute("href")
    assert "Liu Tao" in base64.b64decode(href.split(",", 1)[1]).decode("utf-8")  # quote results export too
    page.locator("#nr-chat a.nr-cite").first.click()  # the first turn's [1] brings back that turn's sources
    assert page.locator("#nr-turn-0").is_visible() and not page.locator("#nr-turn-1").is_visible()
    page.context.close()


def test_upload_then_find_it_and_see_coverage(server, browser):
    page = _open(browser, server)
    page.locator("#nr-tab-library-button, button[role=tab]", has_text="Library").first.click()
    article = {"id": "upload-tallinn-1", "title": "Tallinn harbour tunnel opens after six years of works",
               "body": "The Tallinn harbour tunnel opened to traffic on Monday after six years of works. "
                       "The city engineer Maarja Kask said the tunnel cost 412 million euros and carries "
                       "thirty thousand cars a day under the old harbour.",
               "lang": "en", "source": "Baltic Test Gazette", "published": "2024-05-06"}
    upload = server["root"] / "tallinn.jsonl"
    upload.write_text(json.dumps(article) + "\n", encoding="utf-8")
    page.locator("#nr-upload input[type=file]").set_input_files(str(upload))
    page.locator("#nr-ingest").click()
    page.locator("#nr-report .nr-report-counts").wait_for(timeout=60_000)
    assert "1 new" in page.locator("#nr-report").inner_text()
    assert not [p for p in server["uploads"].rglob("*") if p.is_file() and p.name == "tallinn.jsonl"]
    # the article's title, as COVERAGE_MIN_SCORE was measured (language-centred scores of a two-word
    # query run low in a 43-article archive: "Super Bowl" alone finds 2 of the 3 articles)
    page.locator("#nr-coverage-q input, #nr-coverage-q textarea").first.fill("Super Bowl 50")
    page.locator("#nr-coverage-go").click()
    page.wait_for_function("document.querySelector('#nr-coverage-note').innerText.includes('matching articles')")
    assert int(page.locator("#nr-coverage-note").inner_text().split()[0]) >= 3
    page.locator("button[role=tab]", has_text="Ask").first.click()
    _ask(page, "How much did the Tallinn harbour tunnel cost?")
    assert "412 million euros" in page.locator("#nr-chat").inner_text()
    assert "Baltic Test Gazette" in page.locator("#nr-src-0-1").inner_text()
    page.context.close()


def test_restricted_collection_never_shows(server, browser):
    page = _open(browser, server, user="intern")
    assert "Signed in as intern" in page.locator("#nr-user").inner_text()
    page.locator("#nr-filters").get_by_text("Filters").first.click()
    page.locator("#nr-outlets input").click()
    assert "Wikipedia (XQuAD)" in page.content()  # the outlet choices are open
    assert SECRET_OUTLET not in page.content()
    page.keyboard.press("Escape")
    _ask(page, "Warsaw dossier Polonia supporters", mode="Sources only")
    _ask(page, "Who are the local rivals of Legia Warsaw?", mode="Answer")
    page.locator("button[role=tab]", has_text="Library").first.click()
    page.wait_for_function("document.querySelector('#nr-holdings').innerText.includes('articles')")
    html = page.content()
    assert SECRET_TITLE not in html and SECRET_OUTLET not in html and "investigations" not in html
    assert "Warsaw" in page.locator("#nr-chat").inner_text()  # the visible version of the story is there
    page.context.close()


def test_phone_width_in_french(server, browser):
    page = _open(browser, server, width=390, height=844, locale="fr-FR")
    page.wait_for_function("document.querySelector('#nr-ask').innerText.includes('Demander')")
    _ask(page, "Qui a signé l'accord au nom des deux parties ?")
    assert "Sources citées (1)" in page.locator("#nr-sources").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"the page scrolls sideways at phone width ({width}px)"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "phone.png"), full_page=True)
    page.locator("#nr-ui-lang input").click()
    page.get_by_role("option", name="中文").click()
    page.wait_for_function("document.querySelector('#nr-ask').innerText.includes('提问')")
    assert "筛选" in page.locator("#nr-filters").inner_text()
    page.context.close()
