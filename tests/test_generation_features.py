"""Generation paths beyond plain chat: raw prompts, templates, tools, thinking, load failures."""

from __future__ import annotations

import json
from pathlib import Path

import ollama
import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.tinygguf import write_tiny_gguf

TOOL_TEMPLATE = """{%- if tools %}<|im_start|>system
You may call these tools: {{ tools | tojson }}
Answer with <tool_call>{"name": ..., "arguments": {...}}</tool_call><|im_end|>
{% endif %}{%- for message in messages -%}
<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endfor -%}
{%- if add_generation_prompt -%}<|im_start|>assistant
{% endif -%}"""

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def client(hearth: HearthProcess) -> ollama.Client:
    return ollama.Client(host=hearth.ollama_url)


def test_raw_generate(client: ollama.Client) -> None:
    reply = client.generate(
        model=GEMMA_NAME, prompt="The capital of France is", raw=True, options={"num_predict": 4}
    )
    assert reply.done and reply.eval_count == 4 and reply.response


def test_raw_refuses_template_and_system(hearth: HearthProcess) -> None:
    reply = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "prompt": "x", "raw": True, "system": "s"},
        timeout=30,
    )
    assert reply.status_code == 400


def test_think_on_a_model_without_thinking_is_400(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(model=GEMMA_NAME, messages=[{"role": "user", "content": "x"}], think=True)
    assert raised.value.status_code == 400 and "thinking" in raised.value.error


def test_tools_need_the_capability(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(
            model=GEMMA_NAME, messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL]
        )
    assert raised.value.status_code == 400 and "does not support tools" in raised.value.error


def test_jinja_template_layer_drives_llama_server(
    client: ollama.Client, hearth: HearthProcess
) -> None:
    client.create(model="tooly:1", from_=GEMMA_NAME, template=TOOL_TEMPLATE)
    assert "tools" in (client.show("tooly:1").capabilities or [])
    reply = client.chat(
        model="tooly:1",
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        options={"num_predict": 24, "temperature": 0},
    )
    assert reply.done and reply.message.role == "assistant"
    (server,) = [p for p in hearth.llama_servers() if "--chat-template-file" in p.cmdline()]
    template_file = Path(server.cmdline()[server.cmdline().index("--chat-template-file") + 1])
    assert template_file.read_text() == TOOL_TEMPLATE
    client.delete("tooly:1")


def test_model_that_fails_to_load(
    client: ollama.Client, hearth: HearthProcess, tmp_path: Path
) -> None:
    broken = write_tiny_gguf(tmp_path / "broken.gguf")  # valid GGUF, not a loadable model
    digest = client.create_blob(broken)
    client.create(model="broken:1", files={"broken.gguf": digest})
    reply = requests.post(
        f"{hearth.ollama_url}/api/chat",
        json={"model": "broken:1", "messages": [{"role": "user", "content": "hi"}]},
        timeout=120,
    )
    assert reply.status_code == 500
    error = reply.json()["error"]
    assert "llama-server" in error and "log" in error
    streamed = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": "broken:1", "prompt": "hi", "stream": True},
        timeout=120,
    )
    assert streamed.status_code == 500 and "error" in json.loads(streamed.text)
    client.delete("broken:1")


def test_cli_twins(hearth: HearthProcess) -> None:
    listed = hearth.cli("list").stdout
    assert GEMMA_NAME in listed and "NAME" in listed
    shown = hearth.cli("show", GEMMA_NAME).stdout
    assert "gemma3" in shown and "Q4_K_M" in shown
    as_json = json.loads(hearth.cli("show", GEMMA_NAME, "--json").stdout)
    assert as_json["details"]["family"] == "gemma3"
    hearth.cli("cp", GEMMA_NAME, "cli-copy:1")
    assert "cli-copy:1" in hearth.cli("list").stdout
    hearth.cli("rm", "cli-copy:1")
    assert "cli-copy:1" not in hearth.cli("list").stdout
    missing = hearth.cli("rm", "nope:1", check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    doctor = json.loads(hearth.cli("doctor", "--json").stdout)
    assert doctor["llama_server"]["found"] and doctor["hardware"]["physical_cores"] >= 1
    assert doctor["child_watch"] == "parent-death-signal"  # Linux
    assert isinstance(doctor["llama_server"]["devices"], list)
    text = hearth.cli("doctor").stdout
    assert "devices: " in text and "backend " in text


# A Qwen3-style thinking template on Gemma: the generation prompt opens a
# <think> block unless enable_thinking is false. Gemma never closes it, so
# with thinking on the whole answer is reasoning, which is what the test needs.
THINK_TEMPLATE = """{%- for message in messages -%}<start_of_turn>{{ 'model' if message.role == 'assistant' else message.role }}
{% if message.reasoning_content %}<think>{{ message.reasoning_content }}</think>{% endif %}{{ message.content }}<end_of_turn>
{% endfor -%}
{%- if add_generation_prompt -%}<start_of_turn>model
{% if enable_thinking is defined and not enable_thinking %}<think>

</think>

{% else %}<think>
{% endif %}{%- endif -%}"""  # noqa: E501


def test_think_splits_reasoning_into_thinking(client: ollama.Client) -> None:
    """``think`` reaches the chat template; llama-server's reasoning comes back as ``thinking``."""
    client.create(model="thinky:1", from_=GEMMA_NAME, template=THINK_TEMPLATE)
    try:
        assert "thinking" in (client.show("thinky:1").capabilities or [])
        question = [{"role": "user", "content": "What is 2+2?"}]
        options = {"num_predict": 12, "temperature": 0}
        on = client.chat(model="thinky:1", messages=question, think=True, options=options)
        assert on.message.thinking and not on.message.content
        off = client.chat(model="thinky:1", messages=question, think=False, options=options)
        assert not off.message.thinking and off.message.content
        streamed = list(
            client.chat(
                model="thinky:1", messages=question, think=True, options=options, stream=True
            )
        )
        assert "".join(c.message.thinking or "" for c in streamed) == on.message.thinking
        generated = client.generate(model="thinky:1", prompt="2+2?", think=True, options=options)
        assert generated.thinking and not generated.response
    finally:
        client.delete("thinky:1")
