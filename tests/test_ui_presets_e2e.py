"""Presets, the catalogue registry field and pull cards on a phone (issue 18), end to end.

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with
the real Gemma 3 270M: a preset is saved from a chat's settings, a new chat
starts from it and the chat request the page sends carries its system prompt
and options; Settings renames and deletes presets and refuses a bad catalogue
registry at the field; a pull card (in progress, cancelled, failed) fits a
360 and a 390 px wide window. axe-core finds nothing; screenshots land in
``tests/artifacts/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import test_ui_e2e as ui
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess
from tests.test_ui_e2e import Page, push_gemma, wait_done
from tests.test_ui_layout_e2e import LAPTOP, PHONE, axe, desktop_then_phone, sized
from tests.waiting import wait_until

browser = ui.browser
server = ui.server
page = ui.page

SYSTEM = "You are a terse pirate. Answer in one short sentence."
PRESET_OPTIONS = {"temperature": 0, "seed": 11, "num_predict": 8}


@pytest.fixture
def no_presets(server: HearthProcess) -> Iterator[str]:
    """The presets API of the shared server, emptied before and after the test."""
    url = f"{server.url}/api/v1/presets"

    def clear() -> None:
        for preset in requests.get(url, timeout=10).json()["presets"]:
            requests.delete(f"{url}/{preset['id']}", timeout=10)

    clear()
    yield url
    clear()


def stored_presets(url: str) -> list[dict[str, Any]]:
    return requests.get(url, timeout=10).json()["presets"]


def fill(page: Page, label: str, value: str) -> None:
    field = page.page.get_by_label(label, exact=True)
    field.fill(value)
    field.dispatch_event("change")


def unexpected(page: Page, status: str) -> list[str]:
    """Console errors but the browser's own line for a refusal the test provoked on purpose."""
    return [e for e in page.errors if f"status of {status}" not in e]


def answer_dialog(page: Page, value: str) -> None:
    dialog = page.page.get_by_role("dialog")
    dialog.get_by_label("Preset name").fill(value)
    dialog.get_by_label("Preset name").press("Enter")


def test_save_a_preset_and_start_a_new_chat_from_it(
    page: Page, server: HearthProcess, no_presets: str
) -> None:
    found: list[str] = []
    for size in desktop_then_phone(page, "/", LAPTOP):
        name = f"Terse pirate ({size})"
        # A chat's settings, tried out, then saved under a name.
        page.page.get_by_role("button", name="Chat settings").click()
        panel = page.page.get_by_label("Chat settings", exact=True)
        panel.locator("textarea").fill(SYSTEM)
        panel.locator("textarea").dispatch_event("change")
        fill(page, "Temperature", "0")
        fill(page, "Seed", "11")
        fill(page, "Max answer tokens", "8")
        panel.get_by_role("button", name="Save as preset…").click()
        page.page.get_by_role("dialog").wait_for()
        page.shot(f"preset-save-{size}")
        found += axe(page, f"save-as-preset dialog, {size}")
        answer_dialog(page, name)
        page.page.get_by_text(f"Saved the preset “{name}”").wait_for()
        (saved,) = [p for p in stored_presets(no_presets) if p["name"] == name]
        assert saved["system"] == SYSTEM
        assert {k: saved["options"].get(k) for k in PRESET_OPTIONS} == PRESET_OPTIONS
        assert saved["model"] == GEMMA_NAME

        # The same name again: refused with the server's words, and asked again.
        panel.get_by_role("button", name="Save as preset…").click()
        answer_dialog(page, name.upper())
        page.page.get_by_text("already exists").first.wait_for()
        assert page.page.get_by_role("dialog").get_by_label("Preset name").input_value() == (
            name.upper()
        )
        page.page.keyboard.press("Escape")
        assert len([p for p in stored_presets(no_presets) if p["name"] == name]) == 1

        # A new window: the empty chat offers the preset; picking it sets this chat up.
        page.open("/")
        picker = page.page.get_by_label("Start from a preset")
        picker.wait_for()
        picker.select_option(label=f"{name} ({GEMMA_NAME})")
        page.page.get_by_role("status").filter(has_text=name).wait_for()
        page.shot(f"preset-picked-{size}")
        found += axe(page, f"empty chat with a preset picked, {size}")
        page.page.get_by_role("button", name="Chat settings").click()
        assert panel.locator("textarea").input_value() == SYSTEM
        assert page.page.get_by_label("Max answer tokens").input_value() == "8"
        page.page.get_by_role("button", name="Close chat settings").click()

        # The request the page sends carries the preset's system prompt and options.
        with page.expect_chat_request() as sent:
            page.page.fill("#composer-input", "Where is the treasure?")
            page.page.keyboard.press("Enter")
        body = json.loads(sent.value.post_data or "{}")
        assert body["messages"][0] == {"role": "system", "content": SYSTEM}
        assert {k: body["options"].get(k) for k in PRESET_OPTIONS} == PRESET_OPTIONS
        wait_done(page)
        chat_id = page.page.evaluate("location.hash").rsplit("/", 1)[-1]
        chat = requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10).json()
        assert chat["system"] == SYSTEM
        assert {k: chat["options"].get(k) for k in PRESET_OPTIONS} == PRESET_OPTIONS
    assert found == [], "\n".join(found)
    assert unexpected(page, "409") == []


