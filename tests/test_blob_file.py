"""BlobFile: writes at any offset land byte for byte, whole blocks past the page cache."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from app.models import blob_file
from app.models.blob_file import ALIGN, BlobFile, aligned_buffer, memory_address
from tests.model_helpers import direct_io_works


def blank(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def placed(data: bytes, offset: int) -> memoryview:
    """``data`` in a page-aligned buffer, placed as ``offset`` is in its block (as body_chunks)."""
    lead = offset % ALIGN
    buffer = aligned_buffer(lead + len(data))
    buffer[lead:] = data
    return buffer[lead:]


def test_aligned_buffer_starts_on_a_page() -> None:
    buffer = aligned_buffer(3 * ALIGN)
    address = memory_address(buffer)
    assert address is not None and address % ALIGN == 0
    assert memory_address(b"read-only") is None, "bytes cannot be written uncached"


def test_unaligned_writes_land_exactly_with_whole_blocks_uncached(tmp_path: Path) -> None:
    if not direct_io_works(tmp_path):
        pytest.skip("this filesystem refuses O_DIRECT; the cached path is covered below")
    size = 10 * ALIGN + 123
    data = os.urandom(size)
    path = tmp_path / "blob"
    blank(path, size)
    # Cuts that start and end off block boundaries, written out of order.
    cuts = [(5 * ALIGN + 7, size), (0, 100), (100, 3 * ALIGN + 1), (3 * ALIGN + 1, 5 * ALIGN + 7)]
    with BlobFile(path) as out:
        for start, end in cuts:
            out.write(start, placed(data[start:end], start), uncached=True)
        assert out.cached_bytes + out.uncached_bytes == size
        assert out.uncached_bytes >= 6 * ALIGN, "the whole blocks of the long cuts skip the cache"
        assert out.uncached_bytes % ALIGN == 0
    assert path.read_bytes() == data


def test_cached_when_asked_or_when_memory_does_not_line_up(tmp_path: Path) -> None:
    size = 4 * ALIGN
    data = os.urandom(size)
    path = tmp_path / "blob"
    blank(path, size)
    with BlobFile(path) as out:
        out.write(0, data[:ALIGN], uncached=True)  # bytes: read-only memory
        out.write(ALIGN, placed(data[ALIGN : 2 * ALIGN + 5], ALIGN), uncached=False)
        # Page-aligned memory for a write at offset 2*ALIGN+5: memory and file blocks differ.
        misplaced = aligned_buffer(2 * ALIGN - 5)
        misplaced[:] = data[2 * ALIGN + 5 :]
        out.write(2 * ALIGN + 5, misplaced, uncached=True)
        assert out.uncached_bytes == 0 and out.cached_bytes == size
    assert path.read_bytes() == data


def test_a_filesystem_that_refuses_direct_writes_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stand-in: ``os.pwrite`` answers EINVAL, as a filesystem without O_DIRECT support would."""
    if not direct_io_works(tmp_path):
        pytest.skip("O_DIRECT is not opened here at all, so there is nothing to refuse")
    calls: list[int] = []

    def refusing_pwrite(fd: int, data: memoryview, offset: int) -> int:
        calls.append(offset)
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(blob_file.os, "pwrite", refusing_pwrite)
    size = 8 * ALIGN
    data = os.urandom(size)
    path = tmp_path / "blob"
    blank(path, size)
    with BlobFile(path) as out:
        out.write(0, placed(data[: 4 * ALIGN], 0), uncached=True)
        out.write(4 * ALIGN, placed(data[4 * ALIGN :], 4 * ALIGN), uncached=True)
        assert out.uncached_bytes == 0 and out.cached_bytes == size
    assert calls == [0], "refused once, then cached without asking again"
    assert path.read_bytes() == data


@pytest.fixture
def full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-in for a full disk: every uncached write answers ENOSPC."""
    if not direct_io_works(tmp_path):
        pytest.skip("O_DIRECT is not opened here")

    def no_space(fd: int, data: memoryview, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blob_file.os, "pwrite", no_space)


def test_disk_errors_other_than_refusal_are_raised(tmp_path: Path, full_disk: None) -> None:
    """ENOSPC from the uncached write must reach the caller (it becomes DiskFull)."""
    path = tmp_path / "blob"
    blank(path, 2 * ALIGN)
    with BlobFile(path) as out, pytest.raises(OSError) as raised:
        out.write(0, placed(os.urandom(2 * ALIGN), 0), uncached=True)
    assert raised.value.errno == errno.ENOSPC


def test_write_while_runs_the_other_work_and_still_writes_everything(tmp_path: Path) -> None:
    """The frontier's write and hash overlap: both happen, and the bytes land exactly."""
    size = 2 * 2**20 + 77  # over the overlap threshold, with a ragged tail
    data = os.urandom(size)
    path = tmp_path / "blob"
    blank(path, size + 5)
    seen: list[bytes] = []
    with BlobFile(path) as out:
        chunk = placed(data, 5)
        out.write_while(5, chunk, uncached=True, meanwhile=lambda: seen.append(bytes(chunk)))
        out.write_while(0, b"small", uncached=True, meanwhile=lambda: seen.append(b"small"))
        assert out.cached_bytes + out.uncached_bytes == size + 5
    assert seen == [data, b"small"]
    assert path.read_bytes() == b"small" + data


def test_write_while_raises_the_write_error_after_the_other_work(
    tmp_path: Path, full_disk: None
) -> None:
    """A full disk under the write in the second thread still reaches the caller."""
    path = tmp_path / "blob"
    blank(path, 2**20)
    ran: list[bool] = []
    with BlobFile(path) as out, pytest.raises(OSError) as raised:
        out.write_while(
            0, placed(os.urandom(2**20), 0), uncached=True, meanwhile=lambda: ran.append(True)
        )
    assert raised.value.errno == errno.ENOSPC
    assert ran == [True]
