"""A TCP relay in front of a real registry that counts the bytes it sends back.

Used where a test or the pull benchmark must know exactly what the registry
served (bytes fetched twice after an interruption), whatever the client
believes it received.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.registry import free_port


class CountingRelay:
    """Forwards 127.0.0.1:port to the registry, counting bytes sent back."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.bytes_down = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
                if count:
                    with self._lock:
                        self.bytes_down += len(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
