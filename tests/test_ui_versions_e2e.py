"""Versions of answers and prompts in the chat UI (issue 18 item 3), end to end.

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with
the real Gemma 3 270M: Regenerate keeps the first answer as version 1 of 2,
Edit keeps the first prompt (with its answers) as version 1 of 2, the ‹ › buttons
step between them, and a reload shows the branch last chosen, which the server
keeps as ``chats.current_id``. At 1280x800 and 390x844; axe-core finds nothing
in any state; screenshots land in ``tests/artifacts/``.

Two answers to the same prompt must differ for "version 1 shows the first
answer" to mean anything, so the chat samples (temperature 1) with a fixed seed
that the test changes before Regenerate: each answer is reproducible, and the
two are different. ``long_answers`` turns off the stop strings so each answer
runs to its 16 tokens instead of ending at the pretrained model's first marker.
"""

from __future__ import annotations

from typing import Any

import requests

from tests import test_ui_e2e as ui
from tests.hearth_process import HearthProcess
from tests.test_ui_e2e import Page, send, wait_done
from tests.test_ui_layout_e2e import LAPTOP, axe, desktop_then_phone

browser = ui.browser
server = ui.server
page = ui.page
long_answers = ui.long_answers

FIRST_PROMPT = "Name one color."
SECOND_PROMPT = "Name one animal."


def sampling(page: Page, seed: int) -> None:
    """This chat samples at temperature 1 with ``seed``: reproducible, and seeds differ."""
    p = page.page
    p.get_by_role("button", name="Chat settings").click()
    for label, value in (("Temperature", "1"), ("Seed", str(seed)), ("Max answer tokens", "16")):
        p.get_by_label(label, exact=True).fill(value)
        p.get_by_label(label, exact=True).dispatch_event("change")
    p.get_by_role("button", name="Close chat settings").click()


def answer(page: Page) -> Any:
    """The one answer shown (the chat is one prompt and its answer at every step)."""
    shown = page.page.get_by_test_id("message-assistant")
    assert shown.count() == 1, f"{shown.count()} answers shown"
    return shown.first


def prompt(page: Page) -> Any:
    shown = page.page.get_by_test_id("message-user")
    assert shown.count() == 1, f"{shown.count()} prompts shown"
    return shown.first


def words(text: str) -> str:
    """Text with its whitespace folded: the rendered answer against the stored Markdown."""
    return " ".join(text.split())


def answer_text(page: Page) -> str:
    return words(answer(page).locator(".md").inner_text())


def versions_of(message: Any) -> str | None:
    """The version group's name ("Version 1 of 2"), or None when it shows no ‹ ›."""
    group = message.get_by_role("group", name="Version", exact=False)
    return group.get_attribute("aria-label") if group.count() else None


def shows(page: Page, role: str, expected: str) -> None:
    """Wait until the shown message of ``role`` (user, assistant) is "Version i of n"."""
    message = page.page.get_by_test_id(f"message-{role}")
    message.get_by_role("group", name=expected, exact=True).wait_for()


def step(page: Page, role: str, direction: str, expected: str) -> None:
    """Press ‹ or › on the shown message of ``role`` and wait for ``expected``."""
    message = page.page.get_by_test_id(f"message-{role}")
    message.get_by_role("button", name=f"{direction} version").click()
    shows(page, role, expected)


def stored(server: HearthProcess, chat_id: str) -> dict[str, Any]:
    return requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10).json()


