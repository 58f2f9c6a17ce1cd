"""A real Open WebUI (0.12.4, from PyPI) chatting through Hearth, as its chat page does.

Open WebUI's page adds its built-in tools (time, memory, notes, chats,
knowledge, ...) to every chat, some 5,000 tokens before the user's first
word; at a 4096-token context even "Hi" could not fit. These tests run the
real server (``tests/openwebui_process.py``; ``packaging/dev.sh test``
installs it into its own cached venv), pointed at a real ``hearth serve``
with the real test model, and send what the page sends, with Open WebUI's
default settings. A byte-for-byte relay between the two
(``tests/relay.py``) shows what reached Hearth.

The model is the test model under a tools-capable Go template (the shape
of Ollama's library qwen2.5 template): the pretrained Gemma 3 has no
template of its own, and a model without tools in its template is refused
a tools request ("does not support tools"), as in Ollama.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess
from tests.openwebui_process import OpenWebUIProcess, PageClient, openwebui_venv
from tests.relay import RecordingRelay

# Ollama's library qwen2.5 template (tools, tool calls and results), ChatML markers.
QWEN_TOOLS = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

TOOLS_MODEL = "gemma-tools:1"
"""Hearth's default context: what a user who changed nothing gets."""
SMALL_MODEL = "gemma-tools-8k:1"
"""The same with ``num_ctx 8192`` in its parameters: a history outgrows it in a few turns."""
SMALL_CTX = 8192
PARAMETERS = {"stop": ["<|im_start|>", "<|im_end|>"], "num_predict": 24, "temperature": 0}
"""The library template's stops; short answers keep the 2-core test machine's runs short;
greedy, because sampled the pretrained model at times ends its turn at once (an empty answer)."""


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, make_module_hearth: HearthFactory
) -> Iterator[tuple[HearthProcess, RecordingRelay, OpenWebUIProcess]]:
    """Hearth with the tools models, the relay, and one Open WebUI for all the cases."""
    venv = openwebui_venv()
    hearth = make_module_hearth(models=[GEMMA_NAME])
    webui: OpenWebUIProcess | None = None
    try:
        # The small model answers "until stop", Open WebUI's default: then a cut chat
        # keeps a quarter of the context for the answer when it can.
        small = {"num_ctx": SMALL_CTX, "num_predict": -1}
        for name, extra in ((TOOLS_MODEL, {}), (SMALL_MODEL, small)):
            created = requests.post(
                f"{hearth.ollama_url}/api/create",
                json={
                    "model": name,
                    "from": GEMMA_NAME,
                    "template": QWEN_TOOLS,
                    "parameters": PARAMETERS | extra,
                },
                timeout=300,
            )
            assert created.status_code == 200 and '"success"' in created.text, created.text
        relay = RecordingRelay(int(hearth.url.rsplit(":", 1)[1]))
        webui = OpenWebUIProcess(
            venv, tmp_path_factory.mktemp("owui-data"), f"http://127.0.0.1:{relay.port}/ollama"
        )
        webui.start()
        print(f"Open WebUI started in {webui.started_in:.1f} s")
        yield hearth, relay, webui
    finally:
        if webui is not None:
            webui.stop()


@pytest.fixture(scope="module")
def account(stack: tuple[HearthProcess, RecordingRelay, OpenWebUIProcess]) -> PageClient:
    """The page of the first account, which becomes the admin as on a fresh install."""
    client = PageClient(stack[2].url)
    client.sign_up()
    return client


@pytest.fixture
def page(account: PageClient) -> PageClient:
    """The page with no chat open."""
    return account.new_chat()


def history_tokens(hearth: HearthProcess, sent: dict[str, Any]) -> int | None:
    """Tokens of a chat exactly as sent, when it is over the context; None when it fits.

    Asked of Hearth with ``truncate: false``, whose refusal counts the whole prompt.
    """
    reply = requests.post(
        f"{hearth.ollama_url}/api/chat",
        json={**sent, "stream": False, "truncate": False, "options": {"num_predict": 1}},
        timeout=300,
    )
    if reply.status_code == 200:
        return None
    found = re.search(r"request \((\d+) tokens\)", reply.text)
    assert reply.status_code == 400 and found, reply.text
    return int(found.group(1))


