"""Run one function on several threads at once and wait for them all.

Tests of concurrent writers (chats over HTTP and in SQLite, two pulls sharing a
blob, two streams on one runner) each started and joined their threads in the
same lines; this is those lines, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def run_at_once(
    target: Callable[[T], object], args: Iterable[T], timeout: float | None = None
) -> None:
    """Start ``target(arg)`` on a thread per ``arg``, then join each one in turn.

    ``timeout`` bounds each join as ``Thread.join`` does: a thread still running
    after it is left running, so the caller checks what the threads recorded.
    """
    threads = [threading.Thread(target=target, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
