"""A FAKE llama-server: real HTTP on 127.0.0.1, canned answers, no model behind it.

Why a fake next to the real one: the client's own work (parsing SSE,
turning refusals and broken connections into Hearth's errors, closing a
stream's socket) is best shown in milliseconds, one case at a time, and
some cases (a refusal body of a given shape, a stream that breaks off) are
hard to provoke from a real llama-server. Everything that needs a real
model still runs against the real llama-server (``tests/conftest.py``).

Like llama-server, it answers streams with chunked ``text/event-stream``
and ``Connection: close``, so the client reads them exactly as it reads the
real thing. Each path answers what :meth:`FakeLlamaServer.answer` canned
for it; every request is recorded.
"""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.runner.process import LaunchConfig, LlamaServer

HOLD_LIMIT = 3.0
"""Seconds a held stream waits for the client to leave before it gives up."""


@dataclass
class Canned:
    """What one path answers: JSON (``body``), raw text, or an SSE stream (``events``)."""

    status: int = 200
    body: Any = None
    text: str | None = None
    events: list[Any] | None = None
    """Dicts become ``data: {json}`` events; strings are sent as lines as they are."""
    hold: bool = False
    """After the events, keep the connection open until the client closes it."""
    cut: bool = False
    """After the events, drop the connection without ending the chunked body."""


@dataclass
class Seen:
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeLlamaServer:
    """A fake llama-server in a thread; use it as a context manager."""

    def __init__(self) -> None:
        self.routes: dict[str, Canned] = {}
        self.seen: list[Seen] = []
        self.client_left = threading.Event()
        """Set when a held stream's client closed its connection."""
        self.streaming = threading.Event()
        """Set once a held stream has sent its events."""
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.01,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def answer(self, path: str, **canned: Any) -> None:
        """Can the answer for ``path`` (see :class:`Canned` for the fields)."""
        self.routes[path] = Canned(**canned)

    def llama_server(self, rpc: tuple[str, ...] = ()) -> LlamaServer:
        """A real, never-started ``LlamaServer`` object that talks to this fake."""
        return server_at(self.port, rpc)

    def __enter__(self) -> FakeLlamaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # releases any handler still holding a stream
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


def server_at(port: int, rpc: tuple[str, ...] = ()) -> LlamaServer:
    """A ``LlamaServer`` object for ``port``, with the session Hearth really uses.

    Its "process" is a Python child that already exited with status 3, so a
    crash report has an exit to describe and never waits.
    """
    config = LaunchConfig(model_path=Path("fake.gguf"), ctx_per_slot=2048, parallel=1, rpc=rpc)
    server = LlamaServer(Path("llama-server-fake"), config, Path("fake.log"))
    server.port = port
    server.process = _exited_child()
    return server


@functools.cache
def _exited_child() -> subprocess.Popen[bytes]:
    """One child that exited with status 3, shared (it is only ever asked how it ended)."""
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    child.wait()
    return child


def _handler_for(fake: FakeLlamaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            return None

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            fake.seen.append(Seen(self.path, json.loads(raw or b"null"), dict(self.headers)))
            canned = fake.routes.get(self.path)
            if canned is None:
                missing = error_body(404, "File Not Found", "not_found_error")
                self._send(404, "application/json", json.dumps(missing).encode())
            elif canned.events is not None:
                self._stream(canned)
            elif canned.text is not None:
                self._send(canned.status, "text/plain", canned.text.encode())
            else:
                self._send(canned.status, "application/json", json.dumps(canned.body).encode())

        def _send(self, status: int, kind: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, canned: Canned) -> None:
            self.send_response(canned.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in canned.events or ():
                line = event if isinstance(event, str) else f"data: {json.dumps(event)}"
                self._chunk(f"{line}\n\n".encode())
            if canned.hold:
                fake.streaming.set()
                self._wait_for_client_to_leave()
            elif not canned.cut:
                self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _wait_for_client_to_leave(self) -> None:
            """Read until the client closes its end (EOF or reset), as llama-server notices."""
            self.connection.settimeout(0.02)
            deadline = time.monotonic() + HOLD_LIMIT
            while time.monotonic() < deadline and not fake._stopping.is_set():
                try:
                    if self.connection.recv(1) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            else:
                return  # the client stayed: client_left stays clear, and the test fails
            fake.client_left.set()

    return Handler


def error_body(code: int, message: str, kind: str, **extra: Any) -> dict[str, Any]:
    """llama-server's error shape (spec §3.9), with any extra fields it adds."""
    return {"error": {"code": code, "message": message, "type": kind, **extra}}


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens (free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
