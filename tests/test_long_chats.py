"""A chat longer than the context goes on, as in Ollama: the oldest turns are left out.

Real llama-server with a 512-token context per slot: the history below is
about twice that, so llama-server refuses it whole and Hearth sends the
newest turns that fit (and the system message). ``truncate: false`` keeps
llama-server's refusal.
"""

from __future__ import annotations

import ollama
import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess

SMALL_CONTEXT = {"num_ctx": 512, "num_predict": 8, "temperature": 0}


def long_history(turns: int = 24) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "You are terse."}]
    for turn in range(turns):
        messages.append({"role": "user", "content": f"Fact {turn}: " + "the sea is wide " * 8})
        messages.append({"role": "assistant", "content": f"Noted fact {turn}."})
    messages.append({"role": "user", "content": "Say OK."})
    return messages


def chat_without_truncation(hearth: HearthProcess, model: str) -> requests.Response:
    """The long history with ``truncate: false``: llama-server's refusal must come back."""
    return requests.post(
        f"{hearth.ollama_url}/api/chat",
        json={
            "model": model,
            "messages": long_history(),
            "options": SMALL_CONTEXT,
            "truncate": False,
            "stream": False,
        },
        timeout=300,
    )


@pytest.fixture(scope="module")
def client(hearth: HearthProcess) -> ollama.Client:
    return ollama.Client(host=hearth.ollama_url)


def test_a_chat_longer_than_the_context_still_answers(client: ollama.Client) -> None:
    reply = client.chat(model=GEMMA_NAME, messages=long_history(), options=SMALL_CONTEXT)
    assert reply.done and reply.eval_count > 0
    # What was sent fits the slot with room left for the answer (a quarter,
    # or num_predict when smaller), and is as much of the chat as fits, not
    # only its last message.
    assert 256 < reply.prompt_eval_count <= 512 - 8


def test_a_long_chat_streams_too(client: ollama.Client) -> None:
    chunks = list(
        client.chat(model=GEMMA_NAME, messages=long_history(), options=SMALL_CONTEXT, stream=True)
    )
    assert chunks[-1].done and "".join(c.message.content for c in chunks)


def test_truncate_false_keeps_the_refusal(hearth: HearthProcess) -> None:
    reply = chat_without_truncation(hearth, GEMMA_NAME)
    assert reply.status_code == 400
    assert "exceeds the available context size" in reply.json()["error"]
    assert "truncate is false" in reply.json()["error"]
    assert "num_ctx 512" in reply.json()["error"]


def test_a_last_message_too_long_on_its_own_is_a_clear_400(hearth: HearthProcess) -> None:
    messages = [{"role": "user", "content": "the sea is wide " * 300}]
    reply = requests.post(
        f"{hearth.ollama_url}/api/chat",
        json={"model": GEMMA_NAME, "messages": messages, "options": SMALL_CONTEXT},
        timeout=120,
    )
    assert reply.status_code == 400
    assert "exceeds the available context size" in reply.json()["error"]
    assert "the last message does not fit even alone" in reply.json()["error"]
    assert "num_ctx 512" in reply.json()["error"]
