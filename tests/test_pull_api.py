"""Pulls end to end: a real registry, a real Hearth, the official client, then chat."""

from __future__ import annotations

import json
import time
from pathlib import Path

import ollama
import pytest
import requests

from tests.hearth_process import HearthProcess
from tests.registry import RegistryServer, push_model

PARAMS = b'{"temperature": 0.7}'
CONFIG = {"model_format": "gguf", "model_family": "gemma3", "file_type": "Q4_K_M"}


@pytest.fixture(scope="module")
def pushed_gemma(registry: RegistryServer, gemma_gguf_path: Path) -> str:
    push_model(
        registry.url,
        "library/pullme",
        "270m",
        [("model", gemma_gguf_path), ("params", PARAMS)],
        CONFIG,
    )
    return f"{registry.host}/library/pullme:270m"


def test_pull_with_the_ollama_client_then_chat(hearth: HearthProcess, pushed_gemma: str) -> None:
    client = ollama.Client(host=hearth.ollama_url)
    statuses = [progress.status for progress in client.pull(pushed_gemma, stream=True)]
    assert statuses[0] == "pulling manifest"
    assert any(s and s.startswith("pulling ") and s != "pulling manifest" for s in statuses)
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert pushed_gemma in [m.model for m in client.list().models]
    info = client.show(pushed_gemma)
    assert info.details.family == "gemma3"
    reply = client.chat(
        model=pushed_gemma,
        messages=[{"role": "user", "content": "Hello"}],
        options={"num_predict": 4},
    )
    assert reply.done and reply.eval_count == 4
    again = client.pull(pushed_gemma)  # everything present: nothing to fetch
    assert again.status == "success"
    client.delete(pushed_gemma)


def test_pull_errors(hearth: HearthProcess, registry: RegistryServer) -> None:
    missing = requests.post(
        f"{hearth.ollama_url}/api/pull",
        json={"model": f"{registry.host}/library/absent:1", "stream": False},
        timeout=30,
    )
    assert missing.status_code >= 400 and "does not exist" in missing.json()["error"]
    invalid = requests.post(f"{hearth.ollama_url}/api/pull", json={"model": "a/b/c/d"}, timeout=30)
    assert invalid.status_code == 400
    streamed = requests.post(
        f"{hearth.ollama_url}/api/pull",
        json={"model": f"{registry.host}/library/absent:2"},
        timeout=30,
    )
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert "error" in lines[-1] or streamed.status_code >= 400


def test_cli_pull_shows_progress(hearth: HearthProcess, pushed_gemma: str) -> None:
    result = hearth.cli("pull", pushed_gemma)
    assert "success" in result.stdout and "/s ETA" in result.stdout
    assert pushed_gemma in hearth.cli("list").stdout
    hearth.cli("rm", pushed_gemma)


def test_pull_resumes_after_hearth_restart(
    tmp_path_factory: pytest.TempPathFactory,
    llama_server_binary: Path,
    registry: RegistryServer,
    pushed_gemma: str,
) -> None:
    """Hearth is killed mid-pull and started again: the pull resumes by itself.

    The download is slowed with HEARTH_PULL_MAX_BPS, a named stand-in for a
    slow network (the registry is on loopback and would finish at once).
    """
    home = tmp_path_factory.mktemp("resume-home")
    slow = {"HEARTH_PULL_MAX_BPS": str(40 * 2**20)}
    first = HearthProcess(home, llama_server_binary, extra_env=slow)
    first.start()
    requests.post(
        f"{first.ollama_url}/api/pull", json={"model": pushed_gemma}, stream=True, timeout=30
    ).close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pulls = requests.get(f"{first.ollama_url}/api/pulls", timeout=5).json()["pulls"]
        if pulls and pulls[0]["completed"] > 50 * 2**20:
            break
        time.sleep(0.1)
    assert first.process is not None
    first.process.kill()
    first.process.wait()
    partials = list((home / "models" / "blobs").glob("*-partial"))
    assert partials, "the interrupted pull left no partial data to resume from"

    second = HearthProcess(home, llama_server_binary)
    second.start()
    try:
        deadline = time.monotonic() + 60
        names: list[str] = []
        while time.monotonic() < deadline:
            tags = requests.get(f"{second.ollama_url}/api/tags", timeout=5).json()["models"]
            names = [m["name"] for m in tags]
            if pushed_gemma in names:
                break
            time.sleep(0.2)
        assert pushed_gemma in names
        assert not list((home / "models" / "blobs").glob("*-partial*"))
    finally:
        second.stop()
