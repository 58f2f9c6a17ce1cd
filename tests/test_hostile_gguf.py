"""Attack suite: crafted GGUF headers against a real Hearth (issue 16, items 2 and 3).

A pulled or uploaded GGUF is untrusted. These files are built byte by byte
(the ``gguf`` package refuses to write them) and reach Hearth the way a
person's would: pulled over HTTP from the real ``docker-registry``, or
uploaded with ``/api/blobs`` and ``/api/create``.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import psutil
import pytest
import requests

from app.models.errors import NotGGUF
from app.models.gguf_meta import array_length, read_gguf
from tests.hearth_process import HearthFactory, HearthProcess
from tests.hostile_helpers import (
    NO_LLAMA_SERVER,
    gguf_key,
    gguf_prefix,
    huge_array_gguf,
    huge_key_gguf,
    many_kv_gguf,
    pull,
    slow_to_fail_gguf,
)
from tests.model_helpers import sha256_file
from tests.registry import RegistryServer, push_model

CONFIG = {"model_format": "gguf", "model_family": "llama", "file_type": "F16"}


@pytest.fixture
def hearth_alone(make_hearth: HearthFactory) -> HearthProcess:
    return make_hearth(llama_server=NO_LLAMA_SERVER)


@pytest.mark.parametrize("craft", [slow_to_fail_gguf, many_kv_gguf, huge_key_gguf])
def test_crafted_headers_fail_at_once(tmp_path: Path, craft) -> None:  # type: ignore[no-untyped-def]
    """Each crafted header is refused without walking it (the old reader took 3.6-4.7 s)."""
    path = craft(tmp_path / "crafted.gguf")
    started = time.perf_counter()
    with pytest.raises(NotGGUF):
        read_gguf(path, keep_arrays=5)
    assert time.perf_counter() - started < 1.0


def test_a_long_string_array_is_skipped_even_when_all_arrays_are_asked_for(
    tmp_path: Path,
) -> None:
    """Over ``MAX_KEPT_ARRAY_BYTES`` in the file, a string array comes back unread (length kept)."""
    count = 3 * 2**20
    item = struct.pack("<Q", 1) + b"t"  # 9 bytes each: 27 MiB in all
    head = gguf_prefix(1) + gguf_key(b"tokens") + struct.pack("<IIQ", 9, 8, count)
    path = tmp_path / "long-strings.gguf"
    path.write_bytes(head + item * count)
    metadata = read_gguf(path)[0]
    assert metadata["tokens"] == [] and array_length(metadata["tokens"]) == count


def test_tags_with_slow_to_fail_ggufs_stays_fast(
    tmp_path: Path, registry: RegistryServer, hearth_alone: HearthProcess
) -> None:
    """Two pulled models whose headers are slow to fail: ``/api/tags`` does not re-parse them.

    Before: every ``/api/tags`` parsed both headers again (about 8 s here),
    because failures were not cached and the reader walked the arrays.
    """
    names = []
    for index, craft in enumerate([slow_to_fail_gguf, many_kv_gguf]):
        path = craft(tmp_path / f"bad{index}.gguf")
        push_model(registry.url, f"hostile/badgguf{index}", "v1", [("model", path)], CONFIG)
        name = f"{registry.host}/hostile/badgguf{index}:v1"
        assert pull(hearth_alone, name).get("status") == "success"
        names.append(name)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        reply = requests.get(f"{hearth_alone.ollama_url}/api/tags", timeout=120)
        timings.append(time.perf_counter() - started)
        assert reply.status_code == 200
        assert {m["name"] for m in reply.json()["models"]} == set(names)
    print(f"/api/tags with two slow-to-fail GGUFs: {[round(t, 3) for t in timings]} s")
    assert max(timings) < 4.0, timings  # before: about 8 s each


def test_verbose_show_of_a_huge_array_is_bounded(
    tmp_path: Path, hearth_alone: HearthProcess
) -> None:
    """A valid 100 MB GGUF made of one uint8 array: verbose show neither balloons nor floods.

    Before: the array was read into a Python list (RSS +1.7 GB) and sent
    back as a 200 MB answer. Now it is skipped in the file; its length is
    reported in ``model_info_skipped_arrays``.
    """
    path = huge_array_gguf(tmp_path / "huge-array.gguf")
    digest = sha256_file(path)
    url = hearth_alone.ollama_url
    with path.open("rb") as handle:
        assert requests.post(f"{url}/api/blobs/{digest}", data=handle, timeout=120).ok
    created = requests.post(
        f"{url}/api/create",
        json={"model": "hugearray", "files": {"m.gguf": digest}, "stream": False},
        timeout=120,
    )
    assert created.status_code == 200, created.text
    assert hearth_alone.process is not None
    server = psutil.Process(hearth_alone.process.pid)
    before = server.memory_info().rss
    peak = before
    reply = requests.post(
        f"{url}/api/show", json={"model": "hugearray", "verbose": True}, stream=True, timeout=120
    )
    body = b""
    for chunk in reply.iter_content(1 << 20):
        body += chunk
        peak = max(peak, server.memory_info().rss)
        assert len(body) < 1 << 20, "the answer is unbounded"
    peak = max(peak, server.memory_info().rss)
    print(f"verbose show: answer {len(body)} B, RSS {before / 2**20:.0f} -> {peak / 2**20:.0f} MiB")
    assert reply.status_code == 200
    shown = json.loads(body)
    assert shown["model_info"]["huge.array"] == []
    assert shown["model_info_skipped_arrays"] == {"huge.array": 100 * 2**20}
    assert peak - before < 200 * 2**20  # before: +1.7 GB


def test_a_64_mb_key_name_is_refused_not_returned(
    tmp_path: Path, registry: RegistryServer, hearth_alone: HearthProcess
) -> None:
    """A pulled GGUF whose one key is 64 MB: show answers a short error, tags still lists it."""
    path = huge_key_gguf(tmp_path / "huge-key.gguf")
    push_model(registry.url, "hostile/hugekey", "v1", [("model", path)], CONFIG)
    name = f"{registry.host}/hostile/hugekey:v1"
    assert pull(hearth_alone, name).get("status") == "success"
    url = hearth_alone.ollama_url
    for verbose in (False, True):
        reply = requests.post(
            f"{url}/api/show", json={"model": name, "verbose": verbose}, timeout=120
        )
        assert len(reply.content) < 4096
        assert reply.status_code == 400 and "GGUF" in reply.json()["error"]
    tags = requests.get(f"{url}/api/tags", timeout=60).json()["models"]
    assert [m["name"] for m in tags] == [name]
