"""Shared pieces of the attack-suite tests: a Hearth with no llama-server, pulls, crafted GGUFs.

The attack tests never load a model, so the Hearth they start
(``make_hearth(llama_server=NO_LLAMA_SERVER)``) gets a llama-server path
that does not exist (it is only looked for at a load).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import requests

from tests.hearth_process import HearthProcess

NO_LLAMA_SERVER = Path("/nonexistent/llama-server")
GGUF_ARRAY, GGUF_STRING, GGUF_UINT8 = 9, 8, 0


def pull(process: HearthProcess, name: str, timeout: float = 300) -> dict[str, Any]:
    """Pull ``name`` through ``/api/pull`` and return its last line (``error`` or ``success``)."""
    last: dict[str, Any] = {}
    with requests.post(
        f"{process.ollama_url}/api/pull", json={"model": name}, stream=True, timeout=timeout
    ) as reply:
        for line in reply.iter_lines():
            if line:
                last = json.loads(line)
    return last


def gguf_prefix(kv_count: int, tensor_count: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, tensor_count, kv_count)


def gguf_key(name: bytes) -> bytes:
    return struct.pack("<Q", len(name)) + name


def sparse_file(path: Path, head: bytes, size: int) -> Path:
    """``head`` followed by zeros up to ``size`` bytes (sparse where the file system can)."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def slow_to_fail_gguf(path: Path, size: int = 100 * 2**20) -> Path:
    """A string array of empty strings filling the file, claiming one entry more than fits.

    The old reader walked all 13 million entries in Python (about 5 s)
    before finding the file truncated, on every ``/api/tags``.
    """
    count = (size - 41) // 8
    head = gguf_prefix(1) + gguf_key(b"a") + struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, count + 1)
    return sparse_file(path, head, len(head) + count * 8)


def many_kv_gguf(path: Path) -> Path:
    """A header claiming a million KV entries (the old limit), then truncated."""
    count = (1 << 20) - 1
    entry = gguf_key(b"k") + struct.pack("<IB", GGUF_UINT8, 0)
    path.write_bytes(gguf_prefix(count) + entry * (count - 1))
    return path


def huge_array_gguf(path: Path, items: int = 100 * 2**20) -> Path:
    """A valid GGUF: ``general.architecture`` and one uint8 array of ``items`` zeros."""
    arch = gguf_key(b"general.architecture") + struct.pack("<I", GGUF_STRING) + gguf_key(b"llama")
    array = gguf_key(b"huge.array") + struct.pack("<IIQ", GGUF_ARRAY, GGUF_UINT8, items)
    head = gguf_prefix(2) + arch + array
    return sparse_file(path, head, len(head) + items)


def huge_key_gguf(path: Path, key_length: int = (1 << 26) - 1) -> Path:
    """A GGUF whose only key is ~64 MB long (the spec allows 65535 bytes)."""
    head = gguf_prefix(1) + struct.pack("<Q", key_length)
    tail = struct.pack("<IB", GGUF_UINT8, 0)
    with path.open("wb") as handle:
        handle.write(head)
        handle.write(b"k" * key_length)
        handle.write(tail)
    return path
