"""The chat UI's layout, dialogs and accessibility, end to end (issue 18, round two).

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with
the real Gemma 3 270M model, as in ``test_ui_e2e.py`` (whose fixtures this
module reuses). Accessibility is checked with axe-core from npm
(``ui/node_modules/axe-core``, a devDependency: it is injected into the page
by the test, never part of the app bundle). Screenshots land in
``tests/artifacts/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import test_ui_e2e as ui
from tests.conftest import GEMMA_NAME
from tests.hearth_process import REPO, HearthFactory, HearthProcess
from tests.test_ui_e2e import Page, push_gemma, save_metrics, stored_chat
from tests.waiting import wait_until

# The browser, server and page fixtures of the main UI suite, shared by name.
browser = ui.browser
server = ui.server
page = ui.page

AXE = REPO / "ui" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 820}
LAPTOP = {"width": 1280, "height": 800}  # the desktop window of the versions, presets, walk suites
PHONE = {"width": 390, "height": 844}
WIDTHS = (1280, 800, 480, 390, 360)
LAYOUT_METRICS: dict[str, Any] = {}

CODE_ANSWER = (
    "Here is the function:\n\n"
    "```python\n"
    "def is_palindrome(text: str) -> bool:\n"
    "    cleaned = ''.join(ch.lower() for ch in text if ch.isalnum())  # a long line that"
    " scrolls sideways in a narrow window, so the block must be reachable by keyboard\n"
    "    return cleaned == cleaned[::-1]\n"
    "```\n\n"
    "It ignores case and punctuation. Call `is_palindrome('A man, a plan')`."
)


@pytest.fixture(scope="module", autouse=True)
def write_layout_metrics() -> Iterator[None]:
    yield
    if LAYOUT_METRICS:
        save_metrics("ui-layout-metrics.json", LAYOUT_METRICS)


def sized(page: Page, viewport: dict[str, int]) -> Page:
    page.page.set_viewport_size(viewport)
    return page


def desktop_then_phone(page: Page, path: str, desktop: dict[str, int] = DESKTOP) -> Iterator[str]:
    """Open ``path`` in a ``desktop`` window, then in a PHONE one: yields "desktop", then
    "phone", for the checks at each size."""
    for size, viewport in (("desktop", desktop), ("phone", PHONE)):
        sized(page, viewport)
        page.open(path)
        yield size


def code_chat(server: HearthProcess) -> str:
    return stored_chat(
        server,
        [
            {"role": "user", "content": "Write a palindrome check in Python."},
            {"role": "assistant", "content": CODE_ANSWER, "done": True},
        ],
        title="Palindromes",
    )


def axe(page: Page, state: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line per rule and node."""
    p = page.page
    if not p.evaluate("typeof window.axe === 'object'"):
        p.add_script_tag(path=str(AXE))
    found = p.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ['violations'] });
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ': ' + n.failureSummary),
          }));
        }"""
    )
    return [
        f"[{state}] {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in found
    ]


def ask(page: Page, question: str) -> None:
    """Open window.hearth.ask's dialog; its answer lands in window.__answer (not awaited)."""
    page.page.evaluate(
        f"() => {{ window.__answer = undefined;"
        f" window.hearth.ask({question}).then(a => {{ window.__answer = a; }}); }}"
    )


def overflow(page: Page) -> dict[str, Any]:
    """Horizontal overflow of the document and of each page or scroller in it."""
    return page.page.evaluate(
        """() => {
          const doc = document.scrollingElement;
          const clipped = [...document.querySelectorAll('.page, .scroller, .topbar, .composer')]
            .filter(el => el.scrollWidth > el.clientWidth + 1)
            .map(el => `${el.className.split(' ')[0]} ${el.scrollWidth}>${el.clientWidth}`);
          return { scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, clipped };
        }"""
    )


