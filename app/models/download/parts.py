"""A blob's parts and their records on disk, in Ollama's layout.

    blobs/sha256-<hex>-partial      the data, truncated to full size, parts written in place
    blobs/sha256-<hex>-partial-<N>  {"N", "Offset", "Size", "Completed"} for part N

Records that do not tile the blob exactly are thrown away and the download
starts over: a damaged record can cost time, never correctness, because the
finished file is hashed before it is renamed to its content-addressed name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.models.digests import blob_filename
from app.models.download.tuning import PullTuning
from app.models.pull_errors import DiskFull
from app.models.store import ModelStore

DISK_FULL = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT") if hasattr(errno, name)}
"""The ``errno`` values that mean the disk (or the user's quota) is full."""


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

    Why Ollama's: either program can then resume the other's download.
    Cutting a blob into more, smaller parts per connection, fetched in
    order so the running hash keeps up, was tried and pulled more slowly
    through ``hearth serve`` (bench/README.md, "Pull design measurements").
    """
    if size <= 0:
        return []
    part_size = math.ceil(size / max(1, tuning.max_parts))
    part_size = max(tuning.min_part_size, min(tuning.max_part_size, part_size))
    return [
        Part(n, offset, min(part_size, size - offset))
        for n, offset in enumerate(range(0, size, part_size))
    ]


def partial_path(store: ModelStore, digest: str) -> Path:
    return store.blobs / (blob_filename(digest) + "-partial")


def record_path(partial: Path, n: int) -> Path:
    return partial.with_name(f"{partial.name}-{n}")


def record_files(partial: Path) -> list[Path]:
    prefix = partial.name + "-"
    return [
        path for path in partial.parent.glob(prefix + "*") if path.name[len(prefix) :].isdigit()
    ]


def save_record(partial: Path, part: Part) -> None:
    """Replace part ``part.n``'s record in one rename, so a crash leaves the old or the new."""
    path = record_path(partial, part.n)
    temp = path.with_name(path.name + ".tmp")
    try:
        temp.write_text(json.dumps(part.record()))
        os.replace(temp, path)
    except OSError as error:
        if error.errno in DISK_FULL:
            raise DiskFull(f"no space left on device while saving progress: {error}") from None
        raise


def remove_records(partial: Path) -> None:
    for path in record_files(partial):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_partial_files(partial: Path) -> None:
    remove_records(partial)
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()


def load_parts(partial: Path, size: int) -> list[Part] | None:
    """Parts of an interrupted download of ``partial``, or None to start over."""
    files = record_files(partial)
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
    values: list[Any] = [data.get(key) for key in ("N", "Offset", "Size", "Completed")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ValueError("record has invalid numbers")
    n, offset, size, completed = values
    if size <= 0 or completed > size:
        raise ValueError("record has invalid numbers")
    return Part(n, offset, size, completed)
