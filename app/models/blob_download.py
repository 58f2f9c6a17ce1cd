"""Resumable, parallel download of one blob into the store.

Layout on disk (the same files Ollama uses, so either program can resume
the other's download):

    blobs/sha256-<hex>-partial      the data, truncated to full size, parts written in place
    blobs/sha256-<hex>-partial-<N>  {"N", "Offset", "Size", "Completed"} for part N

A part's record is rewritten at most every ``checkpoint_interval`` seconds
and at the end of every attempt, always *after* the bytes it counts were
written, so after any interruption (cancel, crash, ``kill -9``) a resumed
download re-fetches at most about one checkpoint interval of data per part
that was in flight. Records that do not tile the blob exactly are thrown
away and the download starts over: a damaged record can cost time, never
correctness, because the finished file is hashed before it is renamed to
its content-addressed name.

One download per blob per process: a second pull needing the same blob
attaches to the running download and watches its progress (``attach``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import http.client
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one process per store there
    fcntl = None  # type: ignore[assignment]

from app.models.blob_file import ALIGN, BlobFile, aligned_buffer
from app.models.digests import blob_filename, parse_digest
from app.models.pull_errors import (
    BlobDigestMismatch,
    BlobSizeMismatch,
    DiskFull,
    DownloadFailed,
    PullCancelled,
    PullError,
    RegistryError,
)
from app.models.registry import RegistryClient, response_range, retryable_status
from app.models.store import ModelStore

MB = 1000 * 1000
_DISK_FULL = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT") if hasattr(errno, name)}


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
    """Largest read and write: uncached writes ran at 675 MB/s in 64 KiB, 2.4 GB/s in 1 MiB."""
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
        _sleep_until(until, stopping)


@dataclass
class Part:
    n: int
    offset: int
    size: int
    completed: int = 0

    def record(self) -> dict[str, int]:
        return {"N": self.n, "Offset": self.offset, "Size": self.size, "Completed": self.completed}


def plan_parts(size: int, tuning: PullTuning) -> list[Part]:
    """Ollama's split: size/parts, clamped to [min, max] part size; parts tile the blob.

    Cutting blobs into several smaller parts per worker, fetched in order
    (so the running hash keeps up), was tried on 2026-12-01: faster in
    process, but through ``hearth serve`` it pulled 1 GiB at 204-330 MB/s
    against 363-529 MB/s for this split, alternated on the same registry.
    """
    if size <= 0:
        return []
    part_size = math.ceil(size / max(1, tuning.max_parts))
    part_size = max(tuning.min_part_size, min(tuning.max_part_size, part_size))
    return [
        Part(n, offset, min(part_size, size - offset))
        for n, offset in enumerate(range(0, size, part_size))
    ]


class ConnectionRamp:
    """How many parts to fetch at once: start with few, double while it pays.

    Why not always Ollama's 16: the sha256 can only run over the finished
    prefix of the file, and parts fetched side by side finish together at
    the end, so the whole hash (0.6 s a GiB here) came after the download.
    Where one connection already fills the link (a registry on the LAN or
    loopback) more connections only push the hash to the end; where each
    connection is slow (a CDN far away) they multiply throughput. So the
    count doubles each time a doubling raised the measured rate by at least
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


class _FollowingHash:
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


