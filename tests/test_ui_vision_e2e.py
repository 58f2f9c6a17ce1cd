"""Attaching images for vision models (issue 18 item 9), end to end.

Debian's chromium, driven by Playwright, against a real ``hearth serve``: the
real Gemma 3 270M imported with the tiny projector of tests/tinyvision.py (so
llama-server really decodes the image and runs the tower; the answer is noise)
and the same model without one. Images come in through the file picker, a
synthesized paste and a synthesized drop; the sent message keeps its image after
a reload; the text-only model refuses in words before anything is sent.
Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests import test_ui_e2e as ui
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.test_ui_e2e import Page, chat_options, wait_done
from tests.test_ui_layout_e2e import DESKTOP, PHONE, axe, sized
from tests.tinyvision import tiny_png, write_tiny_projector

browser = ui.browser
server = ui.server
page = ui.page

VISION_NAME = "gemma3-vision:tiny"

SYNTH_EVENT = """([kind, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const file = new File([bytes], 'pasted.png', { type: 'image/png' });
  const data = new DataTransfer();
  data.items.add(file);
  const init = { bubbles: true, cancelable: true };
  if (kind === 'paste') {
    const event = new ClipboardEvent('paste', { ...init, clipboardData: data });
    document.querySelector('#composer-input').dispatchEvent(event);
  } else {
    const form = document.querySelector('form.composer');
    form.dispatchEvent(new DragEvent('dragover', { ...init, dataTransfer: data }));
    form.dispatchEvent(new DragEvent('drop', { ...init, dataTransfer: data }));
  }
}"""


@pytest.fixture(scope="module")
def vision_model(
    server: HearthProcess, gemma_gguf_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    projector = write_tiny_projector(tmp_path_factory.mktemp("mmproj") / "tiny-mmproj.gguf")
    server.cli("import", str(gemma_gguf_path), VISION_NAME, "--mmproj", str(projector))
    yield VISION_NAME
    # Through the server, as the UI deletes: it retires the model's runner. A
    # `hearth rm` in another process would leave the runner loaded until its
    # keep_alive ends (the server is not told), and the next module sees it.
    requests.delete(f"{server.url}/ollama/api/delete", json={"model": VISION_NAME}, timeout=60)


def pick(page: Page, model: str) -> None:
    p = page.page
    p.get_by_test_id("model-picker").click()
    p.get_by_role("option", name=re.compile(re.escape(model))).click()


def synth(page: Page, kind: str, seed: int) -> None:
    page.page.evaluate(SYNTH_EVENT, [kind, base64.b64encode(tiny_png(seed=seed)).decode()])


def test_picker_shows_the_vision_capability(page: Page, vision_model: str) -> None:
    p = page.page
    sized(page, DESKTOP)
    page.open("/")
    p.get_by_test_id("model-picker").click()
    option = p.get_by_role("option", name=re.compile(re.escape(vision_model)))
    option.get_by_test_id("vision-badge").wait_for()
    plain = p.get_by_role("option", name=re.compile(re.escape(GEMMA_NAME) + r"(?!\S)"))
    assert plain.first.get_by_test_id("vision-badge").count() == 0
    page.shot("vision-picker-desktop")
    found = axe(page, "vision picker, desktop")
    assert found == [], "\n".join(found)
    p.keyboard.press("Escape")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_attach_send_and_reload(page: Page, vision_model: str, size: tuple[int, int]) -> None:
    p = page.page
    sized(page, size)
    page.open("/")
    pick(page, vision_model)
    chat_options(page, max_tokens=6)
    p.get_by_test_id("attach-input").set_input_files(
        {"name": "picked.png", "mimeType": "image/png", "buffer": tiny_png(seed=1)}
    )
    thumbs = p.get_by_test_id("composer-images").locator("img")
    thumbs.first.wait_for()
    synth(page, "paste", 2)
    synth(page, "drop", 3)
    p.wait_for_function(
        "() => document.querySelectorAll('[data-testid=composer-images] img').length === 3"
    )
    p.get_by_role("button", name="Remove image 3").click()
    assert thumbs.count() == 2
    tag = "desktop" if size == DESKTOP else "phone"
    page.shot(f"vision-attached-{tag}")
    found = axe(page, f"images attached, {tag}")
    assert found == [], "\n".join(found)

    p.fill("#composer-input", "What is in these pictures?")
    with page.expect_chat_request() as sent:
        p.keyboard.press("Enter")
    wait_done(page)
    user = json.loads(sent.value.post_data or "{}")["messages"][-1]
    assert user["images"] == [
        base64.b64encode(tiny_png(seed=1)).decode(),
        base64.b64encode(tiny_png(seed=2)).decode(),
    ]
    assert thumbs.count() == 0
    sent_images = p.get_by_test_id("message-user").last.get_by_test_id("message-images")
    assert sent_images.locator("img").count() == 2
    assert ui.last_answer(page).get_by_test_id("stats").count() == 1

    # llama-server really read the images: the stored answer's prompt is long.
    chat_id = re.search(r"#/c/([^/?#]+)", p.url)
    assert chat_id, p.url
    stored = requests.get(f"{page.url}/api/v1/chats/{chat_id.group(1)}", timeout=10).json()
    answer = [m for m in stored["messages"] if m["role"] == "assistant"][-1]
    assert answer["stats"]["prompt_eval_count"] > 32, answer["stats"]

    # Edit changes the typed text; the images go along again.
    message = p.get_by_test_id("message-user").last
    message.hover()
    message.get_by_role("button", name="Edit message").click()
    p.get_by_label("Edit your message").fill("And now?")
    with page.expect_chat_request() as resent:
        p.get_by_test_id("save-edit").click()
    wait_done(page)
    edited = json.loads(resent.value.post_data or "{}")["messages"][-1]
    assert edited["content"] == "And now?" and len(edited["images"]) == 2

    p.reload()
    p.wait_for_selector("[data-testid=message-assistant]")
    kept = p.get_by_test_id("message-user").last.get_by_test_id("message-images")
    kept.locator("img").first.wait_for()
    assert kept.locator("img").count() == 2
    page.shot(f"vision-after-reload-{tag}")
    found = axe(page, f"sent images after reload, {tag}")
    assert found == [], "\n".join(found)
    assert page.errors == []


def test_text_only_model_refuses_in_words(page: Page, vision_model: str) -> None:
    p = page.page
    sized(page, DESKTOP)
    page.open("/")
    pick(page, GEMMA_NAME)
    requests_before = page.chat_requests()
    p.get_by_test_id("attach-input").set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": tiny_png()}
    )
    error = p.get_by_test_id("attach-error")
    error.filter(has_text="cannot see images").wait_for()
    assert GEMMA_NAME in error.inner_text()
    p.fill("#composer-input", "Describe it")
    assert p.get_by_test_id("send").is_disabled()
    p.keyboard.press("Enter")
    assert page.chat_requests() == requests_before
    page.shot("vision-refused-desktop")
    found = axe(page, "vision refused, desktop")
    assert found == [], "\n".join(found)
    p.get_by_role("button", name="Remove image 1").click()
    assert error.count() == 0
