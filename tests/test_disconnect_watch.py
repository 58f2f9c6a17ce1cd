"""The client watcher on real sockets: a close is noticed, waiting bytes are not a close."""

from __future__ import annotations

import resource
import socket
import time

from app.web.disconnect import ClientWatch


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def test_close_is_noticed_quickly() -> None:
    server_side, client_side = socket.socketpair()
    watch = ClientWatch(server_side)
    hooks: list[str] = []
    watch.on_abort(lambda: hooks.append("cut"))
    time.sleep(0.3)
    assert not watch.is_set()
    client_side.close()
    deadline = time.monotonic() + 2
    while not watch.is_set():
        assert time.monotonic() < deadline, "a closed client was not noticed"
        time.sleep(0.01)
    assert hooks == ["cut"]
    watch.stop()
    server_side.close()


def test_pipelined_bytes_are_not_a_close_and_do_not_spin() -> None:
    server_side, client_side = socket.socketpair()
    client_side.sendall(b"GET /next HTTP/1.1\r\n\r\n")  # the client's next request, early
    watch = ClientWatch(server_side)
    before = cpu_seconds()
    time.sleep(1.0)
    assert not watch.is_set()
    assert cpu_seconds() - before < 0.2  # it waits; it does not poll in a tight loop
    assert server_side.recv(100).startswith(b"GET /next")  # nothing was consumed
    watch.stop()
    for end in (server_side, client_side):
        end.close()


def test_no_socket_means_no_watching() -> None:
    watch = ClientWatch(None)
    time.sleep(0.1)
    assert not watch.is_set()
    watch.stop()
