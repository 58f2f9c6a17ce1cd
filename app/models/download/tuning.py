"""The knobs of a pull and the counters it keeps."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MB = 1000 * 1000


@dataclass(frozen=True)
class PullTuning:
    """Knobs with Ollama's values as defaults; tests shrink them to stay fast."""

    max_parts: int = 16
    min_part_size: int = 100 * MB
    max_part_size: int = 1000 * MB
    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    stall_timeout: float = 30.0
    exchange_deadline: float = 30.0
    """Seconds a manifest or token exchange may take in all (``HEARTH_PULL_MANIFEST_TIMEOUT``)."""
    connect_timeout: float = 10.0
    checkpoint_interval: float = 0.25
    """Seconds between progress records: at most this much of each part is fetched twice."""
    progress_interval: float = 0.06
    chunk_size: int = 64 * 1024
    """Bytes per read at first; each connection's reads grow while they fill fast."""
    max_chunk_size: int = 2**20
    """Largest read and write: ``O_DIRECT`` costs per call, so few large writes beat many small."""
    max_bytes_per_second: float | None = None
    """Bandwidth cap for the whole pull (metered links; tests use it to pull slowly)."""
    start_connections: int = 1
    """Parts fetched at once at first; doubled while each doubling pays (``ConnectionRamp``)."""
    ramp_interval: float = 0.25
    """Seconds per throughput reading of the ramp."""
    ramp_gain: float = 1.15
    """A doubling must raise throughput by this factor, or the ramp stops."""


@dataclass
class PullStats:
    """Counters a caller can pass in to see what a pull actually did."""

    bytes_downloaded: int = 0
    blobs_downloaded: int = 0
    blobs_present: int = 0
    parts_resumed: int = 0
    bytes_written_uncached: int = 0
    """Bytes written past the page cache (``BlobFile``): hashed from memory, never read back."""
    failed_attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)
