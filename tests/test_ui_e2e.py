"""The chat UI end to end: Debian's chromium, driven by Playwright, against a real
``hearth serve`` with the real Gemma 3 270M model. No fakes.

Screenshots of the main screens and the measured numbers (initial JS gzipped,
first paint, long tasks while streaming) land in ``tests/artifacts/``.

History tests need the chats API (/api/v1), which every ``hearth serve`` has.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import REPO, HearthFactory, HearthProcess
from tests.waiting import wait_until

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright (no browser download needed)"
)

CHROMIUM = Path("/usr/bin/chromium")
DIST = REPO / "ui_dist"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
METRICS: dict[str, Any] = {}


def serves_ui(url: str) -> bool:
    try:
        return '<div id="app">' in requests.get(url + "/", timeout=10).text
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server(
    hearth: HearthProcess,
    tmp_path_factory: pytest.TempPathFactory,
    llama_server_binary: Path,
    gemma_gguf_path: Path,
) -> Iterator[HearthProcess]:
    if not (DIST / "index.html").is_file():
        pytest.fail("ui_dist/ is not built: cd ui && npm ci && npm run build")
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    assert serves_ui(hearth.url), "the app factory does not serve ui_dist/"
    chats = requests.get(hearth.url + "/api/v1/chats?limit=1", timeout=10)
    assert chats.status_code == 200, "the server has no /api/v1/chats"
    yield hearth


def save_metrics(name: str, metrics: dict[str, Any]) -> None:
    """Write ``metrics`` as JSON to tests/artifacts/``name``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(metrics, indent=2))


@pytest.fixture(scope="module", autouse=True)
def write_metrics() -> Iterator[None]:
    """Write the numbers measured by the tests to tests/artifacts/ui-metrics.json."""
    yield
    if METRICS:
        save_metrics("ui-metrics.json", METRICS)
        print("\nUI metrics:", json.dumps(METRICS, indent=2))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def streamed_chat(request: Any) -> bool:
    """A streamed /ollama/api/chat request: an answer, not a background title request."""
    return request.url.endswith("/ollama/api/chat") and '"stream":true' in (request.post_data or "")


class Page:
    """A page plus the console errors and API requests it saw."""

    def __init__(self, browser: Any, url: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 820})
        self.page = self.context.new_page()
        self.url = url
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("request", self._request)
        self.page.set_default_timeout(30_000)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        self.errors.append(message.text)

    def _request(self, request: Any) -> None:
        entry = f"{request.method} {request.url}"
        if streamed_chat(request):
            entry += " stream"
        self.requests.append(entry)

    def open(self, path: str = "/") -> None:
        self.page.goto(self.url + path)
        self.page.wait_for_selector("#composer-input, .page h1")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"))

    def chat_requests(self) -> int:
        """Streamed chat requests (answers; not the background title requests)."""
        return sum(
            1
            for entry in self.requests
            if entry.startswith("POST") and entry.endswith("/ollama/api/chat stream")
        )

    def expect_chat_request(self) -> Any:
        """``with page.expect_chat_request() as sent:`` the next streamed chat request, as
        ``sent.value``, once the block has made the page send it."""
        return self.page.expect_request(streamed_chat)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Any, server: HearthProcess) -> Iterator[Page]:
    wrapper = Page(browser, server.url)
    yield wrapper
    wrapper.close()


@pytest.fixture
def long_answers(server: HearthProcess) -> Iterator[None]:
    """Chats without stop strings while the test runs.

    The test model (pretrained Gemma 3, no chat template) soon writes ChatML's
    end marker, where Hearth ends its answer; tests of Stop and of an
    interrupted answer need answers that run on, so they set ``stop: []`` as
    a default option, which the UI sends with every chat.
    """
    url = f"{server.url}/api/v1/settings"
    before = requests.get(url, timeout=10).json().get("default_options") or {}
    changed = requests.patch(url, json={"default_options": {**before, "stop": []}}, timeout=10)
    assert changed.status_code == 200, changed.text
    yield
    requests.patch(url, json={"default_options": before}, timeout=10)


