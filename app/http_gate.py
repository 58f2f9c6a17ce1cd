"""Holding each connection until its request has arrived, so that idle sockets cost no thread.

Why: cheroot hands a connection to a worker thread as soon as it is accepted
(and a keep-alive one as soon as it turns readable), and the worker then
blocks reading the request line, headers and body. A client that connects
and sends nothing, half a header, or half a body holds that thread for the
socket's timeout; as many such clients as there are threads freeze the
server for everyone, in LAN mode before any access token is checked.

The gate reads instead, on one selector thread and without blocking, until
the request head and a small body are complete, and only then gives the
connection to cheroot's workers with those bytes already buffered. A request
not complete within ``REQUEST_SECONDS`` gets a 408 and is closed. A body
larger than ``BODY_BUFFER`` (a blob upload) goes to a worker once that much
has arrived; the worker reads the rest, each read bounded by ``READ_SECONDS``.
The socket's own (long) timeout is left for writing answers, so a generation
queued for a llama-server slot is never cut.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from cheroot.makefile import StreamReader

log = logging.getLogger(__name__)

REQUEST_SECONDS = 15.0
"""How long a client has to send a whole request head (and a small body)."""
READ_SECONDS = 15.0
"""Longest wait for the next bytes of a large body a worker reads itself."""
HEAD_LIMIT = 64 * 1024
"""A head larger than this goes to cheroot, which refuses it (``max_request_header_size``)."""
BODY_BUFFER = 256 * 1024
"""Body bytes held here at most; a larger body's rest is read by the worker."""
MAX_PENDING = 1000
"""Connections waiting here at most; past it the longest-waiting one is closed."""
TICK_SECONDS = 0.5

_HEAD_END = b"\r\n\r\n"
_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 39\r\nConnection: close\r\n\r\n"
    b"the request did not arrive in good time"
)
_NO_WAIT = getattr(socket, "MSG_DONTWAIT", 0)


def _fields(head: bytes) -> dict[bytes, bytes]:
    """Header names (lower-cased) and values of a request head, request line left out."""
    fields: dict[bytes, bytes] = {}
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            fields[name.strip().lower()] = value.strip().lower()
    return fields


