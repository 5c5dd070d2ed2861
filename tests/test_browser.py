"""The chat UI in a real browser: Debian's Chromium driven by Playwright against `rag chat` started
with the offline fakes (hash embeddings, extractive answers)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
XSS_DOC = ("<html><body><p>Robots in Hangzhou are cheap and popular.</p>"
           "<pre>&lt;script&gt;window.__xss = 1&lt;/script&gt; &lt;img src=x onerror=\"window.__xss = 2\"&gt; "
           "[click me](javascript:window.__xss=3)</pre></body></html>")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp: Path, extra_env: dict[str, str]):
    """`rag chat` on a free port over a copy of the seeds (plus an HTML document with script tags)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `apt-get install chromium` (the CI script does)")
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "seeds", corpus)
    (corpus / "xss.html").write_text(XSS_DOC, encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "RAG_EMBED_MODEL": "hash-256", "RAG_BACKEND": "extractive", "RAG_ABSTAIN_SCORE": "0.05",
           "RAG_SUPPORT_THRESHOLD": "0.5", "RAG_MODEL_CACHE": str(tmp / "models"), **extra_env}
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "rag", "chat", "--corpus", str(corpus), "--index", str(tmp / "index"),
                             "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("rag chat exited: " + (tmp / "server.log").read_text()[-2000:])
            time.sleep(0.5)
    return proc, url


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    proc, url = _start(tmp, {})
    yield url, tmp
    proc.terminate()
    proc.wait(timeout=20)


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = _browser(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(server, browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto(server[0])
    pg.wait_for_selector("#question textarea", timeout=60000)
    pg.dialogs = dialogs
    yield pg
    pg.close()


def ask(page, question: str) -> str:
    before = page.locator("#chat .message").count()
    page.fill("#question textarea", question)
    page.click("#send")
    # done: the reply is in, no cursor, and it is not the "…" placeholder (an abstention's list of
    # closest passages may end with a clipped "…" of its own)
    page.wait_for_function(
        f"(() => {{ const m = document.querySelectorAll('#chat .message'); const last = m[m.length - 1];"
        f" return m.length >= {before + 2} && !document.querySelector('#chat').innerText.includes('▌') &&"
        " (last.querySelector('.abstain') !== null || !last.innerText.trim().endsWith('…')); })()", timeout=60000)
    page.wait_for_timeout(500)
    return page.locator("#chat .message").last.inner_text()


def test_ask_see_answer_sources_and_click_citation(page):
    answer = ask(page, "How many key artificial intelligence companies does Shanghai have?")
    assert "1,149" in answer
    page.wait_for_selector("#sources .source.cited")
    assert "Cited" in page.locator("#sources").inner_text()
    assert page.locator("#sources mark").count() >= 1  # the supporting sentence is highlighted
    cite = page.locator("#chat a.cite").last
    target = cite.get_attribute("href")
    cite.click()
    page.wait_for_timeout(500)
    box = page.locator(f"#sources {target}").bounding_box()
    assert box is not None and 0 <= box["y"] < 1000  # the cited passage is in view


def test_follow_up_is_rewritten_and_shown(page):
    answer = ask(page, "What about the industry scale?")
    assert "→" in answer and "Shanghai" in answer


def test_upload_then_ask_about_it(page, server, tmp_path):
    doc = tmp_path / "lanterns.md"
    doc.write_text("# Lantern report\n\nThe city of Quanzhou made 8,765 paper lanterns in 2023.\n", encoding="utf-8")
    page.get_by_text("Settings and documents").click()
    page.set_input_files("#upload input[type=file]", str(doc))
    page.wait_for_timeout(1000)
    page.click("#add")
    page.wait_for_function("document.querySelector('#upload-status textarea').value.includes('indexed')",
                           timeout=60000)
    assert "lanterns.md: added" in page.locator("#upload-status textarea").input_value()
    assert (server[1] / "corpus" / "lanterns.md").exists()
    answer = ask(page, "How many paper lanterns did Quanzhou make?")
    assert "8,765" in answer


def test_document_html_and_scripts_stay_text(page):
    ask(page, "Are robots in Hangzhou cheap?")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss === undefined")
    assert not page.dialogs
    sources = page.locator("#sources").inner_text()
    assert "<script>" in sources or "<img" in sources  # shown as text
    assert page.locator("#sources script, #sources img, #chat a[href^='javascript']").count() == 0


def test_with_users_the_chat_asks_for_sign_in_and_readers_cannot_add(tmp_path_factory, browser):
    """`rag chat` with a users file: Chromium gets a sign-in form; a reader can ask but sees no upload."""
    from rag.users import save_user

    tmp = tmp_path_factory.mktemp("signed")
    save_user(tmp / "users.toml", "rita", "reader", "reader-pass")
    proc, url = _start(tmp, {"RAG_USERS_FILE": str(tmp / "users.toml")})
    try:
        # one browser for the whole module (Playwright's sync API cannot nest)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(url)
        pg.wait_for_selector("input[type=password]", timeout=60000)
        assert pg.locator("#question textarea").count() == 0  # nothing but the sign-in form
        pg.locator("input").first.fill("rita")
        pg.fill("input[type=password]", "wrong-pass")
        pg.keyboard.press("Enter")
        pg.wait_for_timeout(1500)
        assert pg.locator("#question textarea").count() == 0  # a wrong password gets nothing
        pg.locator("input").first.fill("rita")
        pg.fill("input[type=password]", "reader-pass")
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#question textarea", timeout=60000)
        answer = ask(pg, "How many key artificial intelligence companies does Shanghai have?")
        assert "1,149" in answer
        pg.get_by_text("Settings and documents").click()
        pg.wait_for_selector("#user", timeout=10000)
        pg.wait_for_function("document.querySelector('#user').innerText.includes('rita')", timeout=10000)
        assert "reader" in pg.locator("#user").inner_text()
        assert "001_53cdb50f1de54eeb" in pg.locator("#documents").inner_text()
        assert not pg.locator("#add").is_visible() and not pg.locator("#delete").is_visible()
        pg.screenshot(path=str(tmp / "signed-in-reader.png"))
        pg.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