def chat_options(page: Page, max_tokens: int, seed: int = 1) -> None:
    """Set this chat's options through the settings panel."""
    p = page.page
    p.get_by_role("button", name="Chat settings").click()
    p.get_by_label("Temperature").fill("0")
    p.get_by_label("Temperature").dispatch_event("change")
    p.get_by_label("Seed").fill(str(seed))
    p.get_by_label("Seed").dispatch_event("change")
    p.get_by_label("Max answer tokens").fill(str(max_tokens))
    p.get_by_label("Max answer tokens").dispatch_event("change")
    p.get_by_role("button", name="Close chat settings").click()


def send(page: Page, text: str) -> None:
    page.page.fill("#composer-input", text)
    page.page.keyboard.press("Enter")


def last_answer(page: Page) -> Any:
    return page.page.locator("[data-testid=message-assistant]").last


def wait_done(page: Page, timeout: float = 90_000) -> None:
    page.page.wait_for_selector("[data-testid=send]", timeout=timeout)
    last_answer(page).locator("[data-testid=stats]").wait_for(timeout=timeout)


# ---------------------------------------------------------------------------- tests


PAGE_TIMING = """() => {
  const paint = Object.fromEntries(
    performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  const nav = performance.getEntriesByType('navigation')[0];
  const ready = performance.getEntriesByName('hearth:ready')[0];
  return { fcp: paint['first-contentful-paint'], dcl: nav.domContentLoadedEventEnd,
           ready: ready.startTime };
}"""


def test_page_loads_clean_and_fast(page: Page) -> None:
    """First paint, cold (a new browser context) and warm (a reload, assets cached).

    The figures go to ui-metrics.json and the closing notes; no timing is
    asserted here, as a loaded CI machine would make such a test flaky.
    """
    for run in ("cold", "warm"):
        if run == "cold":
            page.open("/")
        else:
            page.page.reload()
            page.page.wait_for_selector("#composer-input")
        page.page.wait_for_function("performance.getEntriesByName('hearth:ready').length > 0")
        page.page.wait_for_function(
            "performance.getEntriesByName('first-contentful-paint').length > 0"
        )
        timing = page.page.evaluate(PAGE_TIMING)
        suffix = "" if run == "cold" else "_warm"
        METRICS[f"first_contentful_paint{suffix}_ms"] = round(timing["fcp"], 1)
        METRICS[f"app_ready{suffix}_ms"] = round(timing["ready"], 1)
        METRICS[f"dom_content_loaded{suffix}_ms"] = round(timing["dcl"], 1)
    assert page.page.title() == "Hearth"
    assert page.page.get_by_role("heading", name="How can I help?").is_visible()
    page.shot("empty-chat")
    assert page.errors == []


def test_initial_js_budget() -> None:
    html = (DIST / "index.html").read_text()
    scripts = re.findall(r'(?:src|href)="/assets/([^"]+\.js)"', html)
    assert scripts
    total = sum(len(gzip.compress((DIST / "assets" / name).read_bytes(), 9)) for name in scripts)
    METRICS["initial_js_gzip_bytes"] = total
    katex = [path for path in (DIST / "assets").glob("katex-*.js")]
    assert katex, "KaTeX should be a separate, lazily loaded chunk"
    assert all(path.name not in html for path in katex)
    assert total < 150_000  # issue 18: the initial JS stays under 150 KB gzipped


def test_model_picker_lists_the_model(page: Page) -> None:
    page.open("/")
    page.page.get_by_test_id("model-picker").click()
    option = page.page.get_by_role("option", name=re.compile(re.escape(GEMMA_NAME)))
    option.wait_for()
    assert "268" in option.inner_text()  # parameter size
    assert "Q4_K_M" in option.inner_text()
    page.shot("model-picker")
    page.page.keyboard.press("Escape")
    assert page.page.get_by_role("listbox").count() == 0
    assert page.errors == []


