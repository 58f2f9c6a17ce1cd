"""The official ``ollama`` Python client, unchanged, against a real Hearth.

Real llama-server, real Gemma 3 270M: every call below goes through Flask,
the manager, the scheduler and a llama-server subprocess.
"""

from __future__ import annotations

import math
from pathlib import Path

import ollama
import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess

# No stop strings: the test model has no chat template, and the ChatML
# fallback's stops (app.chat_templates) would end answers before the limit.
SHORT = {"num_predict": 8, "temperature": 0, "seed": 1, "stop": []}


@pytest.fixture(scope="module")
def client(hearth: HearthProcess) -> ollama.Client:
    return ollama.Client(host=hearth.ollama_url)


def test_version(client: ollama.Client) -> None:
    version = client._request_raw("GET", "/api/version").json()["version"]
    assert all(part.isdigit() for part in version.split("."))


def test_list_and_show(client: ollama.Client) -> None:
    names = [model.model for model in client.list().models]
    assert GEMMA_NAME in names
    info = client.show(GEMMA_NAME)
    assert info.details.family == "gemma3"
    assert info.details.quantization_level == "Q4_K_M"
    assert info.modelinfo["general.architecture"] == "gemma3"
    assert "completion" in (info.capabilities or [])


def test_generate_not_streamed(client: ollama.Client) -> None:
    reply = client.generate(model=GEMMA_NAME, prompt="The sky is", options=SHORT)
    assert reply.done and reply.done_reason in {"length", "stop"}
    assert reply.response
    assert reply.eval_count and reply.eval_count <= 8
    assert reply.prompt_eval_count and reply.total_duration and reply.eval_duration


def test_generate_streamed(client: ollama.Client) -> None:
    chunks = list(client.generate(model=GEMMA_NAME, prompt="Once upon", options=SHORT, stream=True))
    assert len(chunks) >= 3
    assert all(not chunk.done for chunk in chunks[:-1])
    assert chunks[-1].done and chunks[-1].eval_count == len(chunks) - 1


def test_generate_context_carries_the_conversation(client: ollama.Client) -> None:
    """The deprecated ``context``: returned with each answer, prepended when sent back."""
    first = client.generate(model=GEMMA_NAME, prompt="My name is Ada.", options=SHORT)
    assert first.context and all(isinstance(token, int) for token in first.context)
    # The prompt as templated, then the answer: as many tokens as both counts (the last
    # answered token may not have been evaluated). More would mean the template's
    # special tokens (``<start_of_turn>``) were split into text pieces.
    counted = first.prompt_eval_count + first.eval_count
    assert counted - 1 <= len(first.context) <= counted + 1, (len(first.context), counted)
    second = client.generate(
        model=GEMMA_NAME, prompt="What is my name?", context=first.context, options=SHORT
    )
    assert second.response and second.done
    # The earlier tokens were evaluated with the new prompt, and come back first.
    assert second.prompt_eval_count > len(first.context)
    assert second.context[: len(first.context)] == first.context
    streamed = list(client.generate(model=GEMMA_NAME, prompt="Hi", options=SHORT, stream=True))
    assert streamed[-1].context and not any(chunk.context for chunk in streamed[:-1])
    raw = client.generate(model=GEMMA_NAME, prompt="Hi", raw=True, options=SHORT)
    assert not raw.context  # Ollama returns none for raw prompts
    # A context that is not token ids (the client itself would not send one) is a 400.
    host = str(client._client.base_url).rstrip("/")
    bad = requests.post(
        f"{host}/api/generate",
        json={"model": GEMMA_NAME, "prompt": "Hi", "context": ["x"], "stream": False},
        timeout=30,
    )
    assert bad.status_code == 400 and "context" in bad.json()["error"]


def test_chat_not_streamed(client: ollama.Client) -> None:
    reply = client.chat(
        model=GEMMA_NAME,
        messages=[{"role": "user", "content": "Say hello"}],
        options=SHORT,
    )
    assert reply.message.role == "assistant"
    assert reply.message.content
    assert reply.done_reason == "length"
    assert reply.eval_count == 8


def test_chat_streamed(client: ollama.Client) -> None:
    pieces = []
    final = None
    for chunk in client.chat(
        model=GEMMA_NAME,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Count to five"},
        ],
        options=SHORT,
        stream=True,
    ):
        assert chunk.message.role == "assistant"
        if chunk.done:
            final = chunk
        else:
            pieces.append(chunk.message.content)
    assert final is not None and final.eval_count == len(pieces) == 8


def test_chat_json_format(client: ollama.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    reply = client.chat(
        model=GEMMA_NAME,
        messages=[{"role": "user", "content": "What is 2+2? Answer in JSON."}],
        format=schema,
        options={"num_predict": 40, "temperature": 0},
    )
    import json

    value = json.loads(reply.message.content)
    assert isinstance(value["answer"], int)


def test_embed(client: ollama.Client) -> None:
    reply = client.embed(model=GEMMA_NAME, input=["hello", "world"])
    assert len(reply.embeddings) == 2
    for vector in reply.embeddings:
        assert len(vector) == 640
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-3)
    short = client.embed(model=GEMMA_NAME, input="hello", dimensions=16)
    assert len(short.embeddings[0]) == 16
    legacy = client.embeddings(model=GEMMA_NAME, prompt="hello")
    assert len(legacy.embedding) == 640


def test_ps_and_unload(client: ollama.Client) -> None:
    client.generate(model=GEMMA_NAME, prompt="", keep_alive="10m")
    running = client.ps().models
    assert [m.model for m in running] == [GEMMA_NAME]
    assert running[0].size and running[0].size_vram == 0
    assert running[0].expires_at is not None
    unload = client.generate(model=GEMMA_NAME, prompt="", keep_alive=0)
    assert unload.done_reason == "unload"
    for _ in range(50):
        if not client.ps().models:
            break
        import time

        time.sleep(0.1)
    assert client.ps().models == []


def test_create_copy_delete(
    client: ollama.Client, gemma_gguf_path: Path, hearth: HearthProcess
) -> None:
    digest = client.create_blob(gemma_gguf_path)
    client.create(
        model="helper:1",
        files={"gemma.gguf": digest},
        system="You are a helpful pirate.",
        parameters={"temperature": 0.2, "stop": ["</s>"]},
    )
    info = client.show("helper:1")
    assert 'SYSTEM """You are a helpful pirate."""' in (info.modelfile or "")
    assert "temperature" in (info.parameters or "")
    derived = client.create(model="helper:2", from_="helper:1", system="Be brief.")
    assert derived.status == "success"
    derived_info = client.show("helper:2")
    assert 'SYSTEM """Be brief."""' in (derived_info.modelfile or "")
    assert "temperature" in (derived_info.parameters or "")  # parameters carried over
    client.copy("helper:2", "helper:copy")
    names = {m.model for m in client.list().models}
    assert {"helper:1", "helper:2", "helper:copy"} <= names
    for name in ("helper:1", "helper:2", "helper:copy"):
        client.delete(name)
    names = {m.model for m in client.list().models}
    assert not names & {"helper:1", "helper:2", "helper:copy"}
    # The GGUF blob is still used by gemma3:270m, so it must survive.
    assert client.show(GEMMA_NAME).details.family == "gemma3"
    reply = client.generate(model=GEMMA_NAME, prompt="Hi", options=SHORT)
    assert reply.done


def test_unknown_model_is_404(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 404
    assert "not found" in raised.value.error
