"""The Discover view of the model library (issue 18 item 11), end to end.

Debian's chromium, driven by Playwright, against a real ``hearth serve``; the
catalogue's Pull goes to a real OCI registry on 127.0.0.1 (the ``registry``
fixture, set as ``catalogue_registry``) holding the real Gemma 3 270M as
``library/gemma3:270m``, so the catalogue entry ``gemma3:270m`` pulls it.
Nothing reaches the internet. Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests import test_ui_e2e as ui
from tests.hearth_process import HearthProcess
from tests.test_ui_e2e import Page, push_gemma
from tests.test_ui_layout_e2e import DESKTOP, PHONE, axe, sized

browser = ui.browser
server = ui.server
page = ui.page


def open_discover(page: Page) -> Any:
    page.open("/#/models")
    page.page.get_by_test_id("discover-tab").click()
    cards = page.page.get_by_test_id("catalogue-model")
    cards.first.wait_for(timeout=30_000)
    return cards


def test_discover_search_filter_and_pull(
    page: Page, server: HearthProcess, registry: Any, gemma_gguf_path: Path
) -> None:
    name = push_gemma(registry, "library/gemma3", gemma_gguf_path)
    settings = server.url + "/api/v1/settings"
    assert requests.patch(settings, json={"catalogue_registry": registry.host}, timeout=10).ok
    try:
        sized(page, DESKTOP)
        cards = open_discover(page)
        assert cards.count() >= 30
        found = axe(page, "discover, all models")
        page.page.get_by_label("Search the catalogue").fill("gemma")
        page.page.get_by_label("Capability").select_option("vision")
        page.page.wait_for_function(
            "document.querySelectorAll('[data-testid=catalogue-model]').length === 1"
        )
        card = cards.first
        assert card.locator("h2").inner_text() == "gemma3"
        assert "Fits your memory" in card.inner_text()  # 292 MB on any test machine
        page.shot("discover-desktop")
        card.get_by_role("button", name="Pull gemma3:270m").click()
        card.get_by_text("installed").first.wait_for(timeout=120_000)
        names = [
            m["name"]
            for m in requests.get(server.ollama_url + "/api/tags", timeout=10).json()["models"]
        ]
        assert name in names
        page.shot("discover-pulled")
        found += axe(page, "discover, filtered, pulled")

        sized(page, PHONE)
        open_discover(page)
        width = page.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the Discover view scrolls sideways on a phone: {width}"
        page.shot("discover-phone")
        found += axe(page, "discover on a phone")
        assert found == [], "\n".join(found)
        assert page.errors == []
    finally:
        requests.patch(settings, json={"catalogue_registry": None}, timeout=10)
        requests.delete(server.ollama_url + "/api/delete", json={"model": name}, timeout=30)