def test_chat_streams_markdown_with_stats(page: Page) -> None:
    page.open("/")
    page.page.evaluate(
        """() => {
          window.__longTasks = [];
          new PerformanceObserver(list => {
            for (const e of list.getEntries()) window.__longTasks.push(e.duration);
          }).observe({ type: 'longtask', buffered: true });
        }"""
    )
    chat_options(page, max_tokens=160)
    send(page, "Write a short list of three fruits, then a Python code block that prints hello.")
    answer = last_answer(page)
    lengths: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if answer.count():
            lengths.append(len(answer.inner_text()))
        if (
            page.page.locator("[data-testid=send]").count()
            and answer.count()
            and answer.locator("[data-testid=stats]").count()
        ):
            break
        time.sleep(0.05)
    wait_done(page)
    growth = sorted(set(lengths))
    assert len(growth) >= 3, f"the answer did not grow while streaming: {lengths[:20]}"
    stats = answer.locator("[data-testid=stats]").inner_text()
    assert "tok/s" in stats and "tokens" in stats and "first token" in stats
    long_tasks = page.page.evaluate("window.__longTasks")
    METRICS["streaming_long_tasks_over_50ms"] = len(long_tasks)
    METRICS["streaming_stats_line"] = stats
    page.shot("chat-answer")
    # the page address now names the chat, and the sidebar lists it
    assert "#/c/" in page.page.url
    assert page.page.get_by_test_id("chat-list").locator("a").count() >= 1
    assert page.errors == []


def test_stop_mid_answer(long_answers: None, page: Page) -> None:
    page.open("/")
    chat_options(page, max_tokens=1500)
    send(page, "Write a very long story about a lighthouse keeper, at least 1000 words.")
    answer = last_answer(page)
    page.page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('[data-testid=message-assistant]')].pop();"
        " return a && a.innerText.length > 40; }"
    )
    page.page.keyboard.press("Escape")
    page.page.wait_for_selector("[data-testid=send]", timeout=10_000)
    text = answer.inner_text()
    time.sleep(1.0)
    assert answer.inner_text() == text, "text kept growing after Stop"
    assert "stopped" in answer.locator("[data-testid=stats]").inner_text()
    # the Stop button does the same as Escape
    send(page, "Now write another long story, about a baker.")
    page.page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('[data-testid=message-assistant]')];"
        " return a.length === 2 && a[1].innerText.length > 40; }"
    )
    page.page.get_by_test_id("stop").click()
    page.page.wait_for_selector("[data-testid=send]", timeout=10_000)
    assert "stopped" in last_answer(page).locator("[data-testid=stats]").inner_text()
    # the server is free again: a new question is answered
    chat_options(page, max_tokens=8)
    send(page, "Say OK.")
    wait_done(page)
    assert page.errors == []


def test_regenerate_and_edit(page: Page) -> None:
    page.open("/")
    chat_options(page, max_tokens=24)
    send(page, "Name one color.")
    wait_done(page)
    before = page.chat_requests()
    last_answer(page).hover()
    last_answer(page).get_by_role("button", name="Regenerate answer").click()
    wait_done(page)
    assert page.chat_requests() == before + 1
    assert page.page.locator("[data-testid=message-assistant]").count() == 1

    user = page.page.locator("[data-testid=message-user]").first
    user.hover()
    user.get_by_role("button", name="Edit message").click()
    editor = page.page.get_by_label("Edit your message")
    editor.fill("Name one animal.")
    page.page.get_by_test_id("save-edit").click()
    wait_done(page)
    assert page.page.locator("[data-testid=message-user]").count() == 1
    assert (
        page.page.locator("[data-testid=message-user]")
        .first.inner_text()
        .startswith("Name one animal.")
    )
    assert page.page.locator("[data-testid=message-assistant]").count() == 1
    assert page.chat_requests() >= before + 2
    assert page.errors == []