def tracebacks(webui: OpenWebUIProcess, since: int) -> list[str]:
    """Python tracebacks in Open WebUI's output from line ``since``: errors it carried on past.

    (At start it logs one for its default embedding model, which offline it cannot fetch.)
    """
    text = "".join(webui.output[since:])
    return [text[found.start() : found.start() + 4000] for found in re.finditer("Traceback", text)]


def prompt_tokens(answer: dict[str, Any]) -> int:
    """The prompt Hearth answered from, as Open WebUI keeps it with the message."""
    usage = answer.get("usage") or {}
    return int(usage.get("prompt_eval_count") or usage.get("prompt_tokens") or 0)


def chats_sent(relay: RecordingRelay) -> list[dict[str, Any]]:
    """The bodies of the ``/api/chat`` requests that reached Hearth (by connection, not time)."""
    return [
        json.loads(body)
        for method, path, body in relay.requests()
        if method == "POST" and path.endswith("/api/chat")
    ]


def page_chat_sent(relay: RecordingRelay, last: str) -> dict[str, Any]:
    """The chat request of the page's turn ending in ``last`` (not a title or tags task)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for body in chats_sent(relay):
            messages = body.get("messages") or []
            if body.get("tools") and messages and messages[-1].get("content") == last:
                return body
        time.sleep(0.5)
    raise AssertionError(f"no chat with tools ending in {last[:40]!r} reached Hearth")


def test_a_page_chat_with_the_builtin_tools_is_answered(
    stack: tuple[HearthProcess, RecordingRelay, OpenWebUIProcess], page: PageClient
) -> None:
    """Default settings, a new chat, "Hi": answered, and Hearth got the built-in tools."""
    _, relay, webui = stack
    logged = len(webui.output)
    started = time.monotonic()
    page.send(TOOLS_MODEL, "Hi")
    answer = page.answer()
    print(f"answered in {time.monotonic() - started:.1f} s: {answer.get('usage')}")
    assert not answer.get("error"), answer
    assert answer["content"].strip(), answer
    sent = page_chat_sent(relay, "Hi")
    names = {tool["function"]["name"] for tool in sent["tools"]}
    assert {"get_current_timestamp", "search_chats", "ask_user"} <= names, names
    assert sent["stream"] is True
    assert "num_ctx" not in (sent.get("options") or {})  # Hearth's default context, untouched
    # More than the old default of 4096: it fits only at the larger one chosen from memory.
    assert prompt_tokens(answer) > 4096, answer
    assert not tracebacks(webui, logged), tracebacks(webui, logged)


def test_a_history_longer_than_num_ctx_is_answered_with_old_turns_left_out(
    stack: tuple[HearthProcess, RecordingRelay, OpenWebUIProcess], page: PageClient
) -> None:
    """Two long turns in one chat: the second, past num_ctx with the first, is answered too.

    Each turn with the tools is about 7,500 tokens, so the second keeps the
    tools and itself alone, with less than the quarter of the context that a
    cut chat leaves an answer "until stop" (``fit_context.prompt_limits``).
    """
    hearth, relay, webui = stack
    logged = len(webui.output)
    for turn in range(2):
        # Numbered lines: after one phrase repeated, the greedy pretrained model
        # ends its turn at once, and Open WebUI leaves the empty answer out.
        lines = (f"Line {i}: the sea is wide and the sky is blue." for i in range(170))
        text = f"Turn {turn}: " + " ".join(lines)
        page.send(SMALL_MODEL, text)
        answer = page.answer()
        assert not answer.get("error"), (turn, answer)
        assert answer["content"].strip(), (turn, answer)
    # Open WebUI sends the whole history, tools and all, with every turn.
    sent = page_chat_sent(relay, text)
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    whole = history_tokens(hearth, sent)
    print(f"{whole} tokens sent, answered from {prompt_tokens(answer)}")
    assert whole is not None and 0 < prompt_tokens(answer) <= SMALL_CTX < whole
    assert not tracebacks(webui, logged), tracebacks(webui, logged)


def test_a_message_that_cannot_fit_with_the_tools_is_an_error_naming_num_ctx(
    stack: tuple[HearthProcess, RecordingRelay, OpenWebUIProcess], page: PageClient
) -> None:
    """What Open WebUI shows under the message when the tools and the message alone overflow."""
    page.send(SMALL_MODEL, "the sea is wide " * 2500)
    answer = page.answer()
    error = (answer.get("error") or {}).get("content", "")
    assert f"num_ctx {SMALL_CTX}" in error, answer
    assert "system prompt, tools and last message do not fit" in error, answer
