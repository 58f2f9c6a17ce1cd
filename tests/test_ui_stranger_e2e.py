"""Defects a walk through the UI as a newcomer from Open WebUI or LM Studio found, each
pinned by a test: a chat deleted just before a reload came back; a chat deleted in
another tab turned the page's chat history off for the rest of the session; the chat
settings panel ignored Escape and dropped the keyboard focus when it closed; with no
model installed, nothing said how to use a .gguf file already on disk.

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with the real
Gemma 3 270M. Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

from typing import Any

import requests

from tests import test_ui_e2e as ui
from tests.hearth_process import HearthFactory, HearthProcess
from tests.test_ui_e2e import Page, send, stored_chat, wait_done
from tests.test_ui_layout_e2e import LAPTOP, sized
from tests.waiting import wait_until

browser = ui.browser
server = ui.server
page = ui.page


def chat_status(server: HearthProcess, chat_id: str) -> int:
    return requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10).status_code


def chat_titles(server: HearthProcess) -> list[str]:
    reply = requests.get(f"{server.url}/api/v1/chats?limit=200", timeout=10)
    return [chat["title"] for chat in reply.json()["chats"]]


def test_a_chat_deleted_just_before_a_reload_stays_deleted(
    page: Page, server: HearthProcess
) -> None:
    """The delete waited 5 s for Undo in a timer; a reload or a closed window dropped it."""
    chat_id = stored_chat(server, [{"role": "user", "content": "Forget this"}], title="Secret")
    sized(page, LAPTOP)
    page.open(f"/#/c/{chat_id}")
    p = page.page
    p.get_by_role("button", name="Actions for Secret").click()
    p.get_by_role("menuitem", name="Delete").click()
    p.get_by_text("Deleted “Secret”").wait_for()
    p.reload()  # at once, well inside the undo window
    p.wait_for_selector("#composer-input")
    wait_until(lambda: chat_status(server, chat_id) == 404, "the deleted chat came back")
    assert "Secret" not in p.locator("#sidebar").inner_text()
    assert page.errors == []


def test_undo_still_keeps_the_chat(page: Page, server: HearthProcess) -> None:
    chat_id = stored_chat(server, [{"role": "user", "content": "Keep this"}], title="Keeper")
    sized(page, LAPTOP)
    page.open(f"/#/c/{chat_id}")
    p = page.page
    p.get_by_role("button", name="Actions for Keeper").click()
    p.get_by_role("menuitem", name="Delete").click()
    p.get_by_role("button", name="Undo").click()
    p.reload()
    p.wait_for_selector("#composer-input")
    p.locator("#sidebar").get_by_text("Keeper").wait_for()
    assert chat_status(server, chat_id) == 200
    assert page.errors == []


def test_a_chat_deleted_in_another_tab_leaves_history_on(page: Page, server: HearthProcess) -> None:
    """A 404 for that one chat read as "this server has no chat history": the page said
    so, and every later chat of the session lived only in the window."""
    chat_id = stored_chat(
        server,
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello.", "done": True},
        ],
        title="Elsewhere",
        options={"num_predict": 8, "temperature": 0, "seed": 1},
    )
    sized(page, LAPTOP)
    page.open(f"/#/c/{chat_id}")
    gone = requests.delete(f"{server.url}/api/v1/chats/{chat_id}", timeout=10)
    assert gone.status_code == 200, gone.text
    p = page.page
    send(page, "Still there?")
    p.get_by_text("This chat was deleted, perhaps in another window").wait_for()
    wait_done(page)
    page.shot("stranger-chat-deleted-elsewhere")
    assert p.get_by_text("Chat history is not available on this server").count() == 0
    p.get_by_test_id("new-chat").click()
    p.get_by_role("button", name="Chat settings").click()
    p.get_by_label("Max answer tokens").fill("8")
    p.get_by_label("Max answer tokens").dispatch_event("change")
    p.get_by_role("button", name="Close chat settings").click()
    send(page, "A new chat after that")
    wait_done(page)
    wait_until(
        lambda: any(title.startswith("A new chat after") for title in chat_titles(server)),
        "the next chat was not saved on the server",
    )
    assert [e for e in page.errors if "404" not in e] == []


def test_escape_closes_chat_settings_and_keeps_the_edit(page: Page, server: HearthProcess) -> None:
    """Escape did nothing in the panel, and closing it left the focus on <body>."""
    chat_id = stored_chat(server, [{"role": "user", "content": "Hi"}], title="Settings")
    sized(page, LAPTOP)
    page.open(f"/#/c/{chat_id}")
    p = page.page
    toggle = p.get_by_role("button", name="Chat settings")
    toggle.click()
    p.get_by_label("Temperature").fill("0.3")
    p.keyboard.press("Escape")
    p.get_by_label("Temperature").wait_for(state="detached")
    assert p.evaluate("document.activeElement.getAttribute('aria-label')") == "Chat settings"
    wait_until(
        lambda: (
            requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10)
            .json()["options"]
            .get("temperature")
            == 0.3
        ),
        "the temperature typed before Escape was not saved",
    )
    toggle.click()
    p.get_by_role("button", name="Close chat settings").click()
    assert p.evaluate("document.activeElement.getAttribute('aria-label')") == "Chat settings"
    assert page.errors == []


def test_the_first_run_screens_say_how_to_import_a_gguf_file(
    browser: Any, make_hearth: HearthFactory
) -> None:
    """Only "Pull a model…" (the network) was offered; someone coming from LM Studio has
    .gguf files, and the import is in the window's File menu and the CLI."""
    fresh = make_hearth()
    page = Page(browser, fresh.url)
    try:
        sized(page, LAPTOP)
        for path in ("/", "/#/models"):
            page.open(path)
            hint = page.page.get_by_test_id("gguf-hint")
            hint.wait_for()
            text = hint.inner_text()
            assert "File › Import GGUF…" in text and "hearth import FILE NAME" in text, text
        page.open("/")
        page.page.get_by_test_id("gguf-hint").wait_for()
        page.shot("stranger-first-run-gguf-hint")
        assert page.errors == []
    finally:
        page.close()


