"""Noticing, while a long request runs, that its client closed the connection.

cheroot hands the app the client's socket (``hearth.socket`` in the WSGI
environ, see ``app.server``). A watcher thread peeks at it every
``POLL_SECONDS``: a readable socket that yields no bytes is a closed one.
Peeking never consumes data, so a keep-alive client's next request is left
for the server. Only the generation routes use this; it costs one sleeping
thread per running generation.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from flask import request

from app.runner.abort import Abort, ClientGone

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
ENVIRON_KEY = "hearth.socket"


class ClientWatch(Abort):
    """An ``Abort`` that sets itself when the client's socket closes; ``stop()`` ends watching."""

    def __init__(self, client: socket.socket | None) -> None:
        super().__init__()
        self._stopped = threading.Event()
        if client is not None:
            threading.Thread(
                target=self._watch, args=(client,), name="client-watch", daemon=True
            ).start()

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self, client: socket.socket) -> None:
        peek = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)
        poller = select.poll() if hasattr(select, "poll") else None  # no fd-number limit
        if poller is not None:
            poller.register(client, select.POLLIN)
        while not self._stopped.is_set() and not self.is_set():
            try:
                if poller is not None:
                    readable = bool(poller.poll(POLL_SECONDS * 1000))
                else:
                    readable = bool(select.select([client], [], [], POLL_SECONDS)[0])
                if not readable:
                    continue
                if client.recv(1, peek) == b"":
                    self.set()  # an orderly close: the client is gone
                    return
                # Bytes waiting (a pipelined next request): the client is still there.
                self._stopped.wait(POLL_SECONDS)
            except BlockingIOError:
                self._stopped.wait(POLL_SECONDS)
            except ValueError:
                return  # this socket cannot be watched here; that is no reason to stop
            except OSError:
                self.set()  # reset or broken: gone


def watch_client(environ: dict[str, Any]) -> ClientWatch:
    """Start watching the request's client; without a socket (tests' WSGI clients) a no-op."""
    client = environ.get(ENVIRON_KEY)
    with contextlib.suppress(AttributeError):
        client = getattr(client, "_sock", client)  # cheroot may wrap the socket
    return ClientWatch(client if isinstance(client, socket.socket) else None)


def watched_generation(start: Callable[[Abort], Iterator[Any]]) -> Iterator[Any]:
    """``start(abort)``'s objects, with the current request's client watched meanwhile.

    When the client leaves, generation is cut (its hooks run) and these
    objects simply end; the watch stops when they end or are closed.
    """
    watch = watch_client(request.environ)
    try:
        objects = start(watch)
    except BaseException:
        watch.stop()
        raise
    return _until_gone(objects, watch)


def _until_gone(objects: Iterator[Any], watch: ClientWatch) -> Iterator[Any]:
    try:
        yield from objects
    except ClientGone:
        log.info("client disconnected: generation stopped")
    finally:
        watch.stop()
        objects.close()  # type: ignore[attr-defined]