def test_presets_are_renamed_and_deleted_in_settings(
    page: Page, server: HearthProcess, no_presets: str
) -> None:
    first = requests.post(no_presets, json={"name": "Storyteller", "system": "Tell tales."}).json()
    requests.post(no_presets, json={"name": "Coder", "options": {"temperature": 0.2}})
    found: list[str] = []
    for size in desktop_then_phone(page, "/#/settings", LAPTOP):
        listed = page.page.get_by_test_id("presets")
        listed.get_by_text("Coder").wait_for()
        assert "temperature 0.2" in listed.inner_text()
        page.shot(f"presets-settings-{size}")
        found += axe(page, f"settings with presets, {size}")
    # Rename; a name another preset has is refused and asked again.
    listed.get_by_role("button", name="Rename the preset Storyteller").click()
    answer_dialog(page, "coder")
    page.page.get_by_text("already exists").first.wait_for()
    answer_dialog(page, "Bard")
    listed.get_by_text("Bard").wait_for()
    assert {p["name"] for p in stored_presets(no_presets)} == {"Bard", "Coder"}
    # Delete, then Undo saves it again (a new id, the same fields).
    listed.get_by_role("button", name="Delete the preset Bard").click()
    wait_until(lambda: len(stored_presets(no_presets)) == 1, "the preset was not deleted")
    page.page.get_by_role("button", name="Undo").click()
    wait_until(lambda: len(stored_presets(no_presets)) == 2, "Undo did not restore the preset")
    (bard,) = [p for p in stored_presets(no_presets) if p["name"] == "Bard"]
    assert bard["system"] == first["system"] and bard["id"] != first["id"]
    listed.get_by_text("Bard").wait_for()
    assert found == [], "\n".join(found)
    assert unexpected(page, "409") == []


def test_the_catalogue_registry_field_saves_and_refuses(page: Page, server: HearthProcess) -> None:
    settings = f"{server.url}/api/v1/settings"
    found: list[str] = []
    try:
        for size in desktop_then_phone(page, "/#/settings", LAPTOP):
            field = page.page.get_by_test_id("catalogue-registry")
            field.fill("127.0.0.1:5000")
            field.dispatch_event("change")
            wait_until(
                lambda: (
                    requests.get(settings, timeout=10).json()["catalogue_registry"]
                    == "127.0.0.1:5000"
                ),
                "the registry was not saved",
            )
            field.fill("evil.example/x?y")
            field.dispatch_event("change")
            alert = page.page.get_by_role("alert").filter(has_text="catalogue_registry")
            alert.wait_for()
            assert "registry host such as example.com:5000" in alert.inner_text()
            assert field.get_attribute("aria-invalid") == "true"
            assert requests.get(settings, timeout=10).json()["catalogue_registry"] == (
                "127.0.0.1:5000"
            )
            page.shot(f"catalogue-registry-refused-{size}")
            found += axe(page, f"settings, a refused registry, {size}")
            field.fill("")
            field.dispatch_event("change")
            wait_until(
                lambda: requests.get(settings, timeout=10).json()["catalogue_registry"] is None,
                "clearing the field did not reset the registry",
            )
            assert page.page.get_by_role("alert").filter(has_text="catalogue_registry").count() == 0
            assert field.get_attribute("aria-invalid") is None
        assert found == [], "\n".join(found)
        assert unexpected(page, "400") == []
    finally:
        requests.patch(settings, json={"catalogue_registry": None}, timeout=10)