def test_chat_settings_on_a_phone_lie_above_the_sidebar_toggle(
    page: Page, server: HearthProcess
) -> None:
    """At 360 px the panel left a 20 px strip, and the sidebar toggle (≡) floated over
    the panel's heading, clickable."""
    chat_id = stored_chat(server, [{"role": "user", "content": "Hi"}], title="Phone")
    sized(page, {"width": 360, "height": 740})
    page.open(f"/#/c/{chat_id}")
    p = page.page
    p.get_by_role("button", name="Chat settings").click()
    panel = p.get_by_role("region", name="Chat settings")
    panel.wait_for()
    page.shot("stranger-phone-chat-settings")
    box = panel.bounding_box()
    assert box is not None and round(box["x"]) == 0 and round(box["width"]) == 360, box
    toggle = p.locator(".sidebar-toggle").bounding_box()
    assert toggle is not None
    on_top = p.evaluate(
        "([x, y]) => !!document.elementFromPoint(x, y)?.closest('section.panel')",
        [toggle["x"] + toggle["width"] / 2, toggle["y"] + toggle["height"] / 2],
    )
    assert on_top, "the sidebar toggle shows over the chat settings panel"
    p.keyboard.press("Escape")
    panel.wait_for(state="detached")
    assert page.errors == []


def test_keep_loaded_says_what_it_takes(page: Page, server: HearthProcess) -> None:
    """ "forever" in Keep loaded was saved, and every answer of the chat then failed with
    the API's "time: invalid duration 'forever'", naming no field."""
    chat_id = stored_chat(
        server,
        [{"role": "user", "content": "Hi"}],
        title="Keep",
        options={"num_predict": 8, "temperature": 0, "seed": 1},
    )
    sized(page, LAPTOP)
    page.open(f"/#/c/{chat_id}")
    p = page.page
    p.get_by_role("button", name="Chat settings").click()
    field = p.get_by_label("Keep loaded")
    field.fill("forever")
    field.dispatch_event("change")
    p.get_by_role("alert").filter(has_text="duration such as").wait_for()
    assert field.get_attribute("aria-invalid") == "true"
    page.shot("stranger-keep-loaded-invalid")
    stored = requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10).json()
    assert stored["options"].get("keep_alive") != "forever"
    p.keyboard.press("Escape")
    send(page, "Hello?")
    wait_done(page)
    assert "invalid duration" not in p.locator("main").inner_text()
    p.get_by_role("button", name="Chat settings").click()
    field.fill("10m")
    field.dispatch_event("change")
    wait_until(
        lambda: (
            requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10)
            .json()["options"]
            .get("keep_alive")
            == "10m"
        ),
        "a valid Keep loaded was not saved",
    )
    assert p.get_by_role("alert").filter(has_text="duration such as").count() == 0
    assert page.errors == []


def test_an_answer_stopped_before_its_first_token_says_so(
    page: Page, server: HearthProcess
) -> None:
    """Stop pressed while the model loaded read "The model answered with no text. stopped"."""
    chat_id = stored_chat(
        server,
        [
            {"role": "user", "content": "Hello cold model"},
            {
                "role": "assistant",
                "content": "",
                "done": True,
                "stats": {"stopped": True, "done_reason": "stopped"},
            },
        ],
        title="Stopped early",
    )
    sized(page, LAPTOP)
    page.open(f"/#/c/{chat_id}")
    answer = page.page.get_by_test_id("message-assistant")
    answer.get_by_text("Stopped before the model answered.").wait_for()
    assert answer.get_by_text("The model answered with no text.").count() == 0
    assert page.errors == []
