"""Sampling options and keep_alive reach the real llama-server and change what it does."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import ollama
import pytest

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess


@pytest.fixture(scope="module")
def client(hearth: HearthProcess) -> ollama.Client:
    return ollama.Client(host=hearth.ollama_url)


def answer(client: ollama.Client, **options: object) -> str:
    reply = client.generate(
        model=GEMMA_NAME,
        prompt="Write one sentence about the sea.",
        options={"num_predict": 24, **options},
    )
    return reply.response


def test_seed_makes_sampling_repeatable(client: ollama.Client) -> None:
    first = answer(client, temperature=1.2, seed=7)
    assert answer(client, temperature=1.2, seed=7) == first
    others = {answer(client, temperature=1.2, seed=seed) for seed in (1, 2, 3)}
    assert others != {first}  # another seed, another sample


def test_top_k_one_is_greedy_whatever_the_seed(client: ollama.Client) -> None:
    greedy = answer(client, temperature=0)
    assert {answer(client, temperature=1.5, top_k=1, seed=seed) for seed in (4, 5)} == {greedy}


def test_stop_sequence_ends_the_answer(client: ollama.Client) -> None:
    reply = client.generate(
        model=GEMMA_NAME,
        prompt="1, 2, 3, 4, 5, 6,",
        raw=True,
        options={"num_predict": 40, "temperature": 0, "stop": [","]},
    )
    assert reply.done_reason == "stop"
    assert "," not in reply.response and reply.eval_count < 40


def test_default_keep_alive_is_five_minutes(hearth: HearthProcess, client: ollama.Client) -> None:
    client.generate(model=GEMMA_NAME, prompt="Hi", options={"num_predict": 1})
    (model,) = [m for m in client.ps().models if m.model == GEMMA_NAME]
    expected = datetime.now(UTC) + timedelta(minutes=5)
    assert model.expires_at is not None
    assert abs((model.expires_at - expected).total_seconds()) < 30


def test_keep_alive_zero_on_a_real_answer_unloads_after_it(
    hearth: HearthProcess, client: ollama.Client
) -> None:
    reply = hearth.ollama_post(
        "/api/generate",
        {
            "model": GEMMA_NAME,
            "prompt": "Hi",
            "stream": False,
            "keep_alive": 0,
            "options": {"num_predict": 3},
        },
        timeout=120,
    )
    assert reply["eval_count"] == 3

    def loaded() -> list[str]:
        return [m.model for m in client.ps().models if m.model == GEMMA_NAME]

    deadline = time.monotonic() + 10
    while loaded() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert loaded() == []
