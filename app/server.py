"""Serving the Flask app with cheroot, a production WSGI server.

Why cheroot: pure Python (ships inside the PyInstaller bundle on every OS),
thread-pooled, and it writes each chunk a WSGI app yields straight to the
socket with chunked encoding, so tokens reach the client as they are made.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from cheroot import wsgi

from app.web.disconnect import ENVIRON_KEY

log = logging.getLogger(__name__)


class _Gateway(wsgi.Gateway_10):
    """WSGI 1.0 plus the client's socket, so a generation can tell when its client left."""

    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ[ENVIRON_KEY] = self.req.conn.socket
        return environ


class HTTPServer:
    """A cheroot server on host:port, served from a thread of its own."""

    def __init__(self, app: Callable, host: str, port: int, threads: int = 32) -> None:
        self.server = wsgi.Server((host, port), app, numthreads=threads, server_name="hearth")
        self.server.gateway = _Gateway
        # Long generations must not be cut by an idle timeout while a slot is queued.
        self.server.timeout = 3600
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
