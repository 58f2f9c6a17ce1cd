"""A model deleted while it answers, then re-created under its name (real llama-server).

Ollama keeps one runner per name: the delete lets the answer in progress
finish, then stops that runner; the re-created model loads afresh, and
``/api/ps`` lists the name once. Before, the old runner stayed in the table,
``/api/ps`` listed the name twice and ``keep_alive: 0`` unloaded only one.
"""

from __future__ import annotations

import json
import threading
import time

import psutil
import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess
from tests.waiting import wait_until

COUNTING = {
    "model": "doomed",
    "prompt": "Count from 1 to 1000: 1, 2, 3, 4, 5, 6, 7,",
    "raw": True,
    "options": {"num_predict": 5000, "temperature": 0},
}


def runner_pids(process: HearthProcess) -> set[int]:
    """llama-server children now; one that exits while being looked at is not counted."""
    assert process.process is not None
    pids = set()
    for child in psutil.Process(process.process.pid).children(recursive=True):
        try:
            if "llama-server" in child.name():
                pids.add(child.pid)
        except (psutil.Error, OSError):
            continue
    return pids


def ps_names(process: HearthProcess) -> list[str]:
    reply = requests.get(f"{process.ollama_url}/api/ps", timeout=10)
    return [m["name"] for m in reply.json()["models"]]


def create(process: HearthProcess, system: str) -> None:
    """``doomed`` from Gemma with its own system prompt (so its manifest digest is its own)."""
    reply = requests.post(
        f"{process.ollama_url}/api/create",
        json={"model": "doomed", "from": GEMMA_NAME, "system": system, "stream": False},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text


@pytest.fixture
def process(make_hearth: HearthFactory) -> HearthProcess:
    return make_hearth(models=[GEMMA_NAME])


def test_delete_while_answering_then_recreate_keeps_one_runner(process: HearthProcess) -> None:
    create(process, "first")
    old_stream = requests.post(
        f"{process.ollama_url}/api/generate", json=COUNTING, stream=True, timeout=120
    )
    assert old_stream.status_code == 200
    lines = old_stream.iter_lines(chunk_size=None)
    first = json.loads(next(lines))
    assert first["done"] is False
    (old_pid,) = runner_pids(process)
    chunks_seen = [1]
    stop_reading = threading.Event()

    def read_until_told() -> None:
        for line in lines:
            if line:
                chunks_seen[0] += 1
                assert json.loads(line)["done"] is False
            if stop_reading.is_set():
                return

    reader = threading.Thread(target=read_until_told, daemon=True)
    reader.start()

    deleted = requests.delete(
        f"{process.ollama_url}/api/delete", json={"model": "doomed"}, timeout=10
    )
    assert deleted.status_code == 200
    assert ps_names(process) == []  # the deleted model's runner is no longer listed
    create(process, "second")
    new_answer = requests.post(
        f"{process.ollama_url}/api/generate",
        json={**COUNTING, "options": {"num_predict": 4, "temperature": 0}, "stream": False},
        timeout=120,
    )
    assert new_answer.status_code == 200, new_answer.text
    assert ps_names(process) == ["doomed:latest"]
    loaded = requests.get(f"{process.ollama_url}/api/ps", timeout=10).json()["models"]
    tags = requests.get(f"{process.ollama_url}/api/tags", timeout=10).json()["models"]
    assert loaded[0]["digest"] == {m["name"]: m["digest"] for m in tags}["doomed:latest"]
    assert old_pid in runner_pids(process)  # still answering: the delete did not cut it
    seen = chunks_seen[0]
    wait_until(lambda: chunks_seen[0] > seen + 3, "the old answer goes on", timeout=60)

    # The old answer ends (here: its client leaves), and then its runner stops.
    stop_reading.set()
    reader.join(timeout=30)
    old_stream.close()
    wait_until(lambda: old_pid not in runner_pids(process), "the old runner stops", timeout=30)
    assert ps_names(process) == ["doomed:latest"]

    unload = requests.post(
        f"{process.ollama_url}/api/generate",
        json={"model": "doomed", "keep_alive": 0},
        timeout=30,
    )
    assert unload.status_code == 200
    wait_until(lambda: ps_names(process) == [] and not runner_pids(process), "unloaded", timeout=20)
    time.sleep(0.5)
    assert ps_names(process) == []
