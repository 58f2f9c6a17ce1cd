"""Resumable, parallel download of one blob into the store.

The data goes into ``blobs/sha256-<hex>-partial`` in place, one record per
part beside it (``app.models.download.parts``: Ollama's layout, so either
program can resume the other's download). A part's record is rewritten at
most every ``checkpoint_interval`` seconds and at the end of every attempt,
always *after* the bytes it counts were written, so after any interruption
(cancel, crash, ``kill -9``) a resumed download re-fetches at most about
one checkpoint interval of data per part that was in flight. The finished
file is hashed before it is renamed to its content-addressed name.

One download per blob per process: a second pull needing the same blob
attaches to the running download and watches its progress (``claim``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one process per store there
    fcntl = None  # type: ignore[assignment]

from app.models.blob_file import BlobFile
from app.models.digests import parse_digest
from app.models.download.body import body_chunks
from app.models.download.hashing import BackgroundFlush, FollowingHash
from app.models.download.parts import (
    DISK_FULL,
    Part,
    load_parts,
    partial_path,
    plan_parts,
    record_files,
    remove_partial_files,
    remove_records,
    save_record,
)
from app.models.download.ramp import ConnectionRamp, RateLimiter, sleep_until
from app.models.download.tuning import PullStats, PullTuning
from app.models.pull_errors import (
    BlobDigestMismatch,
    BlobSizeMismatch,
    DiskFull,
    DownloadFailed,
    PullCancelled,
    RegistryError,
)
from app.models.registry import RegistryClient, response_range, retryable_status
from app.models.store import ModelStore


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
        self._hasher: FollowingHash | None = None
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
                remove_partial_files(self.partial)
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
                and not record_files(self.partial)
                and os.stat(self.partial).st_ino == mine.st_ino
            ):
                self.partial.unlink()

    def _download(self) -> None:
        resumed = load_parts(self.partial, self.size)
        if resumed is None:
            self.parts = plan_parts(self.size, self.tuning)
            remove_records(self.partial)
            # Truncated in place, not replaced: the lock is on this very file.
            with self.partial.open("wb") as handle:
                handle.truncate(self.size)
            for part in self.parts:
                save_record(self.partial, part)
        else:
            self.parts = resumed
            self.stats.add("parts_resumed", sum(1 for p in resumed if p.completed))
        self._hasher = FollowingHash(self.partial, self.size, lambda: self.parts)
        self._hasher.start()
        pending = [part for part in self.parts if part.completed < part.size]
        if not pending:
            return
        flusher = BackgroundFlush(self.partial, lambda: self.cached_written)
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
                sleep_until(
                    time.monotonic() + min(self.tuning.backoff_max, backoff), self._stopping
                )
            finally:
                save_record(self.partial, part)

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
                        save_record(self.partial, part)
                        last_save = time.monotonic()
                    if part.completed >= part.size:
                        return
                    self.limiter.consume(len(chunk), self._stopping)
            except OSError as error:
                if error.errno in DISK_FULL:
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
            remove_partial_files(self.partial)
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
            remove_partial_files(self.partial)
            raise BlobDigestMismatch(self.digest, got)
        os.replace(self.partial, self.final)
        remove_records(self.partial)
        self.stats.add("blobs_downloaded")


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
