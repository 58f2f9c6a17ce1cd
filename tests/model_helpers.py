"""Helpers shared by the model-store tests (real files in a temporary directory)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

from app.models.names import parse_name
from app.models.store import ModelStore
from tests.tinygguf import write_tiny_gguf


def files_in(store: ModelStore) -> set[str]:
    """Every file under the store, relative to its root: the ground truth for 'nothing written'."""
    return {str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file()}


def imported(store: ModelStore, tmp_path: Path, name: str, **gguf_options: object) -> str:
    """Write a tiny GGUF, import it as ``name`` and return the model blob's digest."""
    from app.models.create import import_gguf

    path = write_tiny_gguf(
        tmp_path / (re.sub(r"[^A-Za-z0-9]", "_", name) + ".gguf"), **gguf_options
    )  # type: ignore[arg-type]
    statuses = [line["status"] for line in import_gguf(store, path, parse_name(name))]
    assert statuses[-1] == "success"
    layer = store.read_manifest(parse_name(name)).layer("model")
    assert layer is not None
    return layer.digest


def created(store: ModelStore, name: str, **request: object) -> list[str]:
    """``create_model`` of ``name`` with ``request``'s fields, run to its end: its statuses."""
    from app.models.create import create_model

    return [line["status"] for line in create_model(store, parse_name(name), **request)]  # type: ignore[arg-type]


def sha256_file(path: Path) -> str:
    """``sha256:<hex>`` of a file, read in 1 MiB pieces."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def direct_io_works(folder: Path) -> bool:
    """Whether files in ``folder`` open with ``O_DIRECT`` (tmpfs before Linux 6.6 did not),
    so whether Hearth's blob writes there can go past the page cache."""
    o_direct = getattr(os, "O_DIRECT", 0)
    if not o_direct:
        return False
    probe = folder / f".direct-io-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        os.close(os.open(probe, os.O_WRONLY | o_direct))
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