CLIPPED = """(card) => {
  const box = card.getBoundingClientRect();
  const out = [];
  if (box.right > window.innerWidth + 0.5)
    out.push(`card ends at ${box.right} > ${window.innerWidth}`);
  if (document.scrollingElement.scrollWidth > window.innerWidth)
    out.push(`the page scrolls sideways: ${document.scrollingElement.scrollWidth}`);
  for (const el of [card, ...card.querySelectorAll('*')]) {
    if (!el.getClientRects().length) continue;  // not shown (a closed details' body)
    const kind = el.className ? '.' + String(el.className).split(' ')[0] : '';
    const name = el.tagName.toLowerCase() + kind;
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth)
      out.push(`${name} scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
    const r = el.getBoundingClientRect();
    if (r.width && (r.right > box.right + 0.5 || r.left < box.left - 0.5))
      out.push(`${name} [${r.left}, ${r.right}] outside the card [${box.left}, ${box.right}]`);
  }
  return out;
}"""


def clipped(page: Page, card: Any, state: str) -> list[str]:
    """What is cut off in ``card`` at 360 and 390 px wide; screenshots of both."""
    problems: list[str] = []
    for width in (390, 360):
        sized(page, {"width": width, "height": 844})
        card.scroll_into_view_if_needed()
        problems += [f"[{state}, {width} px] {p}" for p in card.evaluate(CLIPPED)]
        page.shot(f"pull-card-{state}-{width}")
    return problems


def test_pull_cards_are_not_clipped_on_a_phone(
    browser: Any,
    registry: Any,
    make_hearth: HearthFactory,
    gemma_gguf_path: Path,
) -> None:
    """A long model name at phone widths, while pulling, cancelled and failed.

    Pulls are slowed by Hearth's own cap (HEARTH_PULL_MAX_BPS) so the card can be
    measured while it shows progress, speed and time left.
    """
    repository = "library/a-rather-long-model-name-for-small-phones"
    name = push_gemma(registry, repository, gemma_gguf_path)
    fresh = make_hearth(env={"HEARTH_PULL_MAX_BPS": "4000000"})
    page = Page(browser, fresh.url)
    try:
        sized(page, PHONE)
        page.open("/#/models")
        page.page.get_by_label("Model to pull").fill(name)
        page.page.get_by_role("button", name="Pull", exact=True).click()
        card = page.page.get_by_test_id("pull-card").filter(has_text=name)
        card.get_by_text(" left").wait_for(timeout=60_000)  # progress with speed and ETA
        problems = clipped(page, card, "pulling")
        found = axe(page, "a pull in progress on a phone")

        card.get_by_role("button", name="Cancel").click()
        card.get_by_text("Cancelled at").wait_for()
        problems += clipped(page, card, "cancelled")
        found += axe(page, "a cancelled pull on a phone")

        missing = f"{registry.host}/library/no-such-model-with-a-long-name-too:1"
        page.page.get_by_label("Model to pull").fill(missing)
        page.page.get_by_role("button", name="Pull", exact=True).click()
        failed = page.page.get_by_test_id("pull-card").filter(has_text=missing)
        failed.get_by_role("alert").wait_for(timeout=60_000)
        problems += clipped(page, failed, "failed")
        assert problems == [], "\n".join(problems)
        assert found == [], "\n".join(found)
        assert page.errors == []
    finally:
        page.close()