def test_history_survives_reload_and_search(page: Page) -> None:
    page.open("/")
    chat_options(page, max_tokens=16)
    marker = f"zebra{int(time.time())}"
    send(page, f"Repeat the word {marker}.")
    wait_done(page)
    address = page.page.url
    answer_text = last_answer(page).locator(".md").inner_text()
    page.page.reload()
    page.page.wait_for_selector("[data-testid=message-assistant]")
    assert page.page.url == address
    assert marker in page.page.locator("[data-testid=message-user]").first.inner_text()
    assert last_answer(page).locator(".md").inner_text() == answer_text
    # search (server-side q=)
    page.page.keyboard.press("Control+k")
    assert page.page.evaluate("document.activeElement.id") == "sidebar-search"
    page.page.keyboard.type(marker)
    page.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=chat-list] a').length === 1", timeout=10_000
    )
    page.page.keyboard.type("-nothing-matches")
    page.page.wait_for_selector("text=No chats match.")
    page.shot("history")
    assert page.errors == []


def test_interrupted_answer_after_reload(long_answers: None, page: Page) -> None:
    page.open("/")
    chat_options(page, max_tokens=1500)
    send(page, "Write a very long story about a lighthouse keeper.")
    page.page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('[data-testid=message-assistant]')].pop();"
        " return a && a.innerText.length > 60; }"
    )
    time.sleep(1.2)  # at least one throttled save of the growing answer
    page.page.reload()
    note = page.page.get_by_role("note").filter(has_text="interrupted")
    note.wait_for()
    page.shot("interrupted")
    chat_options(page, max_tokens=40)  # the retry need not be long: a slow machine takes minutes
    note.get_by_role("button", name="Regenerate").click()
    wait_done(page)
    assert page.page.get_by_role("note").filter(has_text="interrupted").count() == 0


def test_models_page_lists_details(page: Page) -> None:
    page.open("/#/models")
    row = page.page.get_by_test_id("model-row").filter(has_text=GEMMA_NAME)
    row.wait_for()
    assert "Q4_K_M" in row.inner_text() and "gemma3" in row.inner_text()
    row.get_by_role("link", name=GEMMA_NAME).click()
    details = page.page.get_by_test_id("model-details")
    details.get_by_text("Model info").wait_for()
    text = details.inner_text()
    assert "gemma3" in text and "268.10M" in text and "Q4_K_M" in text
    assert "completion" in text  # capabilities from /show
    details.get_by_text("Model info").click()
    details.get_by_text("general.architecture").wait_for()
    page.shot("models")
    assert page.errors == []


