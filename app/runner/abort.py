"""A per-request "the client went away" signal that generation can act on at once.

Why: a streamed answer notices a vanished client only when it next writes a
token, and a non-streamed one not until the whole answer is made, which can
take minutes of a llama-server slot nobody will read. The HTTP edge sets
this when it sees the client's socket close; generation registers a hook
that cuts its upstream connection to llama-server, which makes llama-server
drop the slot's work. Nothing here knows about HTTP.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

import requests

from app.errors import HearthException


class ClientGone(HearthException):
    """Raised inside generation when its client disconnected (not a runner failure)."""


class Abort:
    """Set once; hooks registered before or after run exactly once when it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook()

    def on_abort(self, hook: Callable[[], None]) -> None:
        with self._lock:
            if not self._event.is_set():
                self._hooks.append(hook)
                return
        hook()


def cut_upstream(reply: requests.Response) -> Callable[[], None]:
    """A hook that shuts the socket under a streaming ``requests`` response.

    ``shutdown`` (unlike ``close``) wakes a thread blocked reading it, so the
    generator reading the stream ends at once, and llama-server sees its
    client gone and stops the slot.
    """

    def cut() -> None:
        sock = _socket_of(reply)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    return cut


def _socket_of(reply: requests.Response) -> socket.socket | None:
    """The socket a streaming response reads from.

    urllib3 keeps it on the connection, except when the server said
    ``Connection: close`` (llama-server's streams do): then http.client hands
    the socket to the response's file object and the connection has none.
    """
    raw = reply.raw
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    buffered = getattr(getattr(raw, "_fp", None), "fp", None)  # http.client's BufferedReader
    sock = getattr(getattr(buffered, "raw", None), "_sock", None)  # its SocketIO's socket
    return sock if isinstance(sock, socket.socket) else None
