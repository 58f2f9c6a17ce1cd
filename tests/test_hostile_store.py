"""Attack suite: the model store under concurrent and interrupted work (issue 16, items 1, 4, 5).

Real parts: ``hearth serve`` processes, the real ``docker-registry``, real
files. Stand-ins, named where used: ``HEARTH_PULL_MAX_BPS`` for a slow
network (the registry is on loopback and would finish at once), and
``os.utime`` for time passing beyond the unused-blob grace period.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.models.download import saved_progress
from app.models.errors import BlobNotFound
from app.models.names import parse_name
from app.models.store import ModelStore, build_manifest, parse_manifest
from tests.hearth_process import HearthFactory, HearthProcess
from tests.hostile_helpers import NO_LLAMA_SERVER, pull
from tests.registry import RegistryServer, push_model
from tests.relay import CountingRelay
from tests.tinygguf import write_tiny_gguf
from tests.waiting import wait_until

CONFIG = {"model_format": "gguf", "model_family": "llama", "file_type": "F16"}


def _digest(data: bytes | Path) -> str:
    raw = data.read_bytes() if isinstance(data, Path) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _blob(home: Path, digest: str) -> Path:
    return home / "models" / "blobs" / digest.replace(":", "-")


class BackgroundPull:
    """``/api/pull`` on a thread; ``result`` is its last line."""

    def __init__(self, process: HearthProcess, name: str) -> None:
        self.result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(process, name), daemon=True)
        self._thread.start()

    def _run(self, process: HearthProcess, name: str) -> None:
        try:
            self.result = pull(process, name)
        except requests.RequestException as error:  # the server was killed under it
            self.result = {"error": str(error)}

    def join(self, timeout: float = 120) -> dict[str, Any]:
        self._thread.join(timeout)
        return self.result


def _pulling(process: HearthProcess, digest: str) -> bool:
    pulls = requests.get(f"{process.ollama_url}/api/pulls", timeout=5).json()["pulls"]
    return any(p["digest"] == digest and p["completed"] > 0 for p in pulls)


@pytest.fixture
def shared_blob_models(tmp_path: Path, registry: RegistryServer) -> tuple[str, str, str, str]:
    """A = {X}; B = {X, Y}, Y 6 MB. Returns (A, B, X digest, Y digest)."""
    tag = tmp_path.name[-12:].lower().replace("_", "")
    x = write_tiny_gguf(tmp_path / "x.gguf", seed=11)
    y = os.urandom(6 * 2**20)
    push_model(registry.url, f"shared/a{tag}", "v1", [("model", x)], CONFIG)
    push_model(registry.url, f"shared/b{tag}", "v1", [("model", x), ("adapter", y)], CONFIG)
    return (
        f"{registry.host}/shared/a{tag}:v1",
        f"{registry.host}/shared/b{tag}:v1",
        _digest(x),
        _digest(y),
    )


@pytest.fixture
def slow_hearth(make_hearth: HearthFactory) -> HearthProcess:
    # HEARTH_PULL_MAX_BPS: a named stand-in for a slow network (6 MB take about 4 s).
    return make_hearth(env={"HEARTH_PULL_MAX_BPS": "1.5e6"}, llama_server=NO_LLAMA_SERVER)


def test_delete_during_a_pull_keeps_the_blobs_the_pull_needs(
    slow_hearth: HearthProcess, shared_blob_models: tuple[str, str, str, str]
) -> None:
    """Delete A while B (which shares X) downloads Y: X stays, B is whole and shows.

    Before: deleting A pruned X (no manifest referenced it yet), B reported
    success anyway, and ``show B`` failed on the missing blob.
    """
    a, b, x, y = shared_blob_models
    url = slow_hearth.ollama_url
    assert pull(slow_hearth, a)["status"] == "success"
    running = BackgroundPull(slow_hearth, b)
    wait_until(lambda: _pulling(slow_hearth, y), "B downloading Y", timeout=60)
    assert requests.delete(f"{url}/api/delete", json={"model": a}, timeout=30).ok
    assert running.join()["status"] == "success"
    assert _blob(slow_hearth.home, x).is_file()
    shown = requests.post(f"{url}/api/show", json={"model": b}, timeout=30)
    assert shown.status_code == 200, shown.text
    assert [m["name"] for m in requests.get(f"{url}/api/tags", timeout=30).json()["models"]] == [b]


def test_a_blob_removed_under_a_pull_fails_it_and_writes_no_manifest(
    slow_hearth: HearthProcess, shared_blob_models: tuple[str, str, str, str]
) -> None:
    """X disappears from disk while B downloads Y: B fails with words, no manifest names X.

    Removing the file by hand stands in for another process (a ``hearth rm``
    in a terminal) pruning it; in-process holds cannot stop that, the
    check right before the manifest is written does.
    """
    a, b, x, y = shared_blob_models
    url = slow_hearth.ollama_url
    assert pull(slow_hearth, a)["status"] == "success"
    running = BackgroundPull(slow_hearth, b)
    wait_until(lambda: _pulling(slow_hearth, y), "B downloading Y", timeout=60)
    _blob(slow_hearth.home, x).unlink()
    result = running.join()
    assert "missing" in result.get("error", ""), result
    shown = requests.post(f"{url}/api/show", json={"model": b}, timeout=30)
    assert shown.status_code == 404


def test_write_manifest_refuses_missing_or_wrong_sized_blobs(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    data = write_tiny_gguf(tmp_path / "m.gguf").read_bytes()
    digest = store.write_blob([data])
    config = store.write_blob([b"{}"])
    name = parse_name("m:latest")
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": digest}
    for wrong in ({"size": len(data) + 1}, {"digest": "sha256:" + "0" * 64, "size": 1}):
        raw = json.dumps(
            {
                "schemaVersion": 2,
                "config": {"mediaType": "x", "digest": config, "size": 2},
                "layers": [{**layer, "size": len(data), **wrong}],
            }
        ).encode()
        with pytest.raises(BlobNotFound):
            store.write_manifest(name, raw)
    good = parse_manifest(build_manifest(*_layers(digest, len(data), config)), name)
    store.write_manifest(name, good.raw)
    assert store.read_manifest(name).digests() == {digest, config}


def _layers(digest: str, size: int, config: str) -> tuple[Any, list[Any]]:
    from app.models.store import CONFIG_MEDIA_TYPE, Layer

    return Layer(CONFIG_MEDIA_TYPE, config, 2), [
        Layer("application/vnd.ollama.image.model", digest, size)
    ]


def test_import_copies_so_editing_the_original_leaves_the_blob(
    tmp_path: Path, make_hearth: HearthFactory
) -> None:
    """``hearth import``, then the user edits the original in place: the blob keeps its hash.

    Before: the import hard-linked the file, so the edit changed the blob.
    """
    process = make_hearth(llama_server=NO_LLAMA_SERVER, start=False)
    original = write_tiny_gguf(tmp_path / "mine.gguf")
    process.cli("import", str(original), "mine:latest")
    manifest = ModelStore(process.home / "models").read_manifest(parse_name("mine:latest"))
    layer = manifest.layer("model")
    assert layer is not None
    blob = _blob(process.home, layer.digest)
    with original.open("r+b") as handle:  # an in-place edit, as an editor or a converter does
        handle.seek(-16, os.SEEK_END)
        handle.write(b"\xff" * 16)
    assert _digest(original) != layer.digest
    assert _digest(blob) == layer.digest
    assert blob.stat().st_nlink == 1


def test_left_overs_go_at_start_and_a_resumable_pull_resumes(
    tmp_path: Path, make_hearth: HearthFactory, registry: RegistryServer
) -> None:
    """kill -9 mid-pull and mid-upload; restart: left-overs are gone, the pull resumes.

    Left-overs: the upload's temporary file, a failed pull's partial and
    part record (planted: what a pull that ended in an error leaves), and
    an uploaded blob no model uses (aged past the grace with ``os.utime``).
    Kept: the resumable pull's partial (it resumes, fetching less than the
    whole blob again) and the blobs of a stored model.
    """
    big = os.urandom(24 * 2**20)
    model = write_tiny_gguf(tmp_path / "r.gguf", seed=5)
    push_model(registry.url, "resume/me", "v1", [("model", model), ("adapter", big)], CONFIG)
    push_model(registry.url, "resume/kept", "v1", [("model", model)], CONFIG)
    relay = CountingRelay(registry.port)
    resumable = f"127.0.0.1:{relay.port}/resume/me:v1"
    kept = f"127.0.0.1:{relay.port}/resume/kept:v1"
    # HEARTH_PULL_MAX_BPS: a named stand-in for a slow network.
    first = make_hearth(env={"HEARTH_PULL_MAX_BPS": "4e6"}, llama_server=NO_LLAMA_SERVER)
    home = first.home
    blobs = home / "models" / "blobs"
    url = first.ollama_url
    assert pull(first, kept)["status"] == "success"
    unused = b"an upload that no create used"
    assert requests.post(f"{url}/api/blobs/{_digest(unused)}", data=unused, timeout=30).ok
    old = time.time() - 2 * 3600
    os.utime(_blob(home, _digest(unused)), (old, old))

    stall = threading.Event()

    def stalled_body() -> Iterator[bytes]:
        yield b"x" * 2**20
        stall.wait(60)

    upload = threading.Thread(
        target=lambda: _quietly(
            requests.post, f"{url}/api/blobs/sha256:{'1' * 64}", data=stalled_body(), timeout=60
        ),
        daemon=True,
    )
    upload.start()
    wait_until(lambda: bool(list(blobs.glob("upload-*-tmp"))), "an upload in flight", timeout=30)
    BackgroundPull(first, resumable)
    wait_until(
        lambda: saved_progress(_store(home), _digest(big), len(big)) > 4 * 2**20,
        "4 MiB of the pull saved",
        timeout=60,
    )
    refused = "sha256-" + "2" * 64 + "-partial"
    (blobs / refused).write_bytes(b"\0" * 1000)
    (blobs / (refused + "-0")).write_text('{"N":0,"Offset":0,"Size":1000,"Completed":10}')
    assert first.process is not None
    first.process.kill()
    first.process.wait()
    stall.set()
    served_before = relay.bytes_down
    assert list(blobs.glob("upload-*-tmp"))
    assert json.loads((home / "pulls.json").read_text())[parse_name(resumable).canonical]

    second = make_hearth(home=home, llama_server=NO_LLAMA_SERVER)
    assert not list(blobs.glob("upload-*-tmp"))
    assert not list(blobs.glob(refused + "*"))
    assert not _blob(home, _digest(unused)).exists()
    assert "Resuming the pull of" in "".join(second.output)
    wait_until(lambda: resumable in _tags(second), "the resumed pull done", timeout=120)
    assert requests.post(f"{second.ollama_url}/api/show", json={"model": kept}, timeout=30).ok
    refetched = relay.bytes_down - served_before
    assert refetched < len(big), f"the pull started over ({refetched} B fetched again)"
    assert not list(blobs.glob("*-partial*"))


def _store(home: Path) -> ModelStore:
    return ModelStore(home / "models")


def _tags(process: HearthProcess) -> list[str]:
    reply = requests.get(f"{process.ollama_url}/api/tags", timeout=10)
    return [m["name"] for m in reply.json()["models"]]


def _quietly(call: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(requests.RequestException):  # the server is killed under it
        call(*args, **kwargs)


def test_prune_leftovers_spares_live_writers_and_unknown_pulls(tmp_path: Path) -> None:
    """A temp file whose writer still holds its lock stays; with pulls of unknown blobs
    (``keep=None``, an older ``pulls.json``) no partial or unused blob is touched."""
    import fcntl

    store = ModelStore(tmp_path / "models")
    live = store.temp_path()
    dead = store.temp_path()
    dead.write_bytes(b"killed")
    partial = store.blobs / ("sha256-" + "3" * 64 + "-partial")
    partial.write_bytes(b"\0" * 10)
    unused = store.write_blob([b"unused"])
    old = time.time() - 2 * 3600
    os.utime(store.blob_path(unused), (old, old))
    with live.open("xb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        removed = store.prune_leftovers(None)
    assert live.exists() and not dead.exists() and removed == [f"blobs/{dead.name}"]
    assert partial.exists() and store.has_blob(unused)
    store.prune_leftovers(set(), prune_unused=False)
    assert not partial.exists() and store.has_blob(unused)
    store.prune_leftovers({"sha256:not-a-digest"})
    assert not store.has_blob(unused) and not live.exists()