def test_delete_a_model_copy(page: Page, server: HearthProcess) -> None:
    name = "e2e-copy:latest"
    reply = requests.post(
        server.ollama_url + "/api/copy",
        json={"source": GEMMA_NAME, "destination": name},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    page.open("/#/models")
    row = page.page.get_by_test_id("model-row").filter(has_text=name)
    row.get_by_role("link", name=name).click()
    page.page.get_by_test_id("delete-model").click()
    dialog = page.page.get_by_role("dialog")
    assert name in dialog.inner_text()
    page.shot("delete-confirm")
    page.page.get_by_test_id("confirm").click()
    row.wait_for(state="detached")
    names = [
        model["name"]
        for model in requests.get(server.ollama_url + "/api/tags", timeout=10).json()["models"]
    ]
    assert name not in names and GEMMA_NAME in names
    assert page.errors == []


def test_theme_and_shortcuts(page: Page) -> None:
    page.open("/#/settings")
    page.page.get_by_label("Dark").check()
    assert page.page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.page.goto(page.url + "/#/")
    page.page.wait_for_selector("#composer-input")
    page.shot("dark")
    page.page.keyboard.press("Control+Shift+O")
    assert page.page.evaluate("document.activeElement.id") == "composer-input"
    # Shift+Enter makes a new line, not a send
    page.page.keyboard.type("line one")
    page.page.keyboard.press("Shift+Enter")
    page.page.keyboard.type("line two")
    assert page.page.input_value("#composer-input") == "line one\nline two"
    page.open("/#/settings")
    page.page.get_by_label("Match the system").check()
    assert page.errors == []


def push_gemma(registry: Any, repository: str, gemma_gguf_path: Path) -> str:
    """Push the test model into the local registry as an Ollama model; its pull name."""
    from tests.registry import push_model

    push_model(
        registry.url,
        repository,
        "270m",
        [("model", gemma_gguf_path), ("params", b'{"temperature": 0.7}')],
        {"model_format": "gguf", "model_family": "gemma3", "file_type": "Q4_K_M"},
    )
    return f"{registry.host}/{repository}:270m"


def test_pull_from_a_registry(
    page: Page, server: HearthProcess, registry: Any, gemma_gguf_path: Path
) -> None:
    name = push_gemma(registry, "library/uipull", gemma_gguf_path)
    page.open("/#/models")
    page.page.get_by_label("Model to pull").fill(name)
    page.page.get_by_role("button", name="Pull", exact=True).click()
    card = page.page.get_by_test_id("pull-card").filter(has_text=name)
    card.wait_for()
    page.page.get_by_test_id("model-row").filter(has_text=name).wait_for(timeout=120_000)
    assert "success" in card.inner_text() or card.count() == 0
    page.shot("pulled")
    names = [
        model["name"]
        for model in requests.get(server.ollama_url + "/api/tags", timeout=10).json()["models"]
    ]
    assert name in names
    requests.delete(server.ollama_url + "/api/delete", json={"model": name}, timeout=30)
    assert page.errors == []


def test_a_fresh_window_starts_with_the_saved_defaults(page: Page, server: HearthProcess) -> None:
    """The first new chat after a load gets the default system prompt and options."""
    settings = f"{server.url}/api/v1/settings"
    defaults = {"default_system_prompt": "Answer like a pirate.", "default_options": {"top_p": 0.7}}
    assert requests.patch(settings, json=defaults, timeout=10).status_code == 200
    try:
        page.open("/")
        page.page.wait_for_selector("#composer-input")
        page.page.get_by_role("button", name="Chat settings").click()
        panel = page.page.get_by_label("Chat settings", exact=True)
        assert panel.locator("textarea").input_value() == "Answer like a pirate."
        assert page.page.get_by_label("Top P").input_value() == "0.7"
        page.page.get_by_role("button", name="Close chat settings").click()
    finally:
        requests.patch(
            settings, json={"default_system_prompt": None, "default_options": None}, timeout=10
        )


def test_import_opens_the_imported_chat(page: Page, server: HearthProcess, tmp_path: Path) -> None:
    api = f"{server.url}/api/v1"
    source = requests.post(
        f"{api}/chats",
        json={"title": "Quince jam notes", "messages": [{"role": "user", "content": "jam?"}]},
        timeout=10,
    ).json()
    exported = requests.get(f"{api}/chats/{source['id']}/export?format=json", timeout=10)
    upload = tmp_path / "chat.json"
    upload.write_bytes(exported.content)
    page.open("/")
    page.page.wait_for_selector("#composer-input")
    page.page.set_input_files("nav input[type=file]", str(upload))
    page.page.wait_for_function(
        f"location.hash.startsWith('#/c/') && !location.hash.includes({json.dumps(source['id'])})"
    )
    imported_id = page.page.evaluate("location.hash").split("/")[-1]
    assert requests.get(f"{api}/chats/{imported_id}", timeout=10).json()["title"] == (
        "Quince jam notes"
    )
    page.page.get_by_text("Imported 1 chat from chat.json.").wait_for()


def stored_chat(server: HearthProcess, messages: list[dict[str, Any]], **fields: Any) -> str:
    """A chat written through /api/v1, as an earlier session of the UI would have left it."""
    reply = requests.post(
        f"{server.url}/api/v1/chats",
        json={"title": "Stored", "model": GEMMA_NAME, **fields, "messages": messages},
        timeout=10,
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def test_copy_and_delete_a_message(page: Page, server: HearthProcess) -> None:
    chat_id = stored_chat(
        server,
        [
            {"role": "user", "content": "What is a quince?"},
            {
                "role": "assistant",
                "content": "A quince is a **fruit** related to the pear.",
                "done": True,
            },
            {"role": "user", "content": "Throwaway question"},
        ],
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.open(f"/#/c/{chat_id}")
    answer = last_answer(page)
    answer.wait_for()
    answer.hover()
    answer.get_by_role("button", name="Copy message").click()
    answer.get_by_role("button", name="Copy message").filter(has_text="Copied").wait_for()
    # The copy is the message's Markdown source, not the rendered text.
    assert page.page.evaluate("navigator.clipboard.readText()") == (
        "A quince is a **fruit** related to the pear."
    )
    throwaway = page.page.locator("[data-testid=message-user]").filter(has_text="Throwaway")
    throwaway.hover()
    throwaway.get_by_role("button", name="Delete message").click()
    throwaway.wait_for(state="detached")
    stored = requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10).json()["messages"]
    assert [m["content"] for m in stored] == [
        "What is a quince?",
        "A quince is a **fruit** related to the pear.",
    ]
    page.page.reload()
    page.page.locator("[data-testid=message-user]").first.wait_for()
    assert page.page.locator("[data-testid=message-user]").count() == 1
    assert page.errors == []


def test_thinking_math_and_tables_render_safely(page: Page, server: HearthProcess) -> None:
    answer_md = (
        "Energy: $$E = mc^2$$\n\n"
        "| fruit | colour |\n|---|---|\n| quince | yellow |\n\n"
        '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>'
    )
    chat_id = stored_chat(
        server,
        [
            {"role": "user", "content": "Explain."},
            {
                "role": "assistant",
                "content": answer_md,
                "thinking": "First I recall the famous formula.",
                "done": True,
            },
        ],
    )
    page.open(f"/#/c/{chat_id}")
    answer = last_answer(page)
    answer.locator(".katex").first.wait_for()  # KaTeX is loaded lazily, on first math
    assert answer.locator("table td").filter(has_text="quince").count() == 1
    thinking = answer.locator("details.thinking")
    assert thinking.count() == 1
    assert not thinking.locator(".thinking-body").is_visible()  # collapsed at first
    thinking.locator("summary").click()
    assert thinking.locator(".thinking-body").inner_text() == "First I recall the famous formula."
    assert page.page.evaluate("window.__pwned") is None
    assert answer.locator("img[onerror], script").count() == 0
    page.shot("thinking-math")
    assert page.errors == []


def test_light_and_system_themes(page: Page) -> None:
    page.open("/#/settings")
    background = "getComputedStyle(document.body).backgroundColor"
    page.page.get_by_role("radio", name="Light").check()
    assert page.page.evaluate("document.documentElement.dataset.theme") == "light"
    light = page.page.evaluate(background)
    page.shot("settings-light")
    page.page.get_by_label("Match the system").check()
    page.page.emulate_media(color_scheme="dark")
    page.page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    dark = page.page.evaluate(background)
    page.page.emulate_media(color_scheme="light")
    page.page.wait_for_function("document.documentElement.dataset.theme === 'light'")
    assert light != dark
    assert page.page.evaluate(background) == light
    # The choice survives a reload.
    page.page.reload()
    page.page.wait_for_selector(".page h1")
    assert page.page.get_by_label("Match the system").is_checked()
    assert page.errors == []


def test_settings_hold_default_sampling_options(page: Page, server: HearthProcess) -> None:
    settings = f"{server.url}/api/v1/settings"
    try:
        page.open("/#/settings")
        for label, value in (("Top P", "0.8"), ("Seed", "42")):
            page.page.get_by_label(label, exact=True).fill(value)
            page.page.get_by_label(label, exact=True).dispatch_event("change")
        wait_until(
            lambda: (
                (requests.get(settings, timeout=10).json().get("default_options") or {}).get("seed")
                == 42
            ),
            "the seed was not saved",
        )
        stored = requests.get(settings, timeout=10).json()["default_options"]
        assert stored["top_p"] == 0.8 and stored["seed"] == 42
        page.shot("settings")
        page.open("/")
        page.page.get_by_role("button", name="Chat settings").click()
        assert page.page.get_by_label("Seed").input_value() == "42"
    finally:
        requests.patch(settings, json={"default_options": None}, timeout=10)
    assert page.errors == []


def test_a_model_that_cannot_start_shows_its_full_log(
    page: Page, server: HearthProcess, tmp_path: Path
) -> None:
    from tests.tinygguf import write_tiny_gguf

    # A real GGUF llama-server refuses to load (its tensors are not a llama's).
    broken = write_tiny_gguf(tmp_path / "broken.gguf")
    server.cli("import", str(broken), "broken-ui:1")
    try:
        chat_id = stored_chat(server, [], model="broken-ui:1")
        page.open(f"/#/c/{chat_id}")
        send(page, "Hello?")
        alert = last_answer(page).get_by_role("alert")
        alert.wait_for(timeout=60_000)
        assert "could not be started" in alert.inner_text()
        alert.get_by_role("button", name="Show the full llama-server log").click()
        log_text = page.page.get_by_test_id("runner-log").inner_text()
        assert "$ " in log_text and "llama-server" in log_text  # the command line, then its output
        assert "broken-ui" in alert.inner_text()  # the log file's path names the model
        page.shot("runner-log")
        # The same text through the API, which is bounded and names unknown models as such.
        api = f"{server.url}/api/v1/logs/llama-server"
        reply = requests.get(api, params={"model": "broken-ui:1"}, timeout=10).json()
        assert reply["text"] and reply["path"].endswith("llama-server-broken-ui_1.log")
        assert requests.get(api, params={"model": "nope:1"}, timeout=10).status_code == 404
        assert requests.get(api, params={"model": "../../etc"}, timeout=10).status_code == 400
    finally:
        server.cli("rm", "broken-ui:1", check=False)


def test_first_run_pull_with_progress_reload_cancel_and_resume(
    browser: Any,
    registry: Any,
    make_hearth: HearthFactory,
    gemma_gguf_path: Path,
) -> None:
    """A new user's first minutes: no models, a starter list, a pull they can watch,
    reload, cancel and resume, then the model in the list. Pulls are slowed by
    Hearth's own bandwidth cap (HEARTH_PULL_MAX_BPS) so each step can be seen."""
    name = push_gemma(registry, "library/firstrun", gemma_gguf_path)
    fresh = make_hearth(env={"HEARTH_PULL_MAX_BPS": "12000000"})
    page = Page(browser, fresh.url)
    try:
        page.open("/")
        page.page.get_by_text("No models are installed yet.").wait_for()
        page.shot("first-run")
        page.page.get_by_role("button", name="Get a model").click()
        page.page.get_by_role("heading", name="No models yet").wait_for()
        assert page.page.get_by_role("button", name="Pull gemma3:270m").count() == 1  # a starter
        page.shot("first-run-models")

        page.page.get_by_label("Model to pull").fill(name)
        page.page.get_by_role("button", name="Pull", exact=True).click()
        percent = "(el) => Number(el.getAttribute('aria-valuenow'))"
        page.page.wait_for_function(
            "() => { const b = document.querySelector('[role=progressbar]');"
            " return b && Number(b.getAttribute('aria-valuenow')) >= 5; }",
            timeout=60_000,
        )
        card = page.page.get_by_test_id("pull-card").filter(has_text=name)
        bar = card.locator("[role=progressbar]")
        assert "/s" in card.inner_text() and "left" in card.inner_text()  # speed and ETA
        assert page.page.locator(".strip").count() == 1  # the strip above every page
        page.shot("pull-progress")
        before_reload = bar.evaluate(percent)

        # A reload does not stop the pull; the page finds it again and goes on showing it.
        page.page.reload()
        page.page.wait_for_function(
            f"() => {{ const b = document.querySelector('[role=progressbar]');"
            f" return b && Number(b.getAttribute('aria-valuenow')) > {before_reload}; }}",
            timeout=60_000,
        )
        card.get_by_role("button", name="Cancel").click()
        card.get_by_role("button", name=f"Resume the pull of {name}").wait_for()
        assert "Cancelled at" in card.inner_text()
        wait_until(
            lambda: not requests.get(fresh.ollama_url + "/api/pulls", timeout=10).json()["pulls"],
            "the cancelled pull is still running",
        )
        kept = re.search(r"Cancelled at ([\d.]+) MB of 253 MB", card.inner_text())
        assert kept and float(kept.group(1)) > 0, card.inner_text()
        page.shot("pull-cancelled")

        card.get_by_role("button", name=f"Resume the pull of {name}").click()
        page.page.get_by_test_id("model-row").filter(has_text=name).wait_for(timeout=120_000)
        tags = requests.get(fresh.ollama_url + "/api/tags", timeout=10).json()["models"]
        assert [model["name"] for model in tags] == [name]
        assert page.errors == []
    finally:
        page.close()


def test_sidebar_rename_pin_delete_with_undo_and_export(page: Page, server: HearthProcess) -> None:
    api = f"{server.url}/api/v1"
    stamp = str(int(time.time() * 1000))
    alpha = stored_chat(
        server,
        [
            {"role": "user", "content": "Alpha question"},
            {"role": "assistant", "content": "Alpha **answer**", "done": True},
        ],
        title=f"Alpha {stamp}",
    )
    beta = stored_chat(server, [{"role": "user", "content": "Beta"}], title=f"Beta {stamp}")
    page.open("/")
    chats = page.page.get_by_test_id("chat-list")
    chats.get_by_text(f"Beta {stamp}").wait_for()
    assert page.page.get_by_text("Today").count() >= 1  # grouped by date

    def actions(title: str) -> None:
        page.page.get_by_role("button", name=f"Actions for {title}").click()

    actions(f"Beta {stamp}")
    page.page.get_by_role("menuitem", name="Rename").click()
    page.page.get_by_label("Rename chat").fill(f"Gamma {stamp}")
    page.page.keyboard.press("Enter")
    chats.get_by_text(f"Gamma {stamp}").wait_for()
    wait_until(
        lambda: requests.get(f"{api}/chats/{beta}", timeout=10).json()["title"] == f"Gamma {stamp}",
        "the new title was not saved",
    )

    actions(f"Alpha {stamp}")
    page.page.get_by_role("menuitem", name="Pin").click()
    wait_until(
        lambda: requests.get(f"{api}/chats/{alpha}", timeout=10).json()["pinned"],
        "the pin was not saved",
    )

    # Delete, then Undo: the chat comes back and is never deleted on the server.
    actions(f"Gamma {stamp}")
    page.page.get_by_role("menuitem", name="Delete").click()
    toast = page.page.get_by_role("status").filter(has_text=f"Deleted “Gamma {stamp}”")
    toast.get_by_role("button", name="Undo").click()
    chats.get_by_text(f"Gamma {stamp}").wait_for()
    time.sleep(5.5)  # past the undo window
    assert requests.get(f"{api}/chats/{beta}", timeout=10).status_code == 200
    # Delete for good.
    actions(f"Gamma {stamp}")
    page.page.get_by_role("menuitem", name="Delete").click()
    chats.get_by_text(f"Gamma {stamp}").wait_for(state="detached")
    wait_until(
        lambda: requests.get(f"{api}/chats/{beta}", timeout=10).status_code == 404,
        "the chat was not deleted after the undo window",
        timeout=15,
        interval=0.2,
    )

    # Export the pinned chat as Markdown.
    chats.get_by_text(f"Alpha {stamp}").click()
    last_answer(page).wait_for()
    page.page.get_by_role("button", name="Export").click()
    with page.page.expect_download() as download:
        page.page.get_by_role("menuitem", name="Markdown (.md)").click()
    text = Path(download.value.path()).read_text()
    assert f"Alpha {stamp}" in text and "Alpha **answer**" in text
    page.shot("sidebar")
    assert page.errors == []
