"""How many connections a download runs, and how fast it may go."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ConnectionRamp:
    """How many parts to fetch at once: start with few, double while it pays.

    Why not always Ollama's 16: the sha256 can only run over the finished
    prefix of the file, and parts fetched side by side finish together at
    the end, so the whole hash came after the download. Where one
    connection already fills the link (a registry on the LAN or loopback)
    more connections only push the hash to the end; where each connection
    is slow (a CDN far away) they multiply throughput. So the count
    doubles each time a doubling raised the measured rate by at least
    ``gain``, and stops for good when it did not. Each count is judged by
    the best of ``readings`` readings, so one noisy reading neither ends the
    ramp nor, at the count before, makes the next doubling look like a gain.
    The reading right after a change is skipped: new connections are still
    starting then.
    """

    def __init__(self, start: int, most: int, gain: float, readings: int = 2) -> None:
        self.most = max(1, most)
        self.connections = max(1, min(start, self.most))
        self.gain = gain
        self.readings = max(1, readings)
        self._best: float | None = None
        self._settled = self.connections >= self.most
        self._skip_next = True
        self._level: list[float] = []

    @property
    def settled(self) -> bool:
        return self._settled

    def observe(self, rate: float) -> int:
        """Take one throughput reading (bytes/s); return how many connections to run."""
        if self._settled:
            return self.connections
        if self._skip_next:
            self._skip_next = False
            return self.connections
        self._level.append(rate)
        if len(self._level) < self.readings:
            return self.connections
        rate, self._level = max(self._level), []
        if self._best is not None and rate < self._best * self.gain:
            self._settled = True
            return self.connections
        self._best = rate
        self.connections = min(self.most, self.connections * 2)
        self._settled = self.connections >= self.most
        self._skip_next = True
        return self.connections


class RateLimiter:
    """A shared pacing clock: each chunk books its time slot, then sleeps until it."""

    def __init__(self, bytes_per_second: float | None) -> None:
        self.rate = bytes_per_second
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def consume(self, size: int, stopping: Callable[[], bool]) -> None:
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            self._next = max(self._next, now) + size / self.rate
            until = self._next
        sleep_until(until, stopping)


def sleep_until(deadline: float, stopping: Callable[[], bool]) -> None:
    """Sleep in short slices so a cancel is noticed within a tenth of a second."""
    while not stopping():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))
