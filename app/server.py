"""Serving the Flask app with cheroot, a production WSGI server.

Why cheroot: pure Python (ships inside the PyInstaller bundle on every OS),
thread-pooled, and it writes each chunk a WSGI app yields straight to the
socket with chunked encoding, so tokens reach the client as they are made.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from cheroot import wsgi

from app.http_gate import HEAD_LIMIT, RequestGate
from app.web.disconnect import ENVIRON_KEY

log = logging.getLogger(__name__)


class _Gateway(wsgi.Gateway_10):
    """WSGI 1.0 plus the client's socket, so a generation can tell when its client left."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # cheroot says None
        environ = super().get_environ()
        environ[ENVIRON_KEY] = self.req.conn.socket
        return environ


class _GatedServer(wsgi.Server):
    """cheroot, with every connection passing the request gate before it gets a thread."""

    gate: RequestGate | None = None

    def prepare(self) -> None:
        super().prepare()
        self.gate = RequestGate(super().process_conn, name=f"http-gate-{self.bind_addr[1]}")

    def process_conn(self, conn: object) -> None:
        if self.gate is None:
            super().process_conn(conn)
        else:
            self.gate.admit(conn)

    def stop(self) -> None:
        super().stop()
        if self.gate is not None:
            self.gate.stop()


class HTTPServer:
    """A cheroot server on host:port, served from a thread of its own."""

    def __init__(self, app: Callable, host: str, port: int, threads: int = 32) -> None:
        self.server = _GatedServer((host, port), app, numthreads=threads, server_name="hearth")
        self.server.gateway = _Gateway
        # The socket timeout now bounds writes (and keep-alive idleness) only:
        # reading a request is bounded by the gate (app.http_gate). Long, so a
        # stream whose client reads slowly is not cut.
        self.server.timeout = 3600
        self.server.max_request_header_size = HEAD_LIMIT
        # cheroot listens with a backlog of 5: a burst of connections (a browser,
        # or a flood of idle ones) then sees SYNs dropped and 1 s retries.
        self.server.request_queue_size = socket.SOMAXCONN
        self.server.shutdown_timeout = 2
        self._thread: threading.Thread | None = None
        self._bound = False

    def bind(self) -> None:
        """Open the listening socket now so the real port is known (port 0 allowed)."""
        if not self._bound:
            self.server.prepare()
            self._bound = True

    @property
    def port(self) -> int:
        return int(self.server.bind_addr[1])

    @property
    def host(self) -> str:
        return str(self.server.bind_addr[0])

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start_in_thread(self) -> None:
        self.bind()
        self._thread = threading.Thread(target=self.server.serve, name="http", daemon=True)
        self._thread.start()

    @property
    def serving(self) -> bool:
        """True while the thread of ``start_in_thread`` runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
