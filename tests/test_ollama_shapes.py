"""Shapes real clients rely on, where Hearth differed from Ollama (real Hearth, real model).

- A load or unload (``/api/generate`` or ``/api/chat`` with nothing to
  generate) is answered with one ``application/json`` object, streamed or
  not: Ollama's handlers answer it with ``c.JSON`` before any streaming.
- ``/api/show`` ``model_info`` carries ``general.parameter_count`` (Ollama's
  GGUF reader always adds it).
- ``/api/ps`` ``details`` has ``parent_model`` (empty), as Ollama's JSON does.
- A non-streamed pull from a registry that is not there answers 500 with
  Go's words for the failure, not urllib3's ``HTTPConnectionPool(...)``.
"""

from __future__ import annotations

import ollama
import pytest
import requests

from app.runner.process import free_port
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess


@pytest.fixture(scope="module")
def client(hearth: HearthProcess) -> ollama.Client:
    return ollama.Client(host=hearth.ollama_url)


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/api/generate", {"model": GEMMA_NAME}, "load"),
        ("/api/generate", {"model": GEMMA_NAME, "prompt": ""}, "load"),
        ("/api/chat", {"model": GEMMA_NAME, "messages": []}, "load"),
        ("/api/chat", {"model": GEMMA_NAME}, "load"),
        ("/api/generate", {"model": GEMMA_NAME, "keep_alive": 0}, "unload"),
        ("/api/chat", {"model": GEMMA_NAME, "messages": [], "keep_alive": 0}, "unload"),
    ],
)
def test_load_and_unload_answer_one_json_object(
    hearth: HearthProcess, path: str, body: dict, reason: str
) -> None:
    reply = requests.post(hearth.ollama_url + path, json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    answer = reply.json()  # one object, not NDJSON lines
    assert answer["done"] is True and answer["done_reason"] == reason
    assert answer["model"] == GEMMA_NAME
    if path == "/api/chat":
        assert answer["message"] == {"role": "assistant", "content": ""}
    else:
        assert answer["response"] == ""


def test_load_of_a_missing_model_is_404_json(hearth: HearthProcess) -> None:
    reply = requests.post(f"{hearth.ollama_url}/api/generate", json={"model": "nope"}, timeout=10)
    assert reply.status_code == 404
    assert reply.headers["Content-Type"] == "application/json"
    assert "not found" in reply.json()["error"]


def test_the_client_loads_and_unloads(client: ollama.Client) -> None:
    assert client.generate(model=GEMMA_NAME).done_reason == "load"
    assert client.chat(model=GEMMA_NAME, messages=[]).done_reason == "load"
    assert client.generate(model=GEMMA_NAME, keep_alive=0).done_reason == "unload"


def test_show_has_the_parameter_count(client: ollama.Client) -> None:
    info = client.show(GEMMA_NAME)
    count = info.modelinfo["general.parameter_count"]
    assert isinstance(count, int)
    # Gemma 3 270M: 268 M parameters, shown as details.parameter_size
    assert 260e6 < count < 280e6
    assert info.details.parameter_size == f"{count / 1e6:.2f}M"


def test_ps_details_have_parent_model(hearth: HearthProcess, client: ollama.Client) -> None:
    client.generate(model=GEMMA_NAME, keep_alive="5m")
    models = requests.get(f"{hearth.ollama_url}/api/ps", timeout=10).json()["models"]
    (entry,) = [m for m in models if m["name"] == GEMMA_NAME]
    assert entry["details"]["parent_model"] == ""
    assert list(entry["details"])[:2] == ["parent_model", "format"]  # Ollama's field order
    assert client.ps().models[0].details.parent_model == ""


def test_pull_from_an_unreachable_registry_says_it_as_ollama(client: ollama.Client) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(ollama.ResponseError) as caught:
        client.pull(f"127.0.0.1:{port}/library/absent:latest", insecure=True, stream=False)
    assert caught.value.status_code == 500
    url = f"http://127.0.0.1:{port}/v2/library/absent/manifests/latest"
    assert caught.value.error == (
        f'pull model manifest: Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )


def test_streamed_pull_from_an_unreachable_registry_ends_with_the_same_words(
    client: ollama.Client,
) -> None:
    port = free_port()
    with pytest.raises(ollama.ResponseError) as caught:
        for _ in client.pull(f"127.0.0.1:{port}/library/absent", insecure=True, stream=True):
            pass
    assert "dial tcp 127.0.0.1:" in caught.value.error
    assert "HTTPConnectionPool" not in caught.value.error
