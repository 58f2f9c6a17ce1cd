"""Ollama's default origins on the model API, and only there (real HTTP, real Chromium).

Browser front ends built for Ollama (a page on a localhost dev server, a
Tauri or Electron app, a VS Code webview, a browser extension) call the API
cross-origin and expect Ollama's default CORS list. The chats and settings
API (/api/v1) stays with Hearth's own page: another local page must not read
or change a person's chats.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app.runner.process import free_port
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess

LOCAL_PAGES = ["http://localhost:3000", "http://127.0.0.1:5173", "tauri://localhost"]
CHAT = {"title": "mine", "messages": [{"role": "user", "content": "hi"}]}
SHORT_CHAT = {
    "model": GEMMA_NAME,
    "messages": [{"role": "user", "content": "Say hi"}],
    "options": {"num_predict": 4, "temperature": 0},
    "stream": False,
}


def chat_titles(base: str) -> list[str]:
    return sorted(
        c["title"] for c in requests.get(f"{base}/api/v1/chats", timeout=10).json()["chats"]
    )


@pytest.mark.parametrize("origin", LOCAL_PAGES)
def test_local_page_uses_the_model_api_with_cors(hearth: HearthProcess, origin: str) -> None:
    preflight = requests.options(
        f"{hearth.ollama_url}/api/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-stainless-os",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "x-stainless-os" in preflight.headers["Access-Control-Allow-Headers"]
    tags = requests.get(f"{hearth.ollama_url}/api/tags", headers={"Origin": origin}, timeout=10)
    assert tags.status_code == 200
    assert tags.headers["Access-Control-Allow-Origin"] == origin
    answer = requests.post(
        f"{hearth.ollama_url}/api/chat", json=SHORT_CHAT, headers={"Origin": origin}, timeout=120
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["done"] is True


@pytest.mark.parametrize("origin", LOCAL_PAGES)
def test_local_page_cannot_touch_chats_or_settings(hearth: HearthProcess, origin: str) -> None:
    before = chat_titles(hearth.url)
    settings = requests.get(f"{hearth.url}/api/v1/settings", timeout=10).json()
    headers = {"Origin": origin}
    for method, path, body in [
        ("GET", "/api/v1/chats", None),
        ("POST", "/api/v1/chats", CHAT),
        ("PATCH", "/api/v1/settings", {"theme": "dark"}),
        ("GET", "/api/v1/system", None),
    ]:
        reply = requests.request(method, hearth.url + path, json=body, headers=headers, timeout=10)
        assert reply.status_code == 403, (method, path)
        assert "Access-Control-Allow-Origin" not in reply.headers
    assert chat_titles(hearth.url) == before
    assert requests.get(f"{hearth.url}/api/v1/settings", timeout=10).json() == settings


def test_drop_in_port_takes_ollama_default_origins(make_hearth: HearthFactory) -> None:
    port = free_port()
    make_hearth(args=("--ollama-port", str(port)))
    base = f"http://127.0.0.1:{port}"
    for path in ("/api/tags", "/api/version", "/v1/models"):
        reply = requests.get(base + path, headers={"Origin": "http://localhost:3000"}, timeout=10)
        assert reply.status_code == 200, path
        assert reply.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        foreign = requests.get(base + path, headers={"Origin": "https://evil.com"}, timeout=10)
        assert foreign.status_code == 403, path


# -- a real browser page on another localhost port --------------------------------

PAGE = """<!doctype html><title>front end</title><script>
async function probe(url, init) {
  try { const r = await fetch(url, init); return {status: r.status, body: await r.text()}; }
  catch (e) { return {error: String(e)}; }
}
</script>"""


@pytest.fixture
def front_end() -> Iterator[str]:
    """A static page served from its own localhost port, as a dev server would."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()


def test_browser_page_on_localhost_reaches_the_model_api_only(
    hearth: HearthProcess, front_end: str
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.test_ui_e2e import CHROMIUM, CHROMIUM_ARGS

    before = chat_titles(hearth.url)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(front_end)
            tags = page.evaluate("url => probe(url)", f"{hearth.ollama_url}/api/tags")
            chat = page.evaluate(
                "([url, body]) => probe(url, {method: 'POST', body: JSON.stringify(body),"
                " headers: {'Content-Type': 'application/json'}})",
                [f"{hearth.ollama_url}/api/chat", SHORT_CHAT],
            )
            chats = page.evaluate("url => probe(url)", f"{hearth.url}/api/v1/chats")
            create = page.evaluate(
                "([url, body]) => probe(url, {method: 'POST', body: JSON.stringify(body),"
                " headers: {'Content-Type': 'application/json'}})",
                [f"{hearth.url}/api/v1/chats", CHAT],
            )
        finally:
            browser.close()
    assert tags.get("status") == 200, tags
    assert GEMMA_NAME in tags["body"]
    assert chat.get("status") == 200, chat
    assert '"done":true' in chat["body"]
    assert "error" in chats, chats  # the browser saw no CORS answer: the page reads nothing
    assert "error" in create, create
    assert chat_titles(hearth.url) == before
