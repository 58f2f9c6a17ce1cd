"""Defects a stranger's walk through the UI found (stop 25), each pinned by a test.

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with
the real Gemma 3 270M: the "loaded" badge's contrast in both themes, the
loaded-model dot beside a long model name on a phone, and an answer that came
back with no text. axe-core finds nothing; screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests import test_ui_e2e as ui
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.test_ui_e2e import Page, chat_options, send, stored_chat, wait_done
from tests.test_ui_layout_e2e import LAPTOP, axe, sized
from tests.waiting import wait_until

browser = ui.browser
server = ui.server
page = ui.page

SMALL_PHONE = {"width": 360, "height": 740}
LONG_NAME = "127.0.0.1:54951/library/a-rather-long-model-name:270m"


def load(server: HearthProcess, model: str) -> None:
    """Load ``model`` into memory (an empty generate), as a first chat would."""
    reply = requests.post(
        f"{server.ollama_url}/api/generate", json={"model": model, "keep_alive": "10m"}, timeout=120
    )
    assert reply.status_code == 200, reply.text
    wait_until(
        lambda: any(
            m["name"] == model
            for m in requests.get(f"{server.ollama_url}/api/ps", timeout=10).json()["models"]
        ),
        f"{model} is not loaded",
    )


@pytest.fixture
def long_named(server: HearthProcess) -> Iterator[str]:
    """A copy of the test model under a long registry name, loaded."""
    copied = requests.post(
        f"{server.ollama_url}/api/copy",
        json={"source": GEMMA_NAME, "destination": LONG_NAME},
        timeout=60,
    )
    assert copied.status_code == 200, copied.text
    load(server, LONG_NAME)
    yield LONG_NAME
    requests.delete(f"{server.ollama_url}/api/delete", json={"model": LONG_NAME}, timeout=60)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_loaded_badge_is_readable(page: Page, server: HearthProcess, theme: str) -> None:
    """Green text on an 18 % green wash measured 4.02:1 in the light theme (AA needs 4.5)."""
    load(server, GEMMA_NAME)
    sized(page, LAPTOP)
    page.open("/#/settings")
    page.page.get_by_label(theme.capitalize(), exact=True).check()
    try:
        page.open("/#/models")
        row = page.page.get_by_test_id("model-row").filter(has_text=GEMMA_NAME)
        row.get_by_text("loaded", exact=True).wait_for()
        page.shot(f"walk-loaded-badge-{theme}")
        found = axe(page, f"models page with a loaded model, {theme}")
    finally:  # the theme is a server setting: leave it as the other tests expect
        page.open("/#/settings")
        page.page.get_by_label("Match the system").check()
        wait_until(
            lambda: (
                requests.get(f"{server.url}/api/v1/settings", timeout=10).json().get("theme")
                in (None, "system")
            ),
            "the theme was not set back",
        )
    assert found == [], "\n".join(found)
    assert page.errors == []


def test_the_loaded_dot_stays_round_beside_a_long_name(
    page: Page, server: HearthProcess, long_named: str
) -> None:
    """A long model name squeezed the 8 px dot into a sliver on a 360 px phone."""
    chat_id = stored_chat(
        server,
        [
            {"role": "user", "content": "Hello?"},
            {"role": "assistant", "content": "Hi.", "done": True},
        ],
        model=long_named,
    )
    sized(page, SMALL_PHONE)
    page.open(f"/#/c/{chat_id}")
    dot = page.page.locator(".picker .dot")
    dot.wait_for()
    box = dot.bounding_box()
    page.shot("walk-loaded-dot-phone")
    assert box is not None
    assert (round(box["width"]), round(box["height"])) == (8, 8), box
    found = axe(page, "a long model name on a 360 px phone")
    assert found == [], "\n".join(found)
    assert page.errors == []


@pytest.mark.parametrize("content", ["", " \n"])
def test_an_answer_with_no_text_says_so(page: Page, server: HearthProcess, content: str) -> None:
    """The model may end at once (its first token a stop string): stats alone looked broken."""
    chat_id = stored_chat(
        server,
        [
            {"role": "user", "content": "What is the secret word?"},
            {"role": "assistant", "content": content, "done": True},
        ],
    )
    for viewport, size in ((LAPTOP, "desktop"), (SMALL_PHONE, "phone")):
        sized(page, viewport)
        page.open(f"/#/c/{chat_id}")
        answer = page.page.get_by_test_id("message-assistant")
        answer.get_by_text("The model answered with no text.").wait_for()
        page.shot(f"walk-empty-answer-{size}")
        found = axe(page, f"an answer with no text, {size}")
        assert found == [], "\n".join(found)
    assert page.errors == []


def test_a_disabled_version_button_looks_disabled(page: Page, server: HearthProcess) -> None:
    """At version 1 of 2, ‹ (disabled) and › (enabled) looked the same, and both lit on hover."""
    chat_id = stored_chat(
        server,
        [
            {"id": "q", "role": "user", "content": "Name one color."},
            {"id": "a1", "role": "assistant", "content": "Red.", "done": True},
            {"id": "a2", "role": "assistant", "content": "Blue.", "done": True, "parent_id": "q"},
        ],
        current_id="a1",
    )
    for viewport, size in ((LAPTOP, "desktop"), (SMALL_PHONE, "phone")):
        sized(page, viewport)
        page.open(f"/#/c/{chat_id}")
        group = page.page.get_by_role("group", name="Version 1 of 2")
        previous = group.get_by_role("button", name="Previous version")
        following = group.get_by_role("button", name="Next version")
        assert previous.is_disabled() and following.is_enabled()
        look = "(el) => { const s = getComputedStyle(el); return [s.opacity, s.backgroundColor]; }"
        previous.hover()
        page.shot(f"walk-version-disabled-hover-{size}")
        disabled_look = previous.evaluate(look)
        page.page.mouse.move(0, viewport["height"] - 1)
        enabled_look = following.evaluate(look)
        assert float(disabled_look[0]) <= 0.5, disabled_look
        assert float(enabled_look[0]) == 1, enabled_look
        assert disabled_look[1] == enabled_look[1] == "rgba(0, 0, 0, 0)", (
            disabled_look,
            enabled_look,
        )
        found = axe(page, f"version 1 of 2, {size}")
        assert found == [], "\n".join(found)
    assert page.errors == []


def test_the_waiting_dots_pass_axe(page: Page) -> None:
    """The dots before the first token were a div with aria-label and no role (axe: serious).

    The page's chat request is held back (Playwright's route, then passed on unchanged
    to the real server) so the dots stay up while axe looks at them.
    """
    held: list[Any] = []

    def hold(route: Any) -> None:
        if '"stream":true' in (route.request.post_data or ""):
            held.append(route)
        else:
            route.continue_()

    for viewport, size in ((LAPTOP, "desktop"), (SMALL_PHONE, "phone")):
        sized(page, viewport)
        page.open("/")
        page.page.route("**/ollama/api/chat", hold)
        chat_options(page, max_tokens=4)
        send(page, "Name one color.")
        page.page.locator("[data-testid=message-assistant] .typing").wait_for()
        # Playwright's sync API runs the route handler only while it is itself waiting,
        # so poll with its own timer: a plain sleep would never let ``hold`` see the request.
        for _ in range(100):
            if held:
                break
            page.page.wait_for_timeout(100)
        assert len(held) == 1, "the chat request was not sent"
        page.shot(f"walk-waiting-{size}")
        found = axe(page, f"waiting for the first token, {size}")
        held.pop().continue_()
        page.page.unroute("**/ollama/api/chat", hold)
        wait_done(page)
        assert found == [], "\n".join(found)
    assert page.errors == []
