"""A TCP relay in front of a real registry that counts the bytes it sends back.

Used where a test or the pull benchmark must know exactly what the registry
served (bytes fetched twice after an interruption), whatever the client
believes it received. With ``per_connection_rate`` it also stands in for a
far-away server whose every connection is slow (a CDN across an ocean),
which loopback cannot be: a named fake of a slow network.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.registry import free_port


class CountingRelay:
    """Forwards 127.0.0.1:port to the registry, counting bytes sent back."""

    def __init__(self, target_port: int, per_connection_rate: float | None = None) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.bytes_down = 0
        self.per_connection_rate = per_connection_rate
        self.open_connections = 0
        self.most_open_connections = 0
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
        if count:
            with self._lock:
                self.open_connections += 1
                self.most_open_connections = max(self.most_open_connections, self.open_connections)
        started, sent = time.monotonic(), 0
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
                if count:
                    with self._lock:
                        self.bytes_down += len(data)
                    sent += len(data)
                    if self.per_connection_rate:
                        time.sleep(
                            max(0.0, started + sent / self.per_connection_rate - time.monotonic())
                        )
        except OSError:
            pass
        finally:
            if count:
                with self._lock:
                    self.open_connections -= 1
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


class RecordingRelay(CountingRelay):
    """Forwards 127.0.0.1:port to a server untouched, keeping every byte sent to it.

    For a test that must know what a real client sent (Open WebUI's request
    bodies to Hearth) without a mock in between: ``requests()`` parses the
    recorded bytes back into HTTP requests.
    """

    def __init__(self, target_port: int) -> None:
        self._sent: list[bytearray] = []
        super().__init__(target_port)

    def _pipe(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        if count:
            super()._pipe(source, sink, count)
            return
        record = bytearray()
        with self._lock:
            self._sent.append(record)
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
                with self._lock:
                    record.extend(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def requests(self) -> list[tuple[str, str, bytes]]:
        """(method, path, body) of each complete request so far, connection by connection."""
        found: list[tuple[str, str, bytes]] = []
        with self._lock:
            streams = [bytes(record) for record in self._sent]
        for data in streams:
            while b"\r\n\r\n" in data:
                head, rest = data.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:])
                }
                length = int(headers.get("content-length", "0"))
                if len(rest) < length:
                    break
                found.append((method, path, rest[:length]))
                data = rest[length:]
        return found
