"""Attaching documents in the composer (issue 18 item 10), end to end.

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with
the real Gemma 3 270M: a text file with a secret word goes into the request
to /ollama/api/chat, the thread shows a chip instead of its text, and a
document bigger than the chat's num_ctx is refused in words. Screenshots
land in ``tests/artifacts/``.
"""

from __future__ import annotations

import json

import requests

from tests import test_ui_e2e as ui
from tests.test_ui_e2e import Page, chat_options, wait_done
from tests.test_ui_layout_e2e import DESKTOP, PHONE, axe, sized
from tests.waiting import wait_until

browser = ui.browser
server = ui.server
page = ui.page

SECRET = "The secret word is AUBERGINE. Remember it.\n"


def attach(page: Page, name: str, text: str) -> None:
    page.page.get_by_test_id("attach-input").set_input_files(
        {"name": name, "mimeType": "text/plain", "buffer": text.encode()}
    )


def set_context(page: Page, num_ctx: int) -> None:
    p = page.page
    p.get_by_role("button", name="Chat settings").click()
    p.get_by_label("Context length").fill(str(num_ctx))
    p.get_by_label("Context length").dispatch_event("change")
    p.get_by_role("button", name="Close chat settings").click()


def unload_all(url: str) -> None:
    """Unload every model, so the chip's count is the estimate made without a runner.

    The server is shared with the earlier e2e modules, which leave the model
    loaded; with it loaded the count is exact (no "~"). A model an earlier
    module deleted may still be listed while its last answer (a title) ends:
    its runner then stops by itself, and unloading it by name says 404.
    """
    for model in requests.get(f"{url}/ollama/api/ps", timeout=10).json()["models"]:
        reply = requests.post(
            f"{url}/ollama/api/generate",
            json={"model": model["name"], "keep_alive": 0},
            timeout=60,
        )
        assert reply.status_code in (200, 404), reply.text
    wait_until(
        lambda: requests.get(f"{url}/ollama/api/ps", timeout=10).json()["models"] == [],
        "models stayed loaded after keep_alive 0",
        timeout=60,
    )


def test_attach_a_document_and_ask(page: Page, server: ui.HearthProcess) -> None:
    p = page.page
    unload_all(server.url)
    sized(page, DESKTOP)
    page.open("/")
    chat_options(page, max_tokens=12)
    set_context(page, 2048)
    attach(page, "secret.txt", SECRET)
    chip = p.get_by_test_id("attachment-chip").filter(has_text="secret.txt")
    chip.filter(has_text="tokens").wait_for()
    assert "~" in chip.inner_text()  # the model is not loaded yet: an estimate, said to be one
    page.shot("documents-attached-desktop")
    found = axe(page, "document attached, desktop")
    assert found == [], "\n".join(found)

    p.fill("#composer-input", "What is the secret word? Answer with one word.")
    with page.expect_chat_request() as sent:
        p.keyboard.press("Enter")
    wait_done(page)
    body = json.loads(sent.value.post_data or "{}")
    user = body["messages"][-1]
    assert user["role"] == "user"
    assert "Attached document: secret.txt" in user["content"] and "AUBERGINE" in user["content"]
    assert user["content"].endswith("What is the secret word? Answer with one word.")
    # The thread shows the chip and the question, not the document's text.
    message = p.get_by_test_id("message-user").last
    assert "secret.txt" in message.get_by_test_id("attachment-chip").inner_text()
    assert "AUBERGINE" not in message.inner_text()
    assert p.get_by_test_id("attachment-chip").count() == 1  # the composer's chip is gone

    # Editing changes the typed text only: the document goes along again.
    message.hover()
    message.get_by_role("button", name="Edit message").click()
    editor = p.get_by_label("Edit your message")
    assert editor.input_value() == "What is the secret word? Answer with one word."
    editor.fill("Say the secret word.")
    with page.expect_chat_request() as resent:
        p.get_by_test_id("save-edit").click()
    wait_done(page)
    edited = json.loads(resent.value.post_data or "{}")["messages"][-1]["content"]
    assert "AUBERGINE" in edited and edited.endswith("\n\nSay the secret word.")
    assert p.get_by_test_id("message-user").last.get_by_test_id("attachment-chip").count() == 1

    # Now the model is loaded: it counts the tokens itself (no "~").
    attach(page, "secret.txt", SECRET)
    counted = p.get_by_test_id("attachment-chip").last
    counted.filter(has_text="tokens").wait_for()
    assert "~" not in counted.inner_text()
    counted.get_by_role("button", name="Remove secret.txt").click()

    # Far more than 2048 tokens: refused, in words, and nothing is attached.
    attach(page, "big.txt", "lorem ipsum dolor sit amet " * 2000)
    error = p.get_by_test_id("attach-error")
    error.wait_for()
    assert "big.txt is" in error.inner_text()
    assert "this chat's context holds 2,048" in error.inner_text()
    assert p.get_by_test_id("attachment-chip").count() == 1  # only the sent message's
    page.shot("documents-refused-desktop")
    found = axe(page, "document refused, desktop")
    assert found == [], "\n".join(found)
    assert page.errors == []


def test_attach_at_phone_size(page: Page) -> None:
    p = page.page
    sized(page, PHONE)
    page.open("/")
    attach(page, "notes.md", "# Notes\n\nSome text.\n")
    p.get_by_test_id("attachment-chip").filter(has_text="tokens").wait_for()
    bad = page.page.get_by_test_id("attach-input")
    # Images go to the vision path now; a binary that is no document is refused in words.
    bad.set_input_files({"name": "archive.zip", "mimeType": "application/zip", "buffer": bytes(64)})
    p.get_by_test_id("attach-error").filter(has_text="archive.zip").wait_for()
    page.shot("documents-phone")
    found = axe(page, "documents, phone")
    assert found == [], "\n".join(found)
