"""Deadlines, cancels and a peer-address check for registry requests a hostile server cannot stall.

Why a watcher thread: a per-read socket timeout only trips when *no* byte
arrives for that long, so a registry sending one byte every few seconds
holds a blocking read (headers or body) for as long as it likes, and a
cancel set meanwhile is only looked at between reads. Python cannot
interrupt a thread blocked in ``recv``, but shutting the socket down from
another thread makes that ``recv`` return at once. So registry requests
run under a ``ReadWatch``: the connection classes of ``guarded_session``
hand every watch in force their socket right before the response headers
are read, and one daemon thread shuts that socket down when a watch's
deadline passes or its ``stop`` says so (a cancelled pull). The reading
thread then sees a closed connection, and its caller asks ``watch.fired``
why, to raise the right error.

The same connection classes check the address each new connection
actually reached (``peer_check``, set per request by the registry client)
before a byte is sent: a host name checked against its DNS answer and
then resolved again by the connection could otherwise have changed to a
loopback address in between (DNS rebinding). Connections through a proxy
are not checked: their peer is the proxy.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

TICK = 0.05
"""Seconds between the watcher's looks at deadlines and stop flags."""

_WATCHES: contextvars.ContextVar[tuple[ReadWatch, ...]] = contextvars.ContextVar(
    "hearth_read_watches", default=()
)
_PEER_CHECK: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "hearth_peer_check", default=None
)


class ReadWatch:
    """A deadline and/or stop flag for one exchange; ``fired`` says which ended it, if any."""

    def __init__(self, seconds: float | None, stop: Callable[[], bool] | None) -> None:
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        """A ``time.monotonic()`` value, or None for no deadline."""
        self.stop = stop
        self.fired: str | None = None
        """``"deadline"`` or ``"stopped"`` once the watch shut its socket down."""
        self._sock: socket.socket | None = None
        self._done = False
        self._lock = threading.Lock()

    def attach(self, sock: socket.socket | None) -> None:
        """The socket now being read for this exchange (each redirect hop brings a new one)."""
        with self._lock:
            if self._done:
                return
            self._sock = sock
            fired = self.fired
        if fired is not None:
            self._shut(sock)

    def check(self) -> None:
        """Fire if the deadline has passed or ``stop`` is true (the watcher calls this)."""
        if self.fired is not None or self._done:
            return
        reason = None
        if self.deadline is not None and time.monotonic() >= self.deadline:
            reason = "deadline"
        elif self.stop is not None and self.stop():
            reason = "stopped"
        if reason is None:
            return
        with self._lock:
            if self._done:
                return
            self.fired = reason
            sock = self._sock
        self._shut(sock)

    def finish(self) -> None:
        # Under the lock: once finished, a socket handed back to the pool is never shut.
        with self._lock:
            self._done = True
            self._sock = None

    @staticmethod
    def _shut(sock: socket.socket | None) -> None:
        if sock is None:
            return
        with contextlib.suppress(OSError):
            # The plain socket's shutdown, also for TLS: ``SSLSocket.shutdown`` would
            # drop the TLS object under the reading thread's feet.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watcher:
    """The one thread that looks at every watch in force, ``TICK`` apart."""

    def __init__(self) -> None:
        self._watches: set[ReadWatch] = set()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, watch: ReadWatch) -> None:
        with self._changed:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="registry-read-watch", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def remove(self, watch: ReadWatch) -> None:
        with self._changed:
            self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._watches:
                    self._changed.wait()
                watches = list(self._watches)
            for watch in watches:
                watch.check()
            time.sleep(TICK)


_WATCHER = _Watcher()


@contextlib.contextmanager
def watching(
    seconds: float | None = None, stop: Callable[[], bool] | None = None
) -> Iterator[ReadWatch]:
    """Run the block's registry requests and reads under a deadline of ``seconds`` and ``stop``.

    Watches nest: an inner one (a token fetch in the middle of a blob
    read) adds its own deadline, and the outer one's stop still applies.
    """
    watch = ReadWatch(seconds, stop)
    token = _WATCHES.set((*_WATCHES.get(), watch))
    _WATCHER.add(watch)
    try:
        yield watch
    finally:
        _WATCHER.remove(watch)
        watch.finish()
        _WATCHES.reset(token)


@contextlib.contextmanager
def peer_check(check: Callable[[str], None]) -> Iterator[None]:
    """New connections made in the block call ``check(peer_ip)`` before sending anything."""
    token = _PEER_CHECK.set(check)
    try:
        yield
    finally:
        _PEER_CHECK.reset(token)


class _GuardedConnection:
    """Mixin for urllib3's connection classes: the two hooks described in the module docstring."""

    sock: socket.socket | None
    proxy: Any
    _tunnel_host: str | None

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        check = _PEER_CHECK.get()
        if check is not None and not self.proxy and not getattr(self, "_tunnel_host", None):
            try:
                check(sock.getpeername()[0])
            except BaseException:
                sock.close()
                raise
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        for watch in _WATCHES.get():
            watch.attach(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_GuardedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme") and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def guarded_session(connections: int = 32) -> requests.Session:
    """A session whose connections obey ``watching`` and ``peer_check``.

    It keeps a connection per parallel part (requests keeps 10 per host):
    up to 16 parts download at once; with requests' pool of ten, the
    connections past ten are closed when their attempt ends (urllib3 warns
    "connection pool is full"), so a retried or resumed part pays for a new
    connection (and, on a real link, TCP slow start) again.
    """
    session = requests.Session()
    adapter = _GuardedAdapter(pool_connections=4, pool_maxsize=connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
