"""The official ``openai`` Python client, unchanged, against Hearth's /ollama/v1."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import ollama
import openai
import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.test_generation_features import WEATHER_TOOL


@pytest.fixture(scope="module")
def client(hearth: HearthProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{hearth.ollama_url}/v1", api_key="unused")


def test_models(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list().data]
    assert GEMMA_NAME in ids
    one = client.models.retrieve(GEMMA_NAME)
    assert one.owned_by == "library"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("missing:1")


def test_chat_not_streamed(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=GEMMA_NAME,
        messages=[{"role": "user", "content": "Say hi"}],
        max_tokens=8,
        temperature=0,
        stop=[],  # no ChatML fallback stops: the answer runs to max_tokens
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 8


def test_chat_streamed_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=GEMMA_NAME,
        messages=[
            {"role": "system", "content": "Be short."},
            {"role": "user", "content": [{"type": "text", "text": "Count"}]},
        ],
        max_tokens=6,
        stop=[],  # no ChatML fallback stops: the answer runs to max_tokens
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6


def test_json_schema_output(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model=GEMMA_NAME,
        messages=[{"role": "user", "content": "Name a city as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
        max_tokens=40,
        temperature=0,
    )
    assert isinstance(json.loads(reply.choices[0].message.content or "")["city"], str)


def test_json_object_output(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=GEMMA_NAME,
        messages=[{"role": "user", "content": "Give a JSON object describing a cat."}],
        response_format={"type": "json_object"},
        max_tokens=40,
        temperature=0,
    )
    content = reply.choices[0].message.content or ""
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content), dict)
    else:  # cut at max_tokens: still the start of a JSON object, never prose
        assert content.lstrip().startswith("{")


# A Hermes-style template that renders assistant tool calls and tool results,
# so a whole tool round trip reaches llama-server as a prompt.
HERMES_TEMPLATE = """{%- if tools %}<|im_start|>system
You may call these tools: {{ tools | tojson }}<|im_end|>
{% endif %}{%- for message in messages -%}
<|im_start|>{{ message.role }}
{% if message.tool_calls -%}
{%- for call in message.tool_calls -%}
<tool_call>
{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}
</tool_call>
{%- endfor -%}
{%- else -%}
{{ message.content }}
{%- endif -%}<|im_end|>
{% endfor -%}
{%- if add_generation_prompt -%}<|im_start|>assistant
{% endif -%}"""


@pytest.fixture(scope="module")
def tool_model(hearth: HearthProcess) -> Iterator[str]:
    client = ollama.Client(host=hearth.ollama_url)
    client.create(model="tooly-openai:1", from_=GEMMA_NAME, template=HERMES_TEMPLATE)
    yield "tooly-openai:1"
    client.delete("tooly-openai:1")  # also unloads it, for the tests that count runners


def test_tool_round_trip_reaches_the_model(client: openai.OpenAI, tool_model: str) -> None:
    """The caller's tool call and the tool's result go back in; the model answers.

    Whether a model *emits* a tool call is up to the model: Gemma 3 270M has
    no tool training, so that half is covered where Hearth parses
    llama-server's tool-call deltas (tests/test_keepalive_translate.py).
    """
    messages: list[dict] = [
        {"role": "user", "content": "What is the weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 18 C"},
    ]
    for choice in ("auto", "none", {"type": "function", "function": {"name": "get_weather"}}):
        answer = client.chat.completions.create(
            model=tool_model,
            messages=messages,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            tool_choice=choice,  # type: ignore[arg-type]
            max_tokens=8,
            temperature=0,
        )
        assert answer.choices[0].finish_reason in {"stop", "length", "tool_calls"}
        assert answer.usage is not None and answer.usage.prompt_tokens > 40  # tools and result
    with pytest.raises(openai.BadRequestError, match="not among the tools"):
        client.chat.completions.create(
            model=tool_model,
            messages=[{"role": "user", "content": "x"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )


def test_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=GEMMA_NAME, prompt="The sea is", max_tokens=5)
    assert reply.choices[0].text and reply.usage.completion_tokens == 5
    listed = client.completions.create(model=GEMMA_NAME, prompt=["The sky is"], max_tokens=3)
    assert listed.choices[0].text and listed.usage.completion_tokens == 3
    with pytest.raises(openai.BadRequestError, match="one prompt per request"):
        client.completions.create(model=GEMMA_NAME, prompt=["a", "b"], max_tokens=3)
    streamed = list(
        client.completions.create(model=GEMMA_NAME, prompt="Hi", max_tokens=3, stream=True)
    )
    assert streamed[-1].choices[0].finish_reason == "length"


def test_embeddings(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=GEMMA_NAME, input=["one", "two"])
    assert [d.index for d in reply.data] == [0, 1]
    assert len(reply.data[0].embedding) == 640
    packed = client.embeddings.create(model=GEMMA_NAME, input="one", encoding_format="base64")
    raw = base64.b64decode(packed.data[0].embedding)  # type: ignore[arg-type]
    assert len(raw) == 640 * 4  # little-endian float32


def test_tools_request_is_refused_for_a_model_without_tools(client: openai.OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model=GEMMA_NAME, messages=[{"role": "user", "content": "x"}], tools=[tool]
        )
    assert "does not support tools" in str(raised.value)


def test_errors_use_openai_shape(hearth: HearthProcess) -> None:
    reply = requests.post(
        f"{hearth.ollama_url}/v1/chat/completions",
        json={"model": "missing:1", "messages": [{"role": "user", "content": "x"}]},
        timeout=10,
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["type"] == "not_found_error"
    empty = requests.post(
        f"{hearth.ollama_url}/v1/chat/completions",
        json={"model": GEMMA_NAME, "messages": []},
        timeout=10,
    )
    assert empty.status_code == 400 and empty.json()["error"]["type"] == "invalid_request_error"
