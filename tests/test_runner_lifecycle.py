"""Runner behaviour under real load: parallel streams, disconnects, crashes, keep_alive."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess
from tests.threads import run_at_once
from tests.waiting import wait_until


def stream_lines(reply: requests.Response):  # type: ignore[no-untyped-def]
    for line in reply.iter_lines(chunk_size=None):
        if line:
            yield json.loads(line)


def start_chat(
    api: str, num_predict: int, content: str = "Tell me a long story"
) -> requests.Response:
    reply = requests.post(
        f"{api}/api/chat",
        json={
            "model": GEMMA_NAME,
            "messages": [{"role": "user", "content": content}],
            # stop: [] so the ChatML fallback's stops do not end the story early
            "options": {"num_predict": num_predict, "temperature": 0.7, "stop": []},
            "keep_alive": "5m",
        },
        stream=True,
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/x-ndjson")
    return reply


def a_long_answer_under_way(
    hearth: HearthProcess,
) -> tuple[requests.Response, Iterator[dict], psutil.Process]:
    """A long story streaming, three lines in: its reply, the rest of its lines, and the
    llama-server writing it."""
    reply = start_chat(hearth.ollama_url, 4000)
    lines = stream_lines(reply)
    for _ in range(3):
        next(lines)
    (server,) = hearth.llama_servers()
    return reply, lines, server


def cpu_seconds(process: psutil.Process, window: float) -> float:
    before = process.cpu_times()
    time.sleep(window)
    after = process.cpu_times()
    return (after.user + after.system) - (before.user + before.system)


def test_two_chats_stream_at_once(hearth: HearthProcess) -> None:
    first_token: dict[int, float] = {}
    finished: dict[int, float] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            reply = start_chat(hearth.ollama_url, 96, f"Story number {index}")
            for chunk in stream_lines(reply):
                if not chunk["done"]:
                    first_token.setdefault(index, time.monotonic())
                else:
                    finished[index] = time.monotonic()
                    assert chunk["eval_count"] == 96
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    # Load the model first so both requests race only for generation.
    requests.post(f"{hearth.ollama_url}/api/generate", json={"model": GEMMA_NAME}, timeout=120)
    run_at_once(run, (1, 2), timeout=120)
    assert not errors, errors
    assert set(finished) == {1, 2}
    # Both streams were producing tokens at the same time: each started before the other ended.
    assert first_token[1] < finished[2] and first_token[2] < finished[1]


def test_disconnect_stops_generation(hearth: HearthProcess) -> None:
    reply, _lines, server = a_long_answer_under_way(hearth)
    assert cpu_seconds(server, 0.3) > 0.1  # it is busy generating
    reply.close()
    time.sleep(1.0)
    assert cpu_seconds(server, 0.5) < 0.05  # and it stopped within a second


def raw_post(url: str, path: str, body: dict) -> socket.socket:
    """Send one HTTP request on a plain socket and leave it open, unread."""
    parsed = urlsplit(url)
    data = json.dumps(body).encode()
    client = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    client.sendall(
        f"POST {parsed.path}{path} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return client


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/generate",
            {"prompt": "Tell me a long story", "options": {"num_predict": 4000, "stop": []}},
        ),
        (
            "/v1/chat/completions",
            {
                "messages": [{"role": "user", "content": "A long story"}],
                "max_tokens": 4000,
                "stop": [],
            },
        ),
    ],
)
def test_disconnect_stops_a_non_streamed_generation(
    hearth: HearthProcess, path: str, body: dict
) -> None:
    """No byte is written until the answer is done, yet leaving still stops the slot."""
    requests.post(f"{hearth.ollama_url}/api/generate", json={"model": GEMMA_NAME}, timeout=120)
    (server,) = hearth.llama_servers()
    client = raw_post(hearth.ollama_url, path, {"model": GEMMA_NAME, "stream": False, **body})
    time.sleep(1.0)
    assert cpu_seconds(server, 0.3) > 0.1  # it is busy generating
    client.close()
    # It stops (within a second on an idle machine; a busy one gets longer).
    wait_until(lambda: cpu_seconds(server, 0.5) < 0.05, "the slot stops", timeout=15)
    (same,) = hearth.llama_servers()
    assert same.pid == server.pid  # a cut we made is not a crash: the runner stays
    again = hearth.ollama_post(
        "/api/generate",
        {"model": GEMMA_NAME, "prompt": "Hi", "stream": False, "options": {"num_predict": 2}},
        timeout=60,
    )
    assert again["eval_count"] == 2


def test_crash_mid_answer_then_recover(hearth: HearthProcess) -> None:
    _reply, lines, server = a_long_answer_under_way(hearth)
    server.kill()
    rest = list(lines)
    assert rest and "error" in rest[-1]
    error = rest[-1]["error"]
    # In words, with how it ended (Hearth waits for the exit to say it), no class name
    # (ChunkedEncodingError) and no page of log lines.
    assert error.startswith("model runner has unexpectedly stopped: "), error
    assert "llama-server exited with signal 9 (SIGKILL) while answering" in error, error
    assert not re.search(r"[a-z](Error|Exception)\b", error), error
    assert "\n" not in error
    # The next request starts a fresh llama-server and answers.
    again = hearth.ollama_post(
        "/api/generate",
        {"model": GEMMA_NAME, "prompt": "Hello", "stream": False, "options": {"num_predict": 4}},
        timeout=120,
    )
    assert again["done"] is True
    (fresh,) = hearth.llama_servers()
    assert fresh.pid != server.pid


def test_keep_alive_expiry_unloads(hearth: HearthProcess) -> None:
    reply = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "prompt": "", "keep_alive": "1s", "stream": False},
        timeout=120,
    )
    assert reply.json()["done_reason"] == "load"
    assert hearth.llama_servers()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and hearth.llama_servers():
        time.sleep(0.2)
    assert hearth.llama_servers() == []
    assert requests.get(f"{hearth.ollama_url}/api/ps", timeout=10).json() == {"models": []}


def test_forever_keep_alive(hearth: HearthProcess) -> None:
    requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "keep_alive": -1, "stream": False},
        timeout=120,
    )
    (entry,) = requests.get(f"{hearth.ollama_url}/api/ps", timeout=10).json()["models"]
    assert entry["expires_at"].startswith("2318")
    requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "keep_alive": 0, "stream": False},
        timeout=120,
    )


@pytest.mark.usefixtures("hearth")
def test_stop_leaves_no_llama_server(make_hearth: HearthFactory) -> None:
    own = make_hearth(models=["g:1"])
    requests.post(f"{own.ollama_url}/api/generate", json={"model": "g:1"}, timeout=120)
    children = own.llama_servers()
    assert len(children) == 1
    own.stop()
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive


def test_kill_9_leaves_no_llama_server(make_hearth: HearthFactory) -> None:
    own = make_hearth(models=["g:1"])
    requests.post(f"{own.ollama_url}/api/generate", json={"model": "g:1"}, timeout=120)
    children = own.llama_servers()
    assert len(children) == 1
    assert own.process is not None
    own.process.kill()
    own.process.wait()
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