class _BackgroundFlush:
    """Writes the partial file's new data to disk while the download goes on.

    Why: a blob must be on disk before its manifest makes it visible, so
    the commit syncs the file. Left to the end, that sync waits for every
    byte of the blob at disk speed (a 1 GiB pull stays below the kernel's
    own write-back threshold on a 24 GB machine, so nothing is written
    before it). Syncing every ``every`` new bytes in a thread of its own
    (the call releases the GIL; the part threads keep writing) leaves the
    final sync only the last stretch. Only bytes written through the page
    cache count: those ``BlobFile`` wrote uncached are on disk already.
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


class _Retry(Exception):
    """An attempt failed in a way worth trying again (network, 5xx, short read)."""


class BlobDownload:
    """Download, verify and commit one blob; ``start`` returns at once, ``wait`` blocks."""

    def __init__(
        self,
        store: ModelStore,
        client: RegistryClient,
        digest: str,
        size: int,
        *,
        tuning: PullTuning,
        stats: PullStats,
        limiter: RateLimiter,
        cancel: threading.Event,
    ) -> None:
        self.store = store
        self.client = client
        self.digest = parse_digest(digest)
        self.size = size
        self.tuning = tuning
        self.stats = stats
        self.limiter = limiter
        self.cancel = cancel
        self.final = store.blob_path(self.digest)
        self.partial = partial_path(store, self.digest)
        self.parts: list[Part] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self._hasher: _FollowingHash | None = None
        self.cached_written = 0
        """Bytes written through the page cache (what the background flush writes back)."""
        self._count_lock = threading.Lock()

    # -- public --------------------------------------------------------
    @property
    def completed(self) -> int:
        return sum(part.completed for part in self.parts)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"pull-{self.digest[7:19]}", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def abort(self) -> None:
        """Stop the part threads (progress so far is saved) and wait for them."""
        self._abort.set()
        if self._thread is not None:
            self._thread.join()

    # -- the work ------------------------------------------------------
    def _stopping(self) -> bool:
        return self.cancel.is_set() or self._abort.is_set()

    def _run(self) -> None:
        try:
            with self._exclusive():
                if self.final.exists():
                    return  # another Hearth process finished it while we waited
                self._download()
                if self._stopping():
                    raise PullCancelled()
                self._commit()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting pull
            if isinstance(error, BlobSizeMismatch | BlobDigestMismatch):
                # The registry's blob is not what the manifest says: saved parts are worthless.
                self._remove_partial_files()
            self.error = error
        finally:
            if self._hasher is not None:
                self._hasher.stop()
            _release(self)
            self.done.set()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold an advisory lock on the partial file so one process downloads a blob at once.

        Why: the app and a ``hearth pull`` in a terminal share the store but
        not their in-process registry of pulls; two writers on one partial
        file would corrupt each other's records. A second process waits,
        showing the first one's progress from its records, and then finds
        the blob in place (or resumes it, if the first process died: the
        kernel drops a dead process's lock). No-op where ``fcntl`` is absent.
        """
        if fcntl is None:
            yield
            return
        fd = os.open(self.partial, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if self._stopping():
                        raise PullCancelled() from None
                    self.parts = load_parts(self.partial, self.size) or self.parts
                    time.sleep(0.2)
            if self.final.exists():
                self._drop_empty_partial(fd)
            yield
        finally:
            os.close(fd)

    def _drop_empty_partial(self, fd: int) -> None:
        """After waiting: the partial we created (empty, no records) is not needed."""
        with contextlib.suppress(OSError):
            mine = os.fstat(fd)
            if (
                mine.st_size == 0
                and not self._record_files()
                and os.stat(self.partial).st_ino == mine.st_ino
            ):
                self.partial.unlink()

    def _download(self) -> None:
        resumed = self._load_records()
        if resumed is None:
            self.parts = plan_parts(self.size, self.tuning)
            self._remove_records()
            # Truncated in place, not replaced: the lock is on this very file.
            with self.partial.open("wb") as handle:
                handle.truncate(self.size)
            for part in self.parts:
                self._save(part)
        else:
            self.parts = resumed
            self.stats.add("parts_resumed", sum(1 for p in resumed if p.completed))
        self._hasher = _FollowingHash(self.partial, self.size, lambda: self.parts)
        self._hasher.start()
        pending = [part for part in self.parts if part.completed < part.size]
        if not pending:
            return
        flusher = _BackgroundFlush(self.partial, lambda: self.cached_written)
        flusher.start()
        try:
            self._fetch_parts(pending)
        finally:
            flusher.stop()

    def _fetch_parts(self, pending: list[Part]) -> None:
        """Fetch ``pending`` lowest offset first, on as many connections as ``ConnectionRamp`` says.

        Each connection takes the next part when its own is done, so the
        finished prefix (what the hash can read) grows while parts arrive.
        """
        queue = deque(sorted(pending, key=lambda part: part.offset))
        ramp = ConnectionRamp(
            self.tuning.start_connections,
            min(len(pending), max(1, self.tuning.max_parts)),
            self.tuning.ramp_gain,
        )
        lock = threading.Lock()
        errors: list[BaseException] = []
        workers: list[threading.Thread] = []

        def next_part() -> Part | None:
            with lock:
                return queue.popleft() if queue and not self._stopping() else None

        def run_parts() -> None:
            while (part := next_part()) is not None:
                try:
                    self._fetch_part(part)
                except BaseException as error:  # noqa: BLE001 - collected, re-raised below
                    errors.append(error)
                    self._abort.set()  # one fatal part stops the others at once
                    return

        def add_workers(count: int) -> None:
            while len(workers) < count and queue:
                worker = threading.Thread(
                    target=run_parts, name=f"pull-part-{len(workers)}", daemon=True
                )
                worker.start()
                workers.append(worker)

        add_workers(ramp.connections)
        then, fetched = time.monotonic(), self.completed
        while alive := [worker for worker in workers if worker.is_alive()]:
            if ramp.settled or not queue:
                for worker in alive:
                    worker.join()
                break
            alive[0].join(max(0.0, then + self.tuning.ramp_interval - time.monotonic()))
            now = time.monotonic()
            if now - then >= self.tuning.ramp_interval:
                total = self.completed
                add_workers(ramp.observe((total - fetched) / (now - then)))
                then, fetched = now, total
        if errors:
            # Prefer the real cause over the PullCancelled of parts we stopped for it.
            real = [error for error in errors if not isinstance(error, PullCancelled)]
            if real:
                raise real[0]
            raise PullCancelled()

    def _fetch_part(self, part: Part) -> None:
        failures = 0
        while part.completed < part.size:
            if self._stopping():
                raise PullCancelled()
            before = part.completed
            try:
                self._attempt(part)
            except _Retry as error:
                self.stats.add("failed_attempts")
                # An attempt that moved the part forward does not use up a try
                # (a flaky link still finishes); one that got nothing does.
                if part.completed == before:
                    failures += 1
                if self._stopping():
                    raise PullCancelled() from None
                if failures >= self.tuning.max_attempts:
                    raise DownloadFailed(f"max retries exceeded: {error}") from None
                backoff = self.tuning.backoff_base * 2 ** max(0, failures - 1)
                _sleep_until(
                    time.monotonic() + min(self.tuning.backoff_max, backoff), self._stopping
                )
            finally:
                self._save(part)

    def _attempt(self, part: Part) -> None:
        """One ranged request for the rest of ``part``.

        It runs under the client's guard with this download's stop flag, so
        a cancel shuts the socket of a read blocked on a trickling registry
        (a socket timeout never trips while a byte comes every few seconds);
        whatever that read then raises becomes ``PullCancelled``.
        """
        with self.client.guard(stop=self._stopping, what=f"blob {self.digest}"):
            try:
                self._attempt_guarded(part)
            except (PullCancelled, DiskFull):
                raise
            except Exception:
                if self._stopping():
                    raise PullCancelled() from None
                raise

    def _attempt_guarded(self, part: Part) -> None:
        start = part.offset + part.completed
        end = part.offset + part.size - 1
        try:
            response = self.client.open_blob(
                self.digest, start, end, read_timeout=self.tuning.stall_timeout
            )
        except RegistryError as error:
            if retryable_status(error):
                raise _Retry(str(error)) from None
            raise
        except requests.RequestException as error:
            raise _Retry(_describe(error)) from None
        with response:
            got = response_range(response)
            if got.total is not None and got.total != self.size:
                raise BlobSizeMismatch(self.digest, self.size, got.total)
            skip = start - got.start
            if skip < 0:
                raise RegistryError(f"registry sent the wrong byte range for {self.digest}")
            try:
                self._write_stream(part, response, skip)
            except requests.RequestException as error:
                raise _Retry(_describe(error)) from None
        if part.completed < part.size:
            raise _Retry(f"connection closed early while downloading {self.digest}")

    def _write_stream(self, part: Part, response: requests.Response, skip: int) -> None:
        last_save = time.monotonic()
        body_at = part.offset + part.completed - skip
        with BlobFile(self.partial) as out:
            try:
                chunks = body_chunks(
                    response, self.tuning.chunk_size, at=body_at, most=self.tuning.max_chunk_size
                )
                for chunk in chunks:
                    if self._stopping():
                        return
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    chunk = chunk[: part.size - part.completed]
                    if not chunk:
                        if part.completed >= part.size:
                            return
                        continue
                    written_at = part.offset + part.completed
                    hasher = self._hasher
                    if hasher is not None and hasher.wants(written_at):
                        # Hashed from memory while it is written, and never read back,
                        # so it skips the page cache. Fed before the part moves on,
                        # so the hash thread never reads it from the file.
                        out.write_while(
                            written_at,
                            chunk,
                            uncached=True,
                            meanwhile=functools.partial(hasher.feed, written_at, chunk),
                        )
                    else:
                        out.write(written_at, chunk, uncached=False)
                    part.completed += len(chunk)
                    self.stats.add("bytes_downloaded", len(chunk))
                    if time.monotonic() - last_save >= self.tuning.checkpoint_interval:
                        self._count_written(out)
                        self._save(part)
                        last_save = time.monotonic()
                    if part.completed >= part.size:
                        return
                    self.limiter.consume(len(chunk), self._stopping)
            except OSError as error:
                if error.errno in _DISK_FULL:
                    raise DiskFull(
                        f"no space left on device while writing {self.partial.name}: {error}"
                    ) from None
                raise
            finally:
                self._count_written(out)

    def _count_written(self, out: BlobFile) -> None:
        """Move ``out``'s byte counts into the download's (for the flusher) and the stats."""
        with self._count_lock:
            self.cached_written += out.cached_bytes
        self.stats.add("bytes_written_uncached", out.uncached_bytes)
        out.cached_bytes = out.uncached_bytes = 0

    def _commit(self) -> None:
        """Hash the finished data; only a match is renamed to its digest name."""
        if not self.partial.exists():
            # Zero-length blob with no parts, or a file removed under us: start clean.
            with self.partial.open("wb"):
                pass
        actual_size = self.partial.stat().st_size
        if actual_size != self.size:
            self._remove_partial_files()
            raise BlobSizeMismatch(self.digest, self.size, actual_size)
        got = self._hasher.finish() if self._hasher is not None else None
        with self.partial.open("rb") as handle:
            if got is None:  # no streaming hash (or it failed): hash the whole file now
                sha = hashlib.sha256()
                while chunk := handle.read(4 * 2**20):
                    sha.update(chunk)
                got = "sha256:" + sha.hexdigest()
            os.fsync(handle.fileno())
        if got != self.digest:
            self._remove_partial_files()
            raise BlobDigestMismatch(self.digest, got)
        os.replace(self.partial, self.final)
        self._remove_records()
        self.stats.add("blobs_downloaded")

    # -- part records --------------------------------------------------
    def _record_path(self, n: int) -> Path:
        return self.partial.with_name(f"{self.partial.name}-{n}")

    def _record_files(self) -> list[Path]:
        return _record_files(self.partial)

    def _save(self, part: Part) -> None:
        path = self._record_path(part.n)
        temp = path.with_name(path.name + ".tmp")
        try:
            temp.write_text(json.dumps(part.record()))
            os.replace(temp, path)
        except OSError as error:
            if error.errno in _DISK_FULL:
                raise DiskFull(f"no space left on device while saving progress: {error}") from None
            raise

    def _load_records(self) -> list[Part] | None:
        return load_parts(self.partial, self.size)

    def _remove_records(self) -> None:
        for path in self._record_files():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _remove_partial_files(self) -> None:
        self._remove_records()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


def partial_path(store: ModelStore, digest: str) -> Path:
    return store.blobs / (blob_filename(digest) + "-partial")


def _record_files(partial: Path) -> list[Path]:
    prefix = partial.name + "-"
    return [
        path for path in partial.parent.glob(prefix + "*") if path.name[len(prefix) :].isdigit()
    ]


def load_parts(partial: Path, size: int) -> list[Part] | None:
    """Parts of an interrupted download of ``partial``, or None to start over."""
    files = _record_files(partial)
    if not files or not partial.is_file():
        return None
    try:
        if partial.stat().st_size != size:
            return None
        parts = [_parse_record(path.read_text()) for path in files]
    except (OSError, ValueError):
        return None
    parts.sort(key=lambda part: part.offset)
    offset = 0
    for index, part in enumerate(parts):
        if part.n != index or part.offset != offset:
            return None
        offset += part.size
    return parts if offset == size else None


def saved_progress(store: ModelStore, digest: str, size: int) -> int:
    """Bytes of ``digest`` an earlier, interrupted pull already has on disk."""
    parts = load_parts(partial_path(store, digest), size)
    return sum(part.completed for part in parts) if parts else 0


def _parse_record(text: str) -> Part:
    data: Any = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("record is not an object")
    values = [data.get(key) for key in ("N", "Offset", "Size", "Completed")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ValueError("record has invalid numbers")
    n, offset, size, completed = values
    if size <= 0 or completed > size:
        raise ValueError("record has invalid numbers")
    return Part(n, offset, size, completed)


def body_chunks(
    response: requests.Response, size: int, at: int = 0, most: int | None = None
) -> Iterator[bytes | memoryview]:
    """The response body in chunks of ``size`` bytes and up, each valid until the next.

    Why: on a fast link the Python work per chunk, not the network, sets
    the pull speed. Reading straight into one reused buffer through the
    underlying ``http.client`` response skips urllib3's per-read copies and
    generator layers (on this project's 2-core machine: about 1.5x the
    throughput of ``iter_content`` over 10 parallel parts). Bodies with a
    content coding, or a urllib3 without that attribute, take the general
    path. Read failures surface as ``requests.ConnectionError``, as they
    do from ``iter_content``, so the caller retries them the same way.

    Chunk size: a chunk read and handled (written, hashed, paced by a
    bandwidth cap) within ``_FAST_FILL`` seconds doubles the next one, up
    to ``most``; one slower than ``_SLOW_FILL`` halves it, down to
    ``size`` (both in whole 4 KiB blocks). So a fast link gets few, large
    writes (``O_DIRECT`` pays per call) and a slow or capped one still
    reports progress in small steps and notices a cancel within a fraction
    of a second.

    ``at`` is the file offset of the body's first byte. The buffer is
    page-aligned and each chunk sits in it at ``at``'s offset within a
    block, so file blocks and memory pages line up and ``BlobFile`` can
    write the chunk's whole blocks uncached; chunks after the first end
    on block boundaries.
    """
    raw = getattr(response.raw, "_fp", None)
    coded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    if coded or not callable(getattr(raw, "readinto", None)):
        yield from response.iter_content(size)
        return
    least = max(ALIGN, size // ALIGN * ALIGN)  # whole blocks, at least one
    largest = max(least, (most or least) // ALIGN * ALIGN)
    buffer, lead = aligned_buffer(largest), at % ALIGN
    target = least
    while True:
        end = target  # over ``lead``: it is under one block, ``target`` at least one
        filled = lead
        began = time.monotonic()
        failure: BaseException | None = None
        while filled < end:
            try:
                # Reads of ``least``: a read that fails loses what it had taken in.
                count = raw.readinto(buffer[filled : min(end, filled + least)])
            except (OSError, http.client.HTTPException) as error:
                failure = error
                break
            if not count:
                break
            filled += count
        if filled > lead:
            yield buffer[lead:filled]  # what arrived before a failure is kept, too
        if failure is not None:
            raise requests.ConnectionError(f"reading the blob failed: {failure!r}") from failure
        if filled < end:
            return
        took = time.monotonic() - began  # the whole round: read, then the caller's write and pacing
        if took < _FAST_FILL:
            target = min(largest, target * 2)
        elif took > _SLOW_FILL:
            target = max(least, target // 2 // ALIGN * ALIGN)
        lead = 0


_FAST_FILL = 0.005
_SLOW_FILL = 0.05


def _sleep_until(deadline: float, stopping: Callable[[], bool]) -> None:
    """Sleep in short slices so a cancel is noticed within a tenth of a second."""
    while not stopping():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def _describe(error: requests.RequestException) -> str:
    text = str(error)
    return text if len(text) < 300 else text[:300] + "..."


# -- one download per blob per process -------------------------------------------------

_ACTIVE: dict[Path, BlobDownload] = {}
_ACTIVE_LOCK = threading.Lock()


def claim(make: Callable[[], BlobDownload], final: Path) -> tuple[BlobDownload, bool]:
    """The running download of ``final``, or a new started one; bool = we own it."""
    with _ACTIVE_LOCK:
        running = _ACTIVE.get(final)
        if running is not None and not running.done.is_set():
            return running, False
        download = make()
        _ACTIVE[final] = download
    download.start()
    return download, True


def _release(download: BlobDownload) -> None:
    with _ACTIVE_LOCK:
        if _ACTIVE.get(download.final) is download:
            del _ACTIVE[download.final]


__all__ = [
    "BlobDownload",
    "Part",
    "PullError",
    "PullStats",
    "PullTuning",
    "RateLimiter",
    "claim",
    "load_parts",
    "plan_parts",
    "saved_progress",
]