def _chunked_complete(data: bytes | bytearray, pos: int) -> bool:
    """True once a chunked body starting at ``pos`` has its last chunk and trailers.

    Framing that cannot be parsed also counts as complete: cheroot refuses it.
    """
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return False
        try:
            size = int(bytes(data[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return True
        if size < 0:
            return True
        pos = eol + 2
        if size == 0:
            return data.find(_HEAD_END, pos - 2) >= 0
        pos += size + 2
        if pos > len(data):
            return False


def request_ready(data: bytes | bytearray, head_end: int) -> bool:
    """True when a worker can take a request whose head ends at ``head_end`` (-1: not yet).

    Ready means: the head and its whole body are here, or the body is larger
    than ``BODY_BUFFER`` and that much is here, or the client waits for
    ``100 Continue`` before sending it (which cheroot's worker sends).
    """
    if head_end < 0:
        return len(data) > HEAD_LIMIT
    fields = _fields(bytes(data[:head_end]))
    body_start = head_end + len(_HEAD_END)
    have = len(data) - body_start
    if fields.get(b"expect") == b"100-continue" or have >= BODY_BUFFER:
        return True
    if b"chunked" in fields.get(b"transfer-encoding", b""):
        return _chunked_complete(data, body_start)
    length = fields.get(b"content-length")
    if length is None:
        return True
    try:
        return have >= int(length)
    except ValueError:
        return True  # cheroot answers 400


class _PrefixedSocketIO(socket.SocketIO):
    """A socket's reads, first the bytes the gate took from it, then each one time-bounded."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock, "rb")
        self.prefix = bytearray()
        self.sock = sock

    def readinto(self, buffer: Any) -> int | None:
        if self.prefix:
            count = min(len(buffer), len(self.prefix))
            buffer[:count] = self.prefix[:count]
            del self.prefix[:count]
            return count
        sock = self.sock
        write_timeout = sock.gettimeout()
        sock.settimeout(READ_SECONDS)
        try:
            return super().readinto(buffer)
        finally:
            sock.settimeout(write_timeout)


class GatedReader(StreamReader):
    """cheroot's socket reader, fed by the gate with a request it already read."""

    def __init__(self, sock: socket.socket, bufsize: int) -> None:
        # Skip StreamReader.__init__: it would make a plain SocketIO.
        self.prefixed = _PrefixedSocketIO(sock)
        super(StreamReader, self).__init__(self.prefixed, bufsize)
        self.bytes_read = 0

    def feed(self, data: bytes | bytearray) -> None:
        self.prefixed.prefix += data

    def has_data(self) -> bool:
        return super().has_data() or bool(self.prefixed.prefix)

    def take_pending(self) -> bytes:
        """Bytes already read from the socket but not yet by a request (a pipelined one)."""
        # _pyio.BufferedReader's own buffer (cheroot's reader is that pure-Python class).
        buffered = len(self._read_buf) - self._read_pos  # type: ignore[attr-defined]
        data = self.read(buffered) if buffered > 0 else b""
        data += bytes(self.prefixed.prefix)
        self.prefixed.prefix.clear()
        return data


class _Pending:
    """One connection's request as it arrives."""

    def __init__(self, conn: Any, data: bytes, deadline: float) -> None:
        self.conn = conn
        self.data = bytearray(data)
        self.deadline = deadline
        self.head_end = -1
        self.fd = -1
        self._scanned = 0

    def add(self, chunk: bytes) -> bool:
        """Append bytes; True when the request can go to a worker."""
        self.data += chunk
        if self.head_end < 0:
            start = 2 if self.data.startswith(b"\r\n") else 0  # one leading CRLF is allowed
            found = self.data.find(_HEAD_END, max(start, self._scanned - 3))
            self._scanned = len(self.data)
            self.head_end = found
        return request_ready(self.data, self.head_end)


class RequestGate:
    """The selector thread that holds connections until their request is in.

    ``hand_over(conn)`` gives a ready connection to the worker pool.
    """

    def __init__(self, hand_over: Callable[[Any], None], name: str = "http-gate") -> None:
        self._hand_over = hand_over
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._arrivals: collections.deque[_Pending] = collections.deque()
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def admit(self, conn: Any) -> None:
        """Take a new (or newly readable keep-alive) connection; callable from any thread."""
        leftover = b""
        if isinstance(conn.rfile, GatedReader):
            leftover = conn.rfile.take_pending()
        pending = _Pending(conn, b"", time.monotonic() + REQUEST_SECONDS)
        if leftover and pending.add(leftover):
            self._ready(pending)
            return
        with self._lock:
            self._arrivals.append(pending)
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")

    @property
    def waiting(self) -> int:
        """Connections whose request has not arrived yet."""
        return len(self._pending) + len(self._arrivals)

    def stop(self) -> None:
        """End the thread and close every connection still waiting."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")
        self._thread.join(timeout=5)

    def _ready(self, pending: _Pending) -> None:
        conn = pending.conn
        if not isinstance(conn.rfile, GatedReader):
            conn.rfile = GatedReader(conn.socket, conn.rbufsize)
        conn.rfile.feed(pending.data)
        self._hand_over(conn)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                for key, _events in self._selector.select(TICK_SECONDS):
                    if key.data is None:
                        with contextlib.suppress(OSError):
                            self._wake_read.recv(4096)
                    else:
                        self._read(key.data)
                self._register_arrivals()
                self._expire(time.monotonic())
        finally:
            self._close_all()

    def _register_arrivals(self) -> None:
        with self._lock:
            arrivals, self._arrivals = self._arrivals, collections.deque()
        for pending in arrivals:
            fd = pending.conn.socket.fileno()
            try:
                self._selector.register(fd, selectors.EVENT_READ, pending)
            except (ValueError, OSError):
                self._close(pending)  # closed meanwhile
                continue
            pending.fd = fd
            self._pending[fd] = pending
        while len(self._pending) > MAX_PENDING:
            self._drop(next(iter(self._pending.values())), reply=False)

    def _read(self, pending: _Pending) -> None:
        try:
            chunk = pending.conn.socket.recv(65536, _NO_WAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(pending, reply=False)
            return
        if not chunk:
            self._drop(pending, reply=False)  # the client closed
            return
        if pending.add(chunk):
            self._forget(pending)
            try:
                self._ready(pending)
            except Exception:  # a pool that cannot take it must not end the gate
                log.exception("could not hand a request to a worker")
                self._close(pending)

    def _expire(self, now: float) -> None:
        late = [p for p in self._pending.values() if p.deadline <= now]
        for pending in late:
            self._drop(pending, reply=bool(pending.data))

    def _forget(self, pending: _Pending) -> None:
        if self._pending.get(pending.fd) is pending:
            del self._pending[pending.fd]
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(pending.fd)

    def _drop(self, pending: _Pending, reply: bool) -> None:
        self._forget(pending)
        if reply:
            with contextlib.suppress(OSError):
                pending.conn.socket.settimeout(0)  # never wait on a client that does not read
                pending.conn.socket.send(_TIMEOUT_REPLY)
        self._close(pending)

    @staticmethod
    def _close(pending: _Pending) -> None:
        with contextlib.suppress(OSError):
            pending.conn.close()

    def _close_all(self) -> None:
        for pending in list(self._pending.values()):
            self._close(pending)
        self._pending.clear()
        with self._lock:
            for pending in self._arrivals:
                self._close(pending)
            self._arrivals.clear()
        self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
