"""The composer's context meter (issue 18 item 12, first half), end to end.

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with
the real Gemma 3 270M: after a real answer the meter shows the model's own
prompt_eval_count + eval_count of num_ctx, and adds an estimate for the draft.
Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

import re

import requests

from tests import test_ui_e2e as ui
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.test_ui_e2e import Page, chat_options, send, wait_done
from tests.test_ui_layout_e2e import DESKTOP, PHONE, axe, sized

browser = ui.browser
server = ui.server
page = ui.page


def meter_numbers(page: Page) -> tuple[int, int, str]:
    text = page.page.get_by_test_id("context-meter").inner_text()
    used, total = re.search(r"([\d,]+) of ([\d,?]+) tokens", text).groups()  # type: ignore[union-attr]
    return int(used.replace(",", "")), int(total.replace(",", "")), text


def test_context_meter_counts_the_chat(page: Page, server: HearthProcess) -> None:
    default = requests.get(server.url + "/api/v1/system", timeout=30).json()["defaults"]["num_ctx"]
    for viewport in (DESKTOP, PHONE):
        sized(page, viewport)
        page.open("/")
        page.page.get_by_test_id("context-meter").wait_for()
        assert "0 of " in page.page.get_by_test_id("context-meter").inner_text()
        chat_options(page, max_tokens=8)
        send(page, "The capital of France is")
        wait_done(page)
        chat_id = page.page.evaluate("location.hash").rsplit("/", 1)[-1]
        stored = requests.get(server.url + f"/api/v1/chats/{chat_id}", timeout=10).json()
        stats = stored["messages"][-1]["stats"]
        counted = stats["prompt_eval_count"] + stats["eval_count"]
        ps = requests.get(server.ollama_url + "/api/ps", timeout=10).json()["models"]
        num_ctx = default or next(m["context_length"] for m in ps if m["name"] == GEMMA_NAME)
        page.page.wait_for_function(
            "!document.querySelector('[data-testid=context-meter]').innerText.includes('?')"
        )
        used, total, text = meter_numbers(page)
        assert (used, total) == (counted, num_ctx) and not text.startswith("~")
        page.page.fill("#composer-input", "x" * 40)  # 40 characters: about 10 tokens
        used, _, text = meter_numbers(page)
        assert used == counted + 10 and text.startswith("~")
        title = page.page.get_by_test_id("context-meter").get_attribute("title") or ""
        assert "counted by the model" in title and "estimated" in title
        name = "desktop" if viewport is DESKTOP else "phone"
        page.shot(f"context-meter-{name}")
        found = axe(page, f"context meter, {name}")
        assert found == [], "\n".join(found)
    assert page.errors == []
