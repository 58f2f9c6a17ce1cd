"""A llama-server that dies mid-answer, and chat titles, in the chat UI (issue 18 items 4, 5).

Debian's chromium, driven by Playwright, against a real ``hearth serve`` with
the real Gemma 3 270M model and its real llama-server, which the test kills
with SIGKILL while it answers, as the out-of-memory killer would. Fixtures
come from ``test_ui_e2e.py``, axe from ``test_ui_layout_e2e.py``;
screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

import re
from typing import Any

import psutil
import requests

from tests import test_ui_e2e as ui
from tests.hearth_process import HearthProcess
from tests.test_ui_e2e import Page, chat_options, last_answer, send, wait_done
from tests.test_ui_layout_e2e import DESKTOP, PHONE, axe, sized
from tests.waiting import wait_until

browser = ui.browser
server = ui.server
page = ui.page
long_answers = ui.long_answers

CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*(Error|Exception)\b")
"""A Python exception class name (ChunkedEncodingError, ConnectionError): never shown."""
ECHOES = ("short title", "6 words", "Write a", "Reply with", "title only", "User:", "Assistant:")


def the_runner(server: HearthProcess) -> psutil.Process:
    """Hearth's newest llama-server child (found in the process tree).

    Newest: a runner with other load options may still be on its way out.
    """
    return max(server.llama_servers(), key=lambda child: child.create_time())


def runner_pids(server: HearthProcess) -> list[int]:
    return sorted(child.pid for child in server.llama_servers())


def answer_has_text(page: Page, count: int, length: int = 40) -> None:
    """Wait until answer number ``count`` shows more than ``length`` characters of its text."""
    page.page.wait_for_function(
        "([count, length]) => { const a = [...document.querySelectorAll("
        "'[data-testid=message-assistant]')]; return a.length === count"
        " && (a[count - 1].querySelector('.md')?.innerText.length ?? 0) > length; }",
        arg=[count, length],
        timeout=90_000,
    )


def test_a_runner_killed_mid_answer_says_so_and_retries(
    long_answers: None, page: Page, server: HearthProcess
) -> None:
    sized(page, DESKTOP)
    page.open("/")
    chat_options(page, max_tokens=4000)
    send(page, "Write a very long story about a lighthouse keeper, at least 2000 words.")
    answer_has_text(page, 1)
    runner = the_runner(server)
    runner.kill()  # SIGKILL, mid-answer
    alert = last_answer(page).get_by_role("alert")
    alert.wait_for(timeout=30_000)
    words = alert.inner_text()
    assert (
        "The model stopped unexpectedly (llama-server exited with signal 9, SIGKILL)."
        " The partial answer is kept." in words
    ), words
    assert not CLASS_NAME.search(words), words
    assert "last log lines" not in words
    partial = last_answer(page).locator(".md").inner_text()
    assert len(partial) > 20, "the partial answer is gone"
    # Saved as cut, with the words (not a class name), for a reload to show the same.
    chat_id = page.page.url.rsplit("/", 1)[-1]
    stored = requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10).json()
    saved = stored["messages"][-1]
    assert saved["role"] == "assistant" and len(saved["content"]) > 20, saved
    assert "signal 9" in saved["stats"]["error"], saved
    page.shot("crash-desktop")
    problems = axe(page, "crash, 1280")
    sized(page, PHONE)
    alert.get_by_role("button", name="Retry").wait_for()
    page.shot("crash-phone")
    problems += axe(page, "crash, 390")
    assert problems == [], "\n".join(problems)
    sized(page, DESKTOP)

    # The log, one click away: the command line and llama-server's own output.
    alert.get_by_role("button", name="Show the full llama-server log").click()
    log_text = page.page.get_by_test_id("runner-log").inner_text()
    assert "$ " in log_text and "--model" in log_text
    page.shot("crash-log")

    # A reload shows the same words, Retry and the log button.
    page.page.reload()
    alert = last_answer(page).get_by_role("alert")
    alert.wait_for()
    assert "exited with signal 9, SIGKILL" in alert.inner_text()
    assert alert.get_by_role("button", name="Show the full llama-server log").is_visible()

    # Retry re-runs that answer on a fresh llama-server (with a short answer this time).
    chat_options(page, max_tokens=12)
    alert.get_by_role("button", name="Retry").click()
    wait_done(page)
    answer = last_answer(page)
    assert answer.get_by_role("alert").count() == 0
    assert answer.inner_text().strip()
    assert page.page.locator("[data-testid=message-assistant]").count() == 1
    assert the_runner(server).pid != runner.pid
    page.shot("crash-retried")
    assert page.errors == []


def sidebar_title(page: Page, chat_id: str) -> str:
    return page.page.locator(f"#sidebar a[href='#/c/{chat_id}']").inner_text().strip()


def test_the_title_comes_from_the_answer_on_the_same_runner(
    page: Page, server: HearthProcess
) -> None:
    """No echo of the title request in the sidebar, and the chat's llama-server stays."""
    sized(page, DESKTOP)
    page.open("/")
    # A context length of its own: a title request without it would reload the model.
    page.page.get_by_role("button", name="Chat settings").click()
    page.page.get_by_label("Context length").fill("3072")
    page.page.get_by_label("Context length").dispatch_event("change")
    page.page.get_by_role("button", name="Close chat settings").click()
    chat_options(page, max_tokens=24)
    prompt = "Please explain to me how rainbows form after a summer rain shower"
    placeholder = "Please explain to me how rainbows form after a…"  # cut at a word, as the UI does

    def title_request(request: Any) -> bool:
        body = request.post_data or ""
        return request.url.endswith("/ollama/api/chat") and '"stream":false' in body

    # The title is asked for once the answer is done; the block ends when that request has.
    with page.page.expect_request_finished(title_request, timeout=120_000) as titled:
        send(page, prompt)
        answer_has_text(page, 1, 0)
        runner = the_runner(server)  # the chat's, loaded for its num_ctx, answering
        wait_done(page)
    chat_id = page.page.url.rsplit("/", 1)[-1]
    title_body = titled.value.post_data_json
    assert title_body["options"]["num_ctx"] == 3072, title_body
    said = titled.value.response().json()["message"]["content"]
    print(f"the model's raw title answer: {said!r}")
    wait_until(
        lambda: (
            requests.get(f"{server.url}/api/v1/chats/{chat_id}", timeout=10).json()["title"]
            != placeholder
        ),
        "the chat gets its title",
        timeout=30,
    )
    wait_until(lambda: sidebar_title(page, chat_id) != placeholder, "the sidebar shows it")
    title = sidebar_title(page, chat_id)
    assert title and len(title) <= 60, title
    for echo in ECHOES:
        assert echo.lower() not in title.lower(), title
    # The same llama-server answered the chat and the title: nothing was evicted or reloaded.
    assert runner_pids(server) == [runner.pid]
    (model,) = requests.get(f"{server.ollama_url}/api/ps", timeout=10).json()["models"]
    assert model["context_length"] == 3072
    page.shot("title-desktop")
    sized(page, PHONE)
    if not page.page.locator("#sidebar").is_visible():
        page.page.get_by_role("button", name="Show sidebar").click()
    assert sidebar_title(page, chat_id) == title
    page.shot("title-phone")
    problems = axe(page, "title, 390")
    assert problems == [], "\n".join(problems)
    assert page.errors == []