def boxes_meet(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


# ---------------------------------------------------------------------------- layout


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_window(page: Page, server: HearthProcess, width: int) -> None:
    """No horizontal overflow and a usable message box at every width down to 360 px."""
    height = 844 if width <= 480 else 820
    sized(page, {"width": width, "height": height})
    chat_id = code_chat(server)
    page.open(f"/#/c/{chat_id}")
    page.page.locator("[data-testid=message-assistant] pre").wait_for()
    composer = page.page.locator("#composer-input").bounding_box()
    assert composer is not None
    LAYOUT_METRICS[f"composer_width_at_{width}"] = round(composer["width"])
    wanted = 0.6 * width if width <= 480 else 200
    assert composer["width"] > wanted, f"message box {composer['width']} px wide at {width} px"
    send_box = page.page.get_by_test_id("send").bounding_box()
    assert send_box is not None and send_box["x"] + send_box["width"] <= width
    results = {"chat": overflow(page)}
    page.shot(f"layout-chat-{width}")
    page.page.get_by_role("button", name="Chat settings").click()
    results["chat settings"] = overflow(page)
    page.page.get_by_role("button", name="Close chat settings").click()
    page.page.goto(f"{page.url}/#/models/{GEMMA_NAME}")
    page.page.get_by_test_id("model-details").get_by_text("Model info").wait_for()
    results["models"] = overflow(page)
    page.shot(f"layout-models-{width}")
    page.page.goto(f"{page.url}/#/settings")
    page.page.get_by_role("heading", name="Settings", exact=True).wait_for()
    results["settings"] = overflow(page)
    page.shot(f"layout-settings-{width}")
    for where, result in results.items():
        assert result["scrollWidth"] <= result["innerWidth"], (where, result)
        assert result["clipped"] == [], (where, result)
    assert page.errors == []


def test_sidebar_collapses_and_remembers(page: Page, server: HearthProcess) -> None:
    sized(page, DESKTOP)
    page.open("/")
    sidebar = page.page.locator("#sidebar")
    assert sidebar.is_visible()
    page.page.get_by_role("button", name="Hide sidebar").click()
    assert not sidebar.is_visible()
    composer = page.page.locator("#composer-input").bounding_box()
    assert composer is not None and composer["width"] > 600
    page.shot("sidebar-collapsed")
    page.page.reload()
    page.page.wait_for_selector("#composer-input")
    assert not sidebar.is_visible(), "the collapsed sidebar came back after a reload"
    page.page.get_by_role("button", name="Show sidebar").click()
    assert sidebar.is_visible()
    page.page.reload()
    page.page.wait_for_selector("#composer-input")
    assert sidebar.is_visible()
    assert page.errors == []


def test_phone_sidebar_is_a_drawer(page: Page, server: HearthProcess) -> None:
    """At phone width the sidebar starts closed, opens over the page and closes on a pick."""
    chat_id = code_chat(server)
    sized(page, PHONE)
    page.open("/")
    sidebar = page.page.locator("#sidebar")
    assert not sidebar.is_visible()
    page.page.get_by_role("button", name="Show sidebar").click()
    assert sidebar.is_visible()
    page.shot("phone-drawer")
    sidebar.locator(f"a[href='#/c/{chat_id}']").click()
    page.page.locator("[data-testid=message-assistant]").wait_for()
    assert not sidebar.is_visible(), "the drawer stayed open over the chat"
    page.page.get_by_role("button", name="Show sidebar").click()
    page.page.keyboard.press("Escape")
    assert not sidebar.is_visible(), "Escape did not close the drawer"
    assert page.errors == []


# ---------------------------------------------------------------------------- item 7


def test_export_menu_closes_on_escape_and_outside_click(page: Page, server: HearthProcess) -> None:
    page.open(f"/#/c/{code_chat(server)}")
    export = page.page.get_by_role("button", name="Export")
    export.click()
    menu = page.page.get_by_role("menu")
    menu.wait_for()
    page.page.keyboard.press("Escape")
    menu.wait_for(state="detached")
    assert page.page.evaluate("document.activeElement.textContent.trim()") == "Export"
    export.click()
    menu.wait_for()
    page.page.locator(".thread").click(position={"x": 5, "y": 5})
    menu.wait_for(state="detached")
    assert page.errors == []


def test_message_actions_are_visible_without_hover(page: Page, server: HearthProcess) -> None:
    page.open(f"/#/c/{code_chat(server)}")
    page.page.mouse.move(1, 1)
    actions = page.page.locator("[data-testid=message-assistant] [role=toolbar]")
    actions.wait_for()
    opacity = float(actions.evaluate("el => getComputedStyle(el).opacity"))
    LAYOUT_METRICS["message_actions_opacity"] = opacity
    assert opacity >= 0.6


def test_jump_to_latest_in_a_long_chat(page: Page, server: HearthProcess) -> None:
    messages: list[dict[str, Any]] = []
    for number in range(30):
        messages.append({"role": "user", "content": f"Question {number}?"})
        messages.append(
            {"role": "assistant", "content": f"Answer {number}. " + "Words " * 60, "done": True}
        )
    chat_id = stored_chat(server, messages, title="Long chat")
    page.open(f"/#/c/{chat_id}")
    page.page.get_by_text("Answer 29.").wait_for()
    jump = page.page.get_by_role("button", name="Jump to latest")
    at_bottom = "(() => { const s = document.querySelector('.scroller');"
    at_bottom += " return s.scrollHeight - s.scrollTop - s.clientHeight < 4; })()"
    page.page.wait_for_function(at_bottom)
    assert jump.count() == 0
    page.page.locator(".scroller").evaluate("s => s.scrollTo({ top: 0 })")
    jump.wait_for()
    page.shot("jump-to-latest")
    violations = axe(page, "long chat, scrolled up")
    assert violations == [], "\n".join(violations)
    jump.click()
    page.page.wait_for_function(at_bottom)
    jump.wait_for(state="detached")
    assert page.errors == []


def test_chat_settings_show_the_model_defaults(page: Page, server: HearthProcess) -> None:
    """Empty fields say what the model would use (from /api/show), not just 'model default'."""
    page.open("/")
    page.page.get_by_role("button", name="Chat settings").click()
    context = page.page.get_by_label("Context length")
    wait_until(
        lambda: re.search(r"\d", context.get_attribute("placeholder") or "") is not None,
        "the context length field does not show the model's value",
    )
    shown = requests.post(
        server.ollama_url + "/api/show", json={"model": GEMMA_NAME}, timeout=10
    ).json()
    length = next(v for k, v in shown["model_info"].items() if k.endswith(".context_length"))
    assert f"{length:,}" in (context.get_attribute("placeholder") or "") or str(length) in (
        context.get_attribute("placeholder") or ""
    )
    assert re.search(r"\d", page.page.get_by_label("Temperature").get_attribute("placeholder"))
    # one Settings page: the chat's panel links to the defaults for new chats
    panel = page.page.get_by_label("Chat settings", exact=True)
    assert panel.get_by_role("link", name=re.compile("defaults for new chats", re.I)).count() == 1
    page.shot("chat-settings-defaults")
    assert page.errors == []


def test_settings_show_the_system_in_words(page: Page, server: HearthProcess) -> None:
    page.open("/#/settings")
    section = page.page.get_by_role("region", name="System")
    section.get_by_text("Data folder").wait_for()
    text = section.inner_text()
    assert "{" not in text and '"' not in text, "the System section is raw JSON"
    system = requests.get(f"{server.url}/api/v1/system", timeout=10).json()
    assert system["versions"]["hearth"] in text
    assert system["directories"]["data"] in text
    assert page.errors == []


def test_model_details_do_not_cover_the_table(page: Page, server: HearthProcess) -> None:
    for width in (1280, 800):
        sized(page, {"width": width, "height": 820})
        page.open(f"/#/models/{GEMMA_NAME}")
        details = page.page.get_by_test_id("model-details")
        details.get_by_text("Model info").wait_for()
        table = page.page.locator("table").bounding_box()
        panel = details.bounding_box()
        assert table is not None and panel is not None
        assert not boxes_meet(table, panel), f"the details cover the table at {width} px"
        cut = page.page.locator("table").evaluate(
            "t => t.scrollWidth > t.parentElement.clientWidth + 1"
        )
        assert not cut, f"the table is cut at {width} px"
        page.shot(f"models-details-{width}")
    assert page.errors == []


def test_a_not_found_pull_offers_no_resume(page: Page, registry: Any) -> None:
    name = f"{registry.host}/library/no-such-model:1"
    page.open("/#/models")
    page.page.get_by_label("Model to pull").fill(name)
    page.page.get_by_role("button", name="Pull", exact=True).click()
    card = page.page.get_by_test_id("pull-card").filter(has_text=name)
    card.get_by_role("alert").wait_for(timeout=60_000)
    assert card.get_by_role("button", name=re.compile("Resume")).count() == 0
    assert card.get_by_role("button", name="Dismiss").count() == 1
    page.shot("pull-not-found")


# ---------------------------------------------------------------------------- dialogs


def test_about_and_pull_dialogs_in_the_page(page: Page, server: HearthProcess) -> None:
    """Hearth's own dialogs (the desktop menu opens these, not window.prompt)."""
    page.open("/#/settings")
    page.page.get_by_role("button", name="About Hearth").click()
    about = page.page.get_by_role("dialog", name="About Hearth")
    system = requests.get(f"{server.url}/api/v1/system", timeout=10).json()
    # The licence line is static; the facts arrive with the page's own /system fetch,
    # and "Loading…" is drawn in the same render as the dialog until they do.
    about.wait_for()
    about.get_by_text("Loading…").wait_for(state="detached")
    assert system["versions"]["hearth"] in about.inner_text()
    assert system["directories"]["data"] in about.inner_text()
    page.shot("about")
    page.page.keyboard.press("Escape")
    about.wait_for(state="detached")

    # window.hearth.ask: the pull dialog with suggestions; Enter answers, Escape cancels.
    ask(
        page,
        "{ title: 'Pull a model', label: 'Model to pull',"
        " suggestions: ['gemma3:270m', 'qwen3:0.6b'] }",
    )
    dialog = page.page.get_by_role("dialog", name="Pull a model")
    dialog.get_by_role("button", name="qwen3:0.6b").click()
    assert dialog.get_by_label("Model to pull").input_value() == "qwen3:0.6b"
    page.shot("pull-dialog")
    page.page.keyboard.press("Enter")
    page.page.wait_for_function("window.__answer !== undefined")
    assert page.page.evaluate("window.__answer") == "qwen3:0.6b"
    ask(page, "{ title: 'Name', label: 'Name' }")
    page.page.get_by_role("dialog", name="Name").wait_for()
    page.page.keyboard.press("Escape")
    page.page.wait_for_function("window.__answer !== undefined")
    assert page.page.evaluate("window.__answer") is None
    assert page.errors == []


# ---------------------------------------------------------------------------- item 2


def test_a_pulled_model_is_selected_and_toasts_clear_send(
    browser: Any, registry: Any, make_hearth: HearthFactory, gemma_gguf_path: Path
) -> None:
    """A fresh install with no model: pull one from the chat page; it becomes the chat's
    model, Send works, and the ready toast sits clear of Send (desktop and phone)."""
    name = push_gemma(registry, "library/selectme", gemma_gguf_path)
    fresh = make_hearth()
    page = Page(browser, fresh.url)
    try:
        for viewport in (DESKTOP, PHONE):
            sized(page, viewport)
            page.open("/")
            page.page.get_by_text("No models are installed yet.").wait_for()
            page.page.fill("#composer-input", "Hello")
            assert page.page.get_by_test_id("send").is_disabled()
            hint = page.page.locator("#composer-hint")
            assert "model" in hint.inner_text().lower(), "a disabled Send gives no hint"
            page.page.get_by_role("button", name="Pull a model…").click()
            dialog = page.page.get_by_role("dialog", name="Pull a model")
            dialog.get_by_label("Model to pull").fill(name)
            dialog.get_by_role("button", name="Pull", exact=True).click()
            toast = page.page.get_by_role("status").filter(has_text=f"{name} is ready")
            toast.wait_for(timeout=120_000)
            picker = page.page.get_by_test_id("model-picker")
            assert name in picker.inner_text(), "the pulled model was not selected"
            page.page.fill("#composer-input", "Hello")
            send_button = page.page.get_by_test_id("send")
            assert send_button.is_enabled()
            toast_box = toast.locator(".toast").first.bounding_box()
            send_box = send_button.bounding_box()
            assert toast_box is not None and send_box is not None
            assert not boxes_meet(toast_box, send_box), (toast_box, send_box)
            page.shot(f"pulled-selected-{viewport['width']}")
            toast.get_by_role("button", name="Start chatting").click()
            assert page.page.evaluate("document.activeElement.id") == "composer-input"
            # the next round starts with no model again
            requests.delete(fresh.ollama_url + "/api/delete", json={"model": name}, timeout=30)
            page.page.reload()
            page.page.wait_for_selector("#composer-input")
            wait_until(
                lambda: name not in page.page.get_by_test_id("model-picker").inner_text(),
                "the deleted model is still chosen",
            )
        assert page.errors == []
    finally:
        page.close()


# ---------------------------------------------------------------------------- item 8


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_axe_violations_on_any_page(
    page: Page, server: HearthProcess, viewport: dict[str, int]
) -> None:
    sized(page, viewport)
    phone = viewport is PHONE
    p = page.page
    chat_id = code_chat(server)
    found: list[str] = []
    started = time.monotonic()

    page.open("/")
    found += axe(page, "new chat")
    p.get_by_test_id("model-picker").click()
    p.get_by_role("listbox").wait_for()
    found += axe(page, "model picker open")
    p.keyboard.press("Escape")

    page.open(f"/#/c/{chat_id}")
    p.locator("[data-testid=message-assistant] pre").wait_for()
    found += axe(page, "chat with code")
    p.get_by_role("button", name="Export").click()
    found += axe(page, "export menu")
    p.keyboard.press("Escape")
    p.get_by_role("button", name="Chat settings").click()
    found += axe(page, "chat settings")
    p.get_by_role("button", name="Close chat settings").click()
    if phone:
        p.get_by_role("button", name="Show sidebar").click()
        found += axe(page, "drawer open")
        p.keyboard.press("Escape")
    else:
        p.get_by_role("button", name="Hide sidebar").click()
        found += axe(page, "sidebar hidden")
        p.get_by_role("button", name="Show sidebar").click()

    p.goto(f"{page.url}/#/models/{GEMMA_NAME}")
    p.get_by_test_id("model-details").get_by_text("Model info").wait_for()
    found += axe(page, "models with details")
    p.get_by_test_id("delete-model").click()
    p.get_by_role("dialog").wait_for()
    found += axe(page, "delete dialog")
    p.keyboard.press("Escape")

    p.goto(f"{page.url}/#/settings")
    p.get_by_role("heading", name="Settings", exact=True).wait_for()
    p.get_by_text("Data folder").wait_for()
    found += axe(page, "settings")
    p.get_by_role("button", name="About Hearth").click()
    p.get_by_role("dialog", name="About Hearth").get_by_text("MIT").wait_for()
    found += axe(page, "about dialog")
    p.keyboard.press("Escape")
    ask(page, "{ title: 'Pull a model', suggestions: ['gemma3:270m'] }")
    p.get_by_role("dialog", name="Pull a model").wait_for()
    found += axe(page, "pull dialog")
    p.keyboard.press("Escape")

    # The code colours in the dark theme too.
    p.get_by_label("Dark").check()
    page.open(f"/#/c/{chat_id}")
    p.locator("[data-testid=message-assistant] pre").wait_for()
    found += axe(page, "chat with code, dark")
    p.goto(f"{page.url}/#/settings")
    p.get_by_label("Match the system").check()
    LAYOUT_METRICS[f"axe_run_{'phone' if phone else 'desktop'}_s"] = round(
        time.monotonic() - started, 1
    )
    assert found == [], "\n".join(found)
    assert page.errors == []
