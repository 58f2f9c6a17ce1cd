"""Token log probabilities (Ollama's ``logprobs``/``top_logprobs``) from the real llama-server.

Checked through the official ``ollama`` and ``openai`` clients, unchanged.
Greedy sampling gives a check that cannot pass by accident: the token
chosen at each step must be the first of its alternatives, with the same
log probability.
"""

from __future__ import annotations

import math

import ollama
import openai
import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess
from tests.test_generation_features import TOOL_TEMPLATE, WEATHER_TOOL

# No stop strings: the test model has no chat template, and the ChatML
# fallback's stops (app.chat_templates) would end answers before the limit.
GREEDY = {"temperature": 0, "num_predict": 12, "stop": []}


@pytest.fixture(scope="module")
def client(hearth: HearthProcess) -> ollama.Client:
    return ollama.Client(host=hearth.ollama_url)


def assert_greedy_entries(entries: list, top: int) -> None:
    assert entries
    for entry in entries:
        assert entry["logprob"] <= 0
        if "bytes" in entry:  # the ollama client's type has no bytes; the openai one has
            assert bytes(entry["bytes"]).decode() == entry["token"]
        alternatives = entry["top_logprobs"]
        assert 1 <= len(alternatives) <= top
        assert alternatives[0]["token"] == entry["token"]
        assert math.isclose(alternatives[0]["logprob"], entry["logprob"], abs_tol=1e-4)
        assert [a["logprob"] for a in alternatives] == sorted(
            (a["logprob"] for a in alternatives), reverse=True
        )


def test_chat_logprobs_follow_the_answer(client: ollama.Client) -> None:
    reply = client.chat(
        model=GEMMA_NAME,
        messages=[{"role": "user", "content": "Name three colours."}],
        options=GREEDY,
        logprobs=True,
        top_logprobs=3,
    )
    entries = [entry.model_dump() for entry in reply.logprobs]
    assert_greedy_entries(entries, 3)
    assert "".join(e["token"] for e in entries) == reply.message.content
    assert len(entries) == reply.eval_count


def test_streamed_generate_carries_logprobs_per_chunk(client: ollama.Client) -> None:
    chunks = list(
        client.generate(
            model=GEMMA_NAME, prompt="Count to five.", options=GREEDY, logprobs=True, stream=True
        )
    )
    pieces = [c for c in chunks if not c.done]
    assert pieces and all(c.logprobs for c in pieces if c.response)
    for chunk in pieces:
        for entry in chunk.logprobs or ():
            assert entry.logprob <= 0 and not entry.top_logprobs  # top_logprobs 0: none
        assert "".join(e.token for e in chunk.logprobs or ()) == chunk.response


def test_raw_generate_logprobs(client: ollama.Client) -> None:
    reply = client.generate(
        model=GEMMA_NAME,
        prompt="The capital of France is",
        raw=True,
        options=GREEDY,
        logprobs=True,
        top_logprobs=2,
    )
    entries = [entry.model_dump() for entry in reply.logprobs]
    assert_greedy_entries(entries, 2)
    assert "".join(e["token"] for e in entries) == reply.response


def test_no_logprobs_unless_asked(client: ollama.Client) -> None:
    reply = client.chat(
        model=GEMMA_NAME, messages=[{"role": "user", "content": "Hi"}], options=GREEDY
    )
    assert reply.logprobs is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs must be between 0 and 20"),
        ({"logprobs": True, "top_logprobs": -1}, "top_logprobs must be between 0 and 20"),
        ({"logprobs": "yes"}, "logprobs must be true or false"),
    ],
)
def test_bad_logprobs_requests_are_400(hearth: HearthProcess, extra: dict, message: str) -> None:
    reply = requests.post(
        f"{hearth.ollama_url}/api/chat",
        json={"model": GEMMA_NAME, "messages": [{"role": "user", "content": "Hi"}], **extra},
        timeout=60,
    )
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]


def test_logprobs_with_tools_is_a_clear_400(hearth: HearthProcess, client: ollama.Client) -> None:
    """llama-server refuses logprobs on a streamed chat with tools; Hearth says so first."""
    client.create(model="tooly-logprobs:1", from_=GEMMA_NAME, template=TOOL_TEMPLATE)
    try:
        reply = requests.post(
            f"{hearth.ollama_url}/api/chat",
            json={
                "model": "tooly-logprobs:1",
                "messages": [{"role": "user", "content": "Weather in Oslo?"}],
                "tools": [WEATHER_TOOL],
                "logprobs": True,
            },
            timeout=60,
        )
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"] == "logprobs cannot be combined with tools"
        assert not any(m.model == "tooly-logprobs:1" for m in client.ps().models)  # not loaded
    finally:
        client.delete("tooly-logprobs:1")


def test_openai_chat_logprobs(hearth: HearthProcess) -> None:
    client = openai.OpenAI(base_url=f"{hearth.ollama_url}/v1", api_key="unused")
    request = {
        "model": GEMMA_NAME,
        "messages": [{"role": "user", "content": "Name a fruit."}],
        "max_tokens": 8,
        "temperature": 0,
        "stop": [],  # runs to max_tokens (see GREEDY)
        "logprobs": True,
    }
    reply = client.chat.completions.create(**request, top_logprobs=2)
    content = reply.choices[0].logprobs.content
    assert_greedy_entries([entry.model_dump() for entry in content], 2)
    assert "".join(entry.token for entry in content) == reply.choices[0].message.content

    stream = client.chat.completions.create(**request, stream=True)
    streamed = [
        e
        for chunk in stream
        if chunk.choices and chunk.choices[0].logprobs
        for e in chunk.choices[0].logprobs.content
    ]
    assert [e.token for e in streamed] == [e.token for e in content]
    assert all(e.top_logprobs == [] for e in streamed)


def test_openai_legacy_completion_logprobs(hearth: HearthProcess) -> None:
    client = openai.OpenAI(base_url=f"{hearth.ollama_url}/v1", api_key="unused")
    reply = client.completions.create(
        model=GEMMA_NAME, prompt="The sky is", max_tokens=6, temperature=0, logprobs=2
    )
    logprobs = reply.choices[0].logprobs
    assert "".join(logprobs.tokens) == reply.choices[0].text
    assert len(logprobs.token_logprobs) == len(logprobs.tokens) == len(logprobs.top_logprobs)
    for token, logprob, alternatives in zip(
        logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs, strict=True
    ):
        assert max(alternatives, key=alternatives.get) == token
        assert math.isclose(alternatives[token], logprob, abs_tol=1e-4)
    offsets = [sum(len(t) for t in logprobs.tokens[:i]) for i in range(len(logprobs.tokens))]
    assert logprobs.text_offset == offsets
