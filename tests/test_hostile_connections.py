"""Idle and half-sent connections must not starve real clients (issue 16).

Real sockets against a real ``hearth serve``: 200 sockets that send nothing,
half a request head, half a ``Content-Length`` body or an unfinished chunked
body stay open while a normal client asks for ``/api/version`` and
``/api/tags``. Before the request gate (``app.http_gate``), 32 of them took
all 32 worker threads for an hour each. Bounds here are generous (a busy
2-core machine); the measured latencies are in the issue's report.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.hearth_process import HearthFactory, HearthProcess

IDLE_SOCKETS = 200
HALF_SENT = (
    b"",
    b"GET /ollama/api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    b"POST /ollama/api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"model":',
    b"POST /ollama/api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'5\r\n{"mod\r\n',
)


def _port(process: HearthProcess) -> int:
    return int(process.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def idle_sockets(port: int, count: int = IDLE_SOCKETS) -> Iterator[list[socket.socket]]:
    """``count`` connections, each left hanging after one of ``HALF_SENT``."""
    held: list[socket.socket] = []
    try:
        for index in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            held.append(sock)
            if HALF_SENT[index % len(HALF_SENT)]:
                sock.sendall(HALF_SENT[index % len(HALF_SENT)])
        time.sleep(0.5)  # let the server accept them all before the real client comes
        yield held
    finally:
        for sock in held:
            sock.close()


@pytest.fixture(scope="module")
def plain(make_module_hearth: HearthFactory) -> HearthProcess:
    return make_module_hearth()


@pytest.fixture(scope="module")
def lan(make_module_hearth: HearthFactory) -> tuple[HearthProcess, str]:
    """LAN mode's token check, on loopback (HEARTH_REQUIRE_TOKEN=1): nothing leaves 127.0.0.1."""
    process = make_module_hearth(env={"HEARTH_REQUIRE_TOKEN": "1"}, args=("--host", "127.0.0.1"))
    return process, process.printed_token()


def test_normal_client_is_answered_while_idle_sockets_are_held(plain: HearthProcess) -> None:
    with idle_sockets(_port(plain)):
        version = requests.get(f"{plain.ollama_url}/api/version", timeout=10)
        assert version.status_code == 200 and version.json()["version"]
        tags = requests.get(f"{plain.ollama_url}/api/tags", timeout=10)
        assert tags.status_code == 200 and tags.json() == {"models": []}


def test_lan_mode_refuses_a_tokenless_request_promptly_while_idle_sockets_are_held(lan) -> None:  # type: ignore[no-untyped-def]
    process, token = lan
    with idle_sockets(_port(process)):
        refused = requests.get(f"{process.ollama_url}/api/tags", timeout=10)
        assert refused.status_code == 401
        good = {"Authorization": f"Bearer {token}"}
        allowed = requests.get(f"{process.ollama_url}/api/tags", headers=good, timeout=10)
        assert allowed.status_code == 200


def test_a_request_that_never_finishes_gets_408_and_is_closed(plain: HearthProcess) -> None:
    with socket.create_connection(("127.0.0.1", _port(plain)), timeout=60) as sock:
        sock.sendall(HALF_SENT[1])
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_large_and_chunked_bodies_still_arrive_whole(plain: HearthProcess) -> None:
    """Bodies beyond the gate's buffer are read on by the worker; chunked ones are reassembled."""
    big = {"model": "no-such-model", "padding": "x" * (3 * 2**20)}
    reply = requests.post(f"{plain.ollama_url}/api/show", json=big, timeout=30)
    assert reply.status_code == 404 and "not found" in reply.json()["error"]

    def pieces() -> Iterator[bytes]:
        text = json.dumps({"model": "no-such-model", "padding": "y" * 100_000}).encode()
        for start in range(0, len(text), 7_000):
            yield text[start : start + 7_000]

    chunked = requests.post(f"{plain.ollama_url}/api/show", data=pieces(), timeout=30)
    assert chunked.request.headers.get("Transfer-Encoding") == "chunked"
    assert chunked.status_code == 404 and "not found" in chunked.json()["error"]


def test_pipelined_requests_on_one_connection_are_all_answered(plain: HearthProcess) -> None:
    request = b"GET /ollama/api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    last = b"GET /ollama/api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", _port(plain)), timeout=20) as sock:
        sock.sendall(request * 2 + last)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert b'"models"' in answer
