"""Writing a download into its partial file, past the page cache where the system allows.

Why: a pull must leave each blob on disk before its manifest makes it
visible, so every byte written through the page cache is paid for twice in
CPU: once copied into the cache, once more when the sync writes it back.
On a machine with few cores, which the pull shares with the registry on
loopback, that system time is a large part of the pull's CPU
(bench/README.md, "Pull design measurements"). Bytes written with
``O_DIRECT`` go from the download buffer to the disk directly.

Only bytes that will never be read back should skip the cache: the part
at the hash's frontier is hashed from memory (``FollowingHash.feed``), so
it is written uncached; parts fetched ahead are read back by the hash and
stay cached. ``O_DIRECT`` needs the file offset, the length and the memory
address aligned to the block size, so a write is split: its unaligned head
and tail go through the cache, the aligned middle does not. Where
``O_DIRECT`` does not exist (macOS, Windows) or a filesystem refuses it,
every write is an ordinary one; the bytes on disk are the same either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

ALIGN = 4096
"""Block size assumed for uncached I/O: 4 KiB satisfies 512-byte and 4K-sector disks alike."""

_O_DIRECT: int = getattr(os, "O_DIRECT", 0)
_OVERLAP_FROM = 256 * 1024


def aligned_buffer(size: int) -> memoryview:
    """A writable buffer of ``size`` bytes that starts on a page boundary (anonymous mmap)."""
    return memoryview(mmap.mmap(-1, max(size, 1)))[:size]


def memory_address(data: bytes | bytearray | memoryview) -> int | None:
    """The address of ``data``'s first byte, or None for read-only or empty buffers."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(data))
    except (TypeError, ValueError):
        return None


class BlobFile:
    """One part thread's handle on a partial file: ``write`` at an offset, cached or not.

    Each part thread opens its own, so the buffered handle's position is
    never shared. ``cached_bytes`` counts what went through the page cache
    (what a background sync still has to write back).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = path.open("r+b", buffering=0)
        self._direct: int | None = None
        if _O_DIRECT:
            with contextlib.suppress(OSError):  # e.g. a FUSE filesystem: EINVAL
                self._direct = os.open(path, os.O_WRONLY | _O_DIRECT)
        self.cached_bytes = 0
        self.uncached_bytes = 0
        self._writer: ThreadPoolExecutor | None = None

    def __enter__(self) -> BlobFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        self._handle.close()
        if self._direct is not None:
            os.close(self._direct)
            self._direct = None

    def write_while(
        self,
        offset: int,
        data: bytes | memoryview,
        *,
        uncached: bool,
        meanwhile: Callable[[], None],
    ) -> None:
        """``write``, with ``meanwhile`` run in this thread while the write goes on in another.

        Why: at the hash's frontier each chunk is written and then hashed
        from memory; one after the other they set a connection's speed
        (about 0.4 ms a MiB to write uncached plus 0.6 ms to hash, here).
        Both release the GIL and only read the buffer, so they can overlap.
        Returns once both are done; the write's error, if any, is raised.
        """
        if len(data) < _OVERLAP_FROM:  # a thread hand-off costs more than it saves
            self.write(offset, data, uncached=uncached)
            meanwhile()
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull-write")
        done = self._writer.submit(self.write, offset, data, uncached=uncached)
        try:
            meanwhile()
        finally:
            done.result()

    def write(self, offset: int, data: bytes | memoryview, *, uncached: bool) -> None:
        """Write all of ``data`` at ``offset``; with ``uncached``, whole blocks skip the cache."""
        view = memoryview(data).cast("B")
        if uncached and self._direct is not None and len(view) >= ALIGN:
            address = memory_address(view)
            if address is not None and address % ALIGN == offset % ALIGN:
                head = -offset % ALIGN
                middle = (len(view) - head) // ALIGN * ALIGN
                if middle:
                    self._cached(offset, view[:head])
                    done = self._uncached(offset + head, view[head : head + middle])
                    self._cached(offset + head + done, view[head + done :])
                    return
        self._cached(offset, view)

    def _uncached(self, offset: int, view: memoryview) -> int:
        """Write ``view`` with ``O_DIRECT``; returns how much was written (all, unless refused)."""
        done = 0
        try:
            while done < len(view) and self._direct is not None:
                written = os.pwrite(self._direct, view[done:], offset + done)
                if written <= 0 or written % ALIGN:
                    # A short, unaligned write cannot be continued uncached.
                    done += max(written, 0)
                    self._stop_uncached()
                    break
                done += written
        except OSError as error:
            if error.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                self._stop_uncached()  # the filesystem refuses it: cached from now on
            else:
                raise
        self.uncached_bytes += done
        return done

    def _stop_uncached(self) -> None:
        if self._direct is not None:
            os.close(self._direct)
            self._direct = None

    def _cached(self, offset: int, view: memoryview) -> None:
        if not view:
            return
        self._handle.seek(offset)
        while view:
            written = self._handle.write(view)
            view = view[written:]
            self.cached_bytes += written
