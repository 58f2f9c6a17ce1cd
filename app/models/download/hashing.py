"""Work that runs beside a download: hashing what has landed, flushing it to disk."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from app.models.download.parts import Part


class FollowingHash:
    """SHA-256 of a partial file, computed while the parts are still arriving.

    Parts are written in place, each from its own offset forward, so the
    bytes from 0 up to the first unfinished part's end of data are final.
    The part thread writing at that frontier hands each chunk to ``feed``
    right after writing it, and it is hashed from memory; a thread of its
    own reads from the file whatever the frontier passes without being fed
    (a later part that was already written when the one before it
    finished, or a resumed download's saved prefix). So when the last byte
    lands almost nothing is left to hash, and most bytes are never read
    back from the file. The digest is still checked before the rename.
    """

    def __init__(self, path: Path, size: int, parts: Callable[[], list[Part]]) -> None:
        self.path = path
        self.size = size
        self._parts = parts
        self.sha = hashlib.sha256()
        self.hashed = 0
        self.fed = 0
        """Bytes hashed from memory through ``feed`` (the rest were read back)."""
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pull-hash", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def frontier(self) -> int:
        """Bytes from the start that are all written."""
        for part in sorted(self._parts(), key=lambda p: p.offset):
            if part.completed < part.size:
                return part.offset + part.completed
        return self.size

    def wants(self, offset: int) -> bool:
        """Whether a chunk written at ``offset`` now would be hashed from memory by ``feed``."""
        return offset == self.hashed and self.error is None

    def feed(self, offset: int, chunk: bytes | memoryview) -> None:
        """A part thread wrote ``chunk`` at ``offset``: hash it now if it is next in line."""
        if not self.wants(offset):  # unlocked peek; checked again under the lock
            return
        with self._lock:
            if self.wants(offset):
                self.sha.update(chunk)
                self.hashed += len(chunk)
                self.fed += len(chunk)

    def _run(self) -> None:
        try:
            with self.path.open("rb", buffering=0) as handle:
                while self.hashed < self.size and not self._stop.is_set():
                    if self.frontier() <= self.hashed:
                        self._stop.wait(0.02)
                        continue
                    with self._lock:
                        # Re-read under the lock: a fed chunk may have moved ``hashed``.
                        end = min(self.frontier(), self.hashed + 4 * 2**20)
                        if end <= self.hashed:
                            continue
                        handle.seek(self.hashed)
                        chunk = handle.read(end - self.hashed)
                        if len(chunk) != end - self.hashed:
                            raise OSError(
                                f"{self.path} ended at {self.hashed + len(chunk)} of"
                                f" {self.size} bytes"
                            )
                        self.sha.update(chunk)
                        self.hashed = end
        except BaseException as error:  # noqa: BLE001 - the commit falls back to a full hash
            self.error = error

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def finish(self) -> str | None:
        """The digest once everything is hashed, or None if this hasher gave up."""
        self._thread.join()
        if self.error is not None or self.hashed != self.size:
            return None
        return "sha256:" + self.sha.hexdigest()


class BackgroundFlush:
    """Writes the partial file's new data to disk while the download goes on.

    Why: a blob must be on disk before its manifest makes it visible, so
    the commit syncs the file. Left to the end, that sync waits for every
    byte of the blob at disk speed (a blob smaller than the kernel's own
    write-back threshold is not written back at all before it). Syncing
    every ``every`` new bytes in a thread of its own (the call releases
    the GIL; the part threads keep writing) leaves the final sync only the
    last stretch. Only bytes written through the page cache count: those
    ``BlobFile`` wrote uncached are on disk already.
    """

    def __init__(self, path: Path, written: Callable[[], int], every: int = 64 * 2**20) -> None:
        self.path = path
        self._written = written
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pull-flush", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        synced = self._written()
        try:
            with self.path.open("rb", buffering=0) as handle:
                while not self._stop.wait(0.1):
                    now = self._written()
                    if now - synced >= self.every:
                        _flush(handle.fileno())
                        synced = now
        except OSError:
            return  # the commit's own sync still makes the blob durable

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _flush(fd: int) -> None:
    """Write the file's data to disk (``fdatasync`` where there is one)."""
    (getattr(os, "fdatasync", None) or os.fsync)(fd)