def test_regenerate_and_edit_keep_versions_across_a_reload(
    long_answers: None, page: Page, server: HearthProcess
) -> None:
    found: list[str] = []
    for size in desktop_then_phone(page, "/", LAPTOP):
        sampling(page, seed=1)
        send(page, FIRST_PROMPT)
        wait_done(page)
        first = answer_text(page)
        chat_id = page.page.evaluate("location.hash").rsplit("/", 1)[-1]
        assert versions_of(answer(page)) is None  # one answer: no ‹ ›

        # Regenerate with another seed: a second answer beside the first.
        sampling(page, seed=2)
        answer(page).get_by_role("button", name="Regenerate answer").click()
        wait_done(page)
        shows(page, "assistant", "Version 2 of 2")
        second = answer_text(page)
        assert second != first, "two seeds gave the same answer: the test proves nothing"
        assert versions_of(answer(page)) == "Version 2 of 2"
        assert versions_of(prompt(page)) is None
        assert answer(page).get_by_role("button", name="Next version").is_disabled()
        page.shot(f"versions-answer-2-of-2-{size}")
        found += axe(page, f"answer 2 of 2, {size}")

        # Back to the first answer, forward to the second, and back again.
        step(page, "assistant", "Previous", "Version 1 of 2")
        assert answer_text(page) == first
        assert answer(page).get_by_role("button", name="Previous version").is_disabled()
        page.shot(f"versions-answer-1-of-2-{size}")
        found += axe(page, f"answer 1 of 2, {size}")
        step(page, "assistant", "Next", "Version 2 of 2")
        assert answer_text(page) == second
        step(page, "assistant", "Previous", "Version 1 of 2")
        assert answer_text(page) == first

        # Edit the prompt: a second prompt with its own answer; the first keeps both of its.
        prompt(page).get_by_role("button", name="Edit message").click()
        page.page.get_by_label("Edit your message").fill(SECOND_PROMPT)
        page.page.get_by_test_id("save-edit").click()
        wait_done(page)
        shows(page, "user", "Version 2 of 2")
        assert prompt(page).locator(".bubble").inner_text() == SECOND_PROMPT
        assert versions_of(prompt(page)) == "Version 2 of 2"
        assert versions_of(answer(page)) is None  # the new prompt's answer is its only one
        third = answer_text(page)
        page.shot(f"versions-prompt-2-of-2-{size}")
        found += axe(page, f"prompt 2 of 2, {size}")

        # The first prompt again: with the answer last chosen under it (1 of 2).
        step(page, "user", "Previous", "Version 1 of 2")
        assert prompt(page).locator(".bubble").inner_text() == FIRST_PROMPT
        assert versions_of(answer(page)) == "Version 1 of 2"
        assert answer_text(page) == first
        page.shot(f"versions-prompt-1-of-2-{size}")
        found += axe(page, f"prompt 1 of 2 with answer 1 of 2, {size}")
        step(page, "user", "Next", "Version 2 of 2")
        assert answer_text(page) == third
        step(page, "user", "Previous", "Version 1 of 2")
        step(page, "assistant", "Next", "Version 2 of 2")
        assert answer_text(page) == second

        # The server keeps the choice: first prompt, second answer.
        chat = stored(server, chat_id)
        (user, assistant) = chat["messages"]
        assert chat["current_id"] == assistant["id"]
        assert (user["content"], user["versions"]["index"], user["versions"]["count"]) == (
            FIRST_PROMPT,
            0,
            2,
        )
        assert (words(assistant["content"]), assistant["versions"]["index"]) == (second, 1)

        # A reload shows that branch, with every version still there.
        page.page.reload()
        page.page.get_by_test_id("message-assistant").wait_for()
        assert prompt(page).locator(".bubble").inner_text() == FIRST_PROMPT
        assert versions_of(prompt(page)) == "Version 1 of 2"
        assert versions_of(answer(page)) == "Version 2 of 2"
        assert answer_text(page) == second
        page.shot(f"versions-after-reload-{size}")
        found += axe(page, f"after a reload, {size}")
        step(page, "assistant", "Previous", "Version 1 of 2")
        assert answer_text(page) == first
        step(page, "user", "Next", "Version 2 of 2")
        assert prompt(page).locator(".bubble").inner_text() == SECOND_PROMPT
        assert answer_text(page) == third
    assert found == [], "\n".join(found)
    assert page.errors == []
