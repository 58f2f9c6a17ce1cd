"""Pulling models from a real registry (Debian's ``docker-registry``) into the store.

Everything on the happy path, resume and failure paths goes through a real
registry process: models are pushed with its upload API, its storage is
corrupted on disk, it is stopped mid-pull. Only the attacks a registry would
never produce are served by ``hostile_stub_registry``, a small Flask app.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request

from app.models.download import PullStats, PullTuning, load_parts, partial_path
from app.models.errors import BadManifest, HearthError
from app.models.names import parse_name
from app.models.pull import pull_model
from app.models.pull_errors import (
    BlobDigestMismatch,
    BlobSizeMismatch,
    DiskFull,
    DownloadFailed,
    InsecureProtocol,
    ManifestNotFound,
    NotEnoughSpace,
    PullCancelled,
    Unauthorized,
    UnsafeRedirect,
)
from app.models.pulls import ActivePull, PullRegistry
from app.models.store import ModelStore
from tests.model_helpers import direct_io_works
from tests.registry import RegistryServer, push_model
from tests.relay import CountingRelay
from tests.stub_registry import (
    Stub,
    bearer_challenge,
    digest_of,
    manifest_for,
    manifest_response,
    model_layer,
    serve_blob,
)
from tests.threads import run_at_once

REPO = Path(__file__).resolve().parent.parent
KIB = 1024
MIB = 1024 * KIB
PART = 512 * KIB
FAST = PullTuning(min_part_size=PART, max_part_size=PART, backoff_base=0.05, stall_timeout=5)
TEMPLATE = b"{{ .System }} {{ .Prompt }}"
PARAMS = b'{"stop": ["<end_of_turn>"], "temperature": 0.7}'
CONFIG = {"model_format": "gguf", "model_family": "gemma3", "file_type": "Q4_K_M"}


def slow(rate: float, **changes: Any) -> PullTuning:
    return PullTuning(
        min_part_size=PART,
        max_part_size=PART,
        backoff_base=0.05,
        stall_timeout=5,
        max_bytes_per_second=rate,
        checkpoint_interval=0.05,
        **changes,
    )


def push_random(server: RegistryServer, repo: str, size: int = 4 * MIB, tag: str = "latest"):
    model = os.urandom(size)
    pushed = push_model(
        server.url,
        repo,
        tag,
        [("model", model), ("template", TEMPLATE), ("params", PARAMS)],
        CONFIG,
    )
    return pushed, model


def store_files(store: ModelStore) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def assert_nothing_visible(store: ModelStore) -> None:
    """No manifest and no blob: a failed pull must not show up in the store."""
    assert store.list_manifests() == []
    assert not any(store.manifests.rglob("*")), store_files(store)
    assert [p.name for p in store.blobs.iterdir() if "-partial" not in p.name] == []


# -- the happy path ------------------------------------------------------------------


def test_pull_reports_ollama_progress_and_stores_exact_manifest(registry, store):
    pushed, model = push_random(registry, "hearth/random")
    name = parse_name(f"{registry.host}/hearth/random")
    stats = PullStats()
    lines = list(pull_model(store, name, parts=4, tuning=FAST, stats=stats))

    assert lines[0] == {"status": "pulling manifest"}
    assert lines[-3:] == [
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]
    order = [layer["digest"] for layer in pushed.layers] + [pushed.config_digest]
    seen: list[str] = []
    for line in lines[1:-3]:
        assert set(line) <= {"status", "digest", "total", "completed"}
        assert line["status"] == f"pulling {line['digest'][7:19]}"
        assert line.get("completed", 1) > 0, "completed is omitted while 0"
        if not seen or seen[-1] != line["digest"]:
            seen.append(line["digest"])
    assert seen == order, "layers in manifest order, config last, one at a time"
    finals = {line["digest"]: line for line in lines[1:-3]}
    for layer in pushed.layers:
        assert finals[layer["digest"]]["completed"] == finals[layer["digest"]]["total"]

    manifest = store.read_manifest(name)
    assert manifest.raw == pushed.manifest
    assert "sha256:" + manifest.digest == pushed.digest
    model_layer = manifest.layer("model")
    assert model_layer is not None
    assert store.blob_path(model_layer.digest).read_bytes() == model
    assert store.read_blob_bytes(manifest.layer("template").digest) == TEMPLATE
    assert all("-partial" not in f for f in store_files(store))
    assert stats.bytes_downloaded == len(model) + len(TEMPLATE) + len(PARAMS) + pushed_config_size(
        pushed
    )
    if direct_io_works(store.root):
        # One connection at first, hashed from memory as it lands: written past the page cache.
        assert stats.bytes_written_uncached >= len(model) // 2

    again = PullStats()
    lines = list(pull_model(store, name, parts=4, tuning=FAST, stats=again))
    assert again.bytes_downloaded == 0 and again.blobs_present == 4
    assert lines[-1] == {"status": "success"}


def pushed_config_size(pushed) -> int:
    return json.loads(pushed.manifest)["config"]["size"]


def test_a_filesystem_refusing_uncached_writes_still_gets_the_exact_blob(
    registry, store, monkeypatch
):
    """Stand-in: every ``O_DIRECT`` write answers EINVAL, as on a filesystem without it."""
    import errno

    from app.models import blob_file

    refused: list[int] = []

    def refusing_pwrite(fd: int, data: memoryview, offset: int) -> int:
        refused.append(offset)
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(blob_file.os, "pwrite", refusing_pwrite)
    pushed, model = push_random(registry, "hearth/cachedonly", size=3 * MIB + 123)
    stats = PullStats()
    name = parse_name(f"{registry.host}/hearth/cachedonly")
    assert list(pull_model(store, name, parts=4, tuning=FAST, stats=stats))[-1] == {
        "status": "success"
    }
    assert stats.bytes_written_uncached == 0
    if direct_io_works(store.root):
        assert refused, "uncached writes were tried, and each part thread fell back"
    assert store.blob_path(pushed.layers[0]["digest"]).read_bytes() == model


def test_pull_real_gemma_gguf(registry, store, gemma_gguf_path: Path):
    pushed = push_model(
        registry.url,
        "library/gemma3",
        "270m",
        [("model", gemma_gguf_path), ("params", PARAMS)],
        CONFIG,
    )
    name = parse_name(f"{registry.host}/library/gemma3:270m")
    lines = list(pull_model(store, name, tuning=PullTuning(min_part_size=16 * MIB)))
    assert lines[-1] == {"status": "success"}
    manifest = store.read_manifest(name)
    assert manifest.raw == pushed.manifest
    layer = manifest.layer("model")
    assert layer is not None and layer.size == gemma_gguf_path.stat().st_size
    want = hashlib.sha256(gemma_gguf_path.read_bytes()).hexdigest()
    assert layer.digest == f"sha256:{want}"
    blob = store.blob_path(layer.digest)
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == want


def test_manifest_not_found_has_ollamas_message(registry, store):
    with pytest.raises(ManifestNotFound, match="pull model manifest: file does not exist"):
        list(pull_model(store, parse_name(f"{registry.host}/nobody/nothing:x")))
    assert_nothing_visible(store)


def test_http_scheme_needs_insecure(registry, store):
    name = parse_name(f"http://{registry.host}/hearth/random")
    with pytest.raises(InsecureProtocol, match="insecure protocol http"):
        list(pull_model(store, name))


# -- resume --------------------------------------------------------------------------


def total_saved(store: ModelStore, digest: str, size: int) -> int:
    parts = load_parts(partial_path(store, digest), size)
    return sum(part.completed for part in parts) if parts else 0


def test_cancelled_pull_resumes_without_refetching(registry, store):
    pushed, model = push_random(registry, "hearth/cancel", size=4 * MIB)
    name = parse_name(f"{registry.host}/hearth/cancel")
    digest = pushed.layers[0]["digest"]
    cancel = threading.Event()
    first = PullStats()
    with pytest.raises(PullCancelled):
        for line in pull_model(
            store, name, cancel=cancel, parts=4, tuning=slow(4 * MIB), stats=first
        ):
            if line.get("digest") == digest and line.get("completed", 0) >= len(model) // 2:
                cancel.set()
    assert_nothing_visible(store)
    saved = total_saved(store, digest, len(model))
    assert len(model) // 2 <= saved < len(model)
    assert saved == first.bytes_downloaded, "every byte received was recorded before exit"

    second = PullStats()
    assert list(pull_model(store, name, parts=4, tuning=FAST, stats=second))[-1]["status"] == (
        "success"
    )
    small = len(TEMPLATE) + len(PARAMS) + pushed_config_size(pushed)
    assert second.bytes_downloaded == len(model) - saved + small
    assert second.parts_resumed >= 1
    assert store.blob_path(digest).read_bytes() == model


KILLED_PULL = """
import json, sys
from pathlib import Path
from app.models.download import PullStats, PullTuning
from app.models.names import parse_name
from app.models.pull import pull_model
from app.models.store import ModelStore
stats = PullStats()
tuning = PullTuning(min_part_size={part}, max_part_size={part}, max_bytes_per_second={rate},
                    checkpoint_interval=0.25)
for line in pull_model(ModelStore(Path(sys.argv[1])), parse_name(sys.argv[2]), parts=4,
                       tuning=tuning, stats=stats):
    print(json.dumps({{"completed": line.get("completed", 0), "got": stats.bytes_downloaded}}),
          flush=True)
"""


def test_killed_pull_resumes_refetching_less_than_a_part_per_part(registry, store):
    """SIGKILL half-way, then resume: the registry serves at most one part's worth twice.

    The bytes are counted where they leave the registry (a relay in front of
    it), not by the client, so data received but never recorded counts too.
    """
    # Parts large against what sits in socket buffers when the process dies (a few
    # MiB a connection on loopback: the relay's send buffer and the client's
    # receive buffer, sent but never read), as real parts (100 MB and up) are.
    size = 128 * MIB
    part = 32 * MIB
    pushed, model = push_random(registry, "hearth/killed", size=size)
    relay = CountingRelay(registry.port)
    name = f"127.0.0.1:{relay.port}/hearth/killed"
    digest = pushed.layers[0]["digest"]
    script = KILLED_PULL.format(part=part, rate=16 * MIB)
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(store.root), name],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    for raw in worker.stdout:
        if json.loads(raw)["completed"] >= size // 2:
            worker.send_signal(signal.SIGKILL)
            break
    worker.wait(10)
    assert worker.returncode == -signal.SIGKILL
    assert_nothing_visible(store)
    saved = total_saved(store, digest, size)
    assert 0 < saved < size

    second = PullStats()
    lines = list(pull_model(store, parse_name(name), parts=4, tuning=FAST, stats=second))
    assert lines[-1] == {"status": "success"}
    small = len(TEMPLATE) + len(PARAMS) + pushed_config_size(pushed)
    assert second.bytes_downloaded - small == size - saved  # the rest, and only the rest
    # Two pulls' manifests, small layers and HTTP headers: a few KiB above the blob.
    overhead = 2 * small + 64 * KIB
    refetched = relay.bytes_down - size - overhead
    assert refetched <= part, f"{refetched} B served twice, more than one part ({part} B)"
    print(f"\nkilled with {saved} B saved; registry served {relay.bytes_down} B in all")


def test_registry_stopped_mid_pull_then_resumes(fresh_registry, store):
    size = 6 * MIB
    pushed, model = push_random(fresh_registry, "hearth/outage", size=size)
    name = parse_name(f"{fresh_registry.host}/hearth/outage")
    digest = pushed.layers[0]["digest"]
    first = PullStats()
    with pytest.raises(DownloadFailed, match="max retries exceeded"):
        for line in pull_model(
            store, name, parts=3, tuning=slow(3 * MIB, max_attempts=2), stats=first
        ):
            halfway = line.get("digest") == digest and line.get("completed", 0) >= size // 3
            if halfway and fresh_registry.process is not None:
                fresh_registry.stop()
    assert_nothing_visible(store)
    saved = total_saved(store, digest, size)
    assert saved == first.bytes_downloaded and 0 < saved < size

    fresh_registry.start()
    second = PullStats()
    assert list(pull_model(store, name, parts=3, tuning=FAST, stats=second))[-1] == {
        "status": "success"
    }
    small = len(TEMPLATE) + len(PARAMS) + pushed_config_size(pushed)
    assert second.bytes_downloaded == size - saved + small
    assert store.blob_path(digest).read_bytes() == model


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_blob_altered_in_registry_storage_is_refused(registry, store, damage):
    pushed, model = push_random(registry, f"hearth/altered-{damage}", size=2 * MIB)
    digest = pushed.layers[0]["digest"]
    data_file = registry.blob_data_path(digest)
    with data_file.open("r+b") as handle:
        if damage == "flip":
            handle.seek(len(model) // 2)
            handle.write(bytes([model[len(model) // 2] ^ 0xFF]))
        else:
            handle.truncate(len(model) - 1000)
    name = parse_name(f"{registry.host}/hearth/altered-{damage}")
    expected = BlobDigestMismatch if damage == "flip" else BlobSizeMismatch
    with pytest.raises(expected, match=digest):
        list(pull_model(store, name, parts=4, tuning=FAST))
    assert_nothing_visible(store)
    assert not any(store.blobs.iterdir()), "the bad blob's partial data is deleted too"


# -- PullRegistry ------------------------------------------------------------------------


def test_concurrent_pulls_of_one_model_share_one_download(registry, store):
    pushed, model = push_random(registry, "hearth/shared", size=3 * MIB)
    name = parse_name(f"{registry.host}/hearth/shared")
    pulls = PullRegistry(store, parts=3, tuning=slow(3 * MIB))
    results: dict[str, list[dict[str, Any]]] = {}
    ended: list[tuple[str, bool, BaseException | None]] = []
    all_told = threading.Event()

    def on_finish(key: str) -> Callable[[ActivePull], None]:
        def hook(active: ActivePull) -> None:
            ended.append((key, active.finished, active.error))
            if len(ended) == 3:
                all_told.set()

        return hook

    def watch(key: str) -> None:
        results[key] = list(pulls.pull(name, on_finish=on_finish(key)))

    first = threading.Thread(target=watch, args=("first",))
    first.start()
    deadline = time.monotonic() + 5
    while not pulls.list() and time.monotonic() < deadline:
        time.sleep(0.01)
    (summary,) = pulls.list()
    assert summary["model"] == name.display
    active = pulls.get(name)
    assert pulls.start(name, on_finish=on_finish("joined")) is active, "a second request joins"
    second = threading.Thread(target=watch, args=("second",))
    second.start()
    first.join(30)
    second.join(30)
    assert results["first"][-1] == {"status": "success"}
    assert results["second"][-1] == {"status": "success"}
    assert len(results["second"]) >= 2
    assert active is not None
    small = len(TEMPLATE) + len(PARAMS) + pushed_config_size(pushed)
    assert active.stats.bytes_downloaded == len(model) + small, "downloaded once"
    assert all_told.wait(30), "the pull's thread tells every hook once the pull has ended"
    assert ended == [("first", True, None), ("joined", True, None), ("second", True, None)]
    assert pulls.list() == []
    assert store.read_manifest(name).raw == pushed.manifest


def test_two_models_sharing_a_blob_download_it_once(registry, store):
    model = os.urandom(3 * MIB)
    for repo in ("hearth/twin-a", "hearth/twin-b"):
        push_model(registry.url, repo, "latest", [("model", model), ("system", repo.encode())], {})
    stats = {"a": PullStats(), "b": PullStats()}
    errors: list[BaseException] = []

    def run(key: str) -> None:
        try:
            name = parse_name(f"{registry.host}/hearth/twin-{key}")
            list(pull_model(store, name, parts=3, tuning=slow(6 * MIB), stats=stats[key]))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    run_at_once(run, stats, timeout=30)
    assert errors == []
    # The model and the "{}" config are shared and fetched once; the system layers differ.
    downloaded = sum(s.bytes_downloaded for s in stats.values())
    assert downloaded == len(model) + 2 * len(b"hearth/twin-a") + len(b"{}")


def test_pull_registry_cancel_keeps_parts_for_resume(registry, store):
    pushed, model = push_random(registry, "hearth/cancelled", size=4 * MIB)
    name = parse_name(f"{registry.host}/hearth/cancelled")
    pulls = PullRegistry(store, parts=4, tuning=slow(2 * MIB))
    told: list[BaseException | None] = []
    after_failing_hook = threading.Event()

    def failing_hook(active: ActivePull) -> None:
        raise RuntimeError("a broken hook")

    def hook(active: ActivePull) -> None:
        told.append(active.error)
        after_failing_hook.set()

    stream = pulls.pull(name, on_finish=failing_hook)
    pulls.start(name, on_finish=hook)
    with pytest.raises(PullCancelled):
        for line in stream:
            if line.get("completed", 0) > MIB:
                assert pulls.cancel(name)
    assert after_failing_hook.wait(30), "a failing hook does not keep the next from running"
    assert len(told) == 1 and isinstance(told[0], PullCancelled)
    assert pulls.list() == []
    assert pulls.cancel(name) is False
    assert_nothing_visible(store)
    assert total_saved(store, pushed.layers[0]["digest"], len(model)) > MIB


# -- hostile registries (a stub: a real registry would never send these) ----------------


GOOD = b"GGUF" + b"\0" * 4096
BAD = b"GGUF" + b"\1" * 4096
HEX = hashlib.sha256(GOOD).hexdigest()


HOSTILE_MANIFESTS = {
    "path traversal": model_layer("sha256:../../x", 10),
    "dash form": model_layer(f"sha256-{HEX}", len(GOOD)),
    "upper case": model_layer(f"sha256:{HEX.upper()}", len(GOOD)),
    "short digest": model_layer(f"sha256:{HEX[:63]}", len(GOOD)),
    "long digest": model_layer(f"sha256:{HEX}0", len(GOOD)),
    "other algorithm": model_layer(f"sha512:{HEX}", len(GOOD)),
    "negative size": model_layer(f"sha256:{HEX}", -1),
    "absurd size": model_layer(f"sha256:{HEX}", 2**60),
    "string size": model_layer(f"sha256:{HEX}", "4100"),
}


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


@pytest.mark.parametrize("case", sorted(HOSTILE_MANIFESTS))
def test_hostile_manifest_layers_are_refused(hostile_stub_registry, store, tmp_path, case):
    body = manifest_for([HOSTILE_MANIFESTS[case]])
    host = hostile_stub_registry(
        {"manifest": manifest_response(body), "blob": lambda: serve_blob(GOOD)}
    )
    before = files_under(tmp_path)
    with pytest.raises(BadManifest, match="invalid"):
        list(pull_model(store, parse_name(f"{host}/evil/model")))
    assert files_under(tmp_path) == before, "nothing written anywhere"


@pytest.mark.parametrize(
    ("declared_size", "served", "error", "message"),
    [
        (len(GOOD) - 100, GOOD, BlobSizeMismatch, "size mismatch"),
        (len(GOOD), BAD, BlobDigestMismatch, "digest mismatch, file must be downloaded again"),
    ],
    ids=["declared_size_mismatch", "content_not_matching_digest"],
)
def test_hostile_blob_is_refused_and_nothing_kept(
    hostile_stub_registry, store, declared_size, served, error, message
):
    body = manifest_for([model_layer(digest_of(GOOD), declared_size)])
    host = hostile_stub_registry(
        {"manifest": manifest_response(body), "blob": lambda: serve_blob(served)}
    )
    with pytest.raises(error, match=message):
        list(pull_model(store, parse_name(f"{host}/evil/model"), tuning=FAST))
    assert_nothing_visible(store)
    assert not any(store.blobs.iterdir())


@pytest.mark.parametrize("chunked", [False, True])
def test_hostile_oversized_manifest(hostile_stub_registry, store, chunked):
    padding = b" " * (5 * MIB)
    body = manifest_for([model_layer(digest_of(GOOD), len(GOOD))])[:-1] + padding + b"}"

    def view() -> Response:
        if chunked:
            return Response(iter([body[i : i + MIB] for i in range(0, len(body), MIB)]))
        return Response(body)

    host = hostile_stub_registry({"manifest": view})
    with pytest.raises(BadManifest, match="too large"):
        list(pull_model(store, parse_name(f"{host}/evil/model")))
    assert_nothing_visible(store)


def test_hostile_too_many_layers(hostile_stub_registry, store):
    body = manifest_for([model_layer(digest_of(GOOD), len(GOOD))] * 1001)
    host = hostile_stub_registry({"manifest": manifest_response(body)})
    with pytest.raises(BadManifest):
        list(pull_model(store, parse_name(f"{host}/evil/model")))
    assert_nothing_visible(store)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x"])
def test_hostile_redirect_to_other_scheme(hostile_stub_registry, store, target):
    body = manifest_for([model_layer(digest_of(GOOD), len(GOOD))])
    redirect = lambda: Response(status=307, headers={"Location": target})  # noqa: E731
    host = hostile_stub_registry({"manifest": manifest_response(body), "blob": redirect})
    with pytest.raises(UnsafeRedirect, match="refused"):
        list(pull_model(store, parse_name(f"{host}/evil/model"), tuning=FAST))
    assert_nothing_visible(store)


def test_token_auth_and_no_credentials_to_cdn(store):
    """Bearer challenge → token → retry; the CDN host the blob redirects to gets no token."""
    token = "secret-token-123"
    config = b"{}"
    body = manifest_for([model_layer(digest_of(GOOD), len(GOOD))], config)
    seen_by_cdn: list[str | None] = []
    token_requests: list[dict[str, str]] = []

    cdn = Flask("cdn")

    @cdn.get("/data/<digest>")
    def cdn_blob(digest: str) -> Response:
        seen_by_cdn.append(request.headers.get("Authorization"))
        return serve_blob(GOOD if digest == digest_of(GOOD) else config)

    cdn_server = Stub(cdn)
    app = Flask("registry_with_auth")

    def authorized() -> bool:
        return request.headers.get("Authorization") == f"Bearer {token}"

    def challenge() -> Response:
        realm = f"http://127.0.0.1:{stub.port}/token"
        return bearer_challenge(realm, service="stub", scope="repository:evil/model:pull")

    @app.get("/token")
    def issue() -> Response:
        token_requests.append(dict(request.args))
        return Response(json.dumps({"token": token}), content_type="application/json")

    @app.get("/v2/evil/model/manifests/latest")
    def manifest() -> Response:
        return manifest_response(body)() if authorized() else challenge()

    @app.get("/v2/evil/model/blobs/<digest>")
    def blob(digest: str) -> Response:
        if not authorized():
            return challenge()
        # "localhost" is another host name than "127.0.0.1": credentials must not follow.
        location = f"http://localhost:{cdn_server.port}/data/{digest}"
        return Response(status=307, headers={"Location": location})

    stub = Stub(app)
    try:
        name = parse_name(f"127.0.0.1:{stub.port}/evil/model")
        assert list(pull_model(store, name, tuning=FAST))[-1] == {"status": "success"}
    finally:
        stub.close()
        cdn_server.close()
    assert token_requests and token_requests[0]["service"] == "stub"
    assert token_requests[0]["scope"] == "repository:evil/model:pull"
    assert seen_by_cdn and all(header is None for header in seen_by_cdn)
    assert store.read_manifest(name).raw == body


def test_token_realm_on_another_host_is_refused(hostile_stub_registry, store):
    def challenge() -> Response:
        return bearer_challenge("http://localhost:1/token", service="x")

    host = hostile_stub_registry({"manifest": challenge})
    with pytest.raises(Unauthorized, match="not on the registry host"):
        list(pull_model(store, parse_name(f"{host}/evil/model")))
    assert_nothing_visible(store)


def test_errors_are_hearth_errors():
    for error in (ManifestNotFound, PullCancelled, InsecureProtocol):
        assert issubclass(error, HearthError)


def test_not_enough_disk_space_is_checked_before_downloading(hostile_stub_registry, store):
    body = manifest_for([model_layer(digest_of(GOOD), 2**43)])
    host = hostile_stub_registry({"manifest": manifest_response(body)})
    with pytest.raises(NotEnoughSpace, match="not enough disk space"):
        list(pull_model(store, parse_name(f"{host}/big/model")))
    assert_nothing_visible(store)
    assert not any(store.blobs.iterdir())


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 80 MiB tmpfs, to run out of space for real (needs root, as in CI's container)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up: {result.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_mid_pull_is_clear_and_resumable(registry, small_disk):
    size = 6 * MIB
    pushed, model = push_random(registry, "hearth/diskfull", size=size)
    name = parse_name(f"{registry.host}/hearth/diskfull")
    store = ModelStore(small_disk / "models")
    filler = small_disk / "filler"
    with pytest.raises(DiskFull, match="no space left on device"):
        for line in pull_model(store, name, parts=3, tuning=slow(6 * MIB)):
            if line.get("completed", 0) >= size // 3 and not filler.exists():
                with filler.open("wb") as handle, contextlib.suppress(OSError):
                    while True:
                        handle.write(b"\0" * MIB)
    assert_nothing_visible(store)
    filler.unlink()
    assert list(pull_model(store, name, parts=3, tuning=FAST))[-1] == {"status": "success"}
    assert store.read_manifest(name).raw == pushed.manifest
    assert store.blob_path(pushed.layers[0]["digest"]).read_bytes() == model


def test_stalled_part_is_retried_from_where_it_stopped(hostile_stub_registry, store):
    """The first blob response sends half the data, then hangs: the part restarts there."""
    data = os.urandom(256 * KIB)
    body = manifest_for([model_layer(digest_of(data), len(data))])
    requests_seen: list[str] = []

    def blob() -> Response:
        requests_seen.append(request.headers.get("Range", ""))
        if len(requests_seen) > 1 or request.path.endswith(digest_of(b"{}")):
            return serve_blob(data if digest_of(data) in request.path else b"{}")

        def hang() -> Iterator[bytes]:
            yield data[: len(data) // 2]
            time.sleep(3)
            yield data[len(data) // 2 :]

        headers = {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}
        return Response(hang(), status=206, headers=headers)

    host = hostile_stub_registry({"manifest": manifest_response(body), "blob": blob})
    stats = PullStats()
    tuning = PullTuning(min_part_size=MIB, stall_timeout=0.5, backoff_base=0.05)
    lines = list(pull_model(store, parse_name(f"{host}/slow/model"), tuning=tuning, stats=stats))
    assert lines[-1] == {"status": "success"}
    assert stats.failed_attempts >= 1
    assert requests_seen[1] == f"bytes={len(data) // 2}-{len(data) - 1}"
    assert stats.bytes_downloaded == len(data) + 2
    assert store.blob_path(digest_of(data)).read_bytes() == data


def test_repull_of_a_changed_tag_removes_unused_layers(registry, store):
    old, old_model = push_random(registry, "hearth/moving", size=MIB)
    name = parse_name(f"{registry.host}/hearth/moving")
    list(pull_model(store, name, tuning=FAST))
    new, new_model = push_random(registry, "hearth/moving", size=MIB)
    lines = list(pull_model(store, name, tuning=FAST))
    assert lines[-2:] == [{"status": "removing unused layers"}, {"status": "success"}]
    assert not store.has_blob(old.layers[0]["digest"])
    assert store.has_blob(new.layers[0]["digest"])
    assert store.read_manifest(name).raw == new.manifest


def test_slow_connections_make_the_pull_open_more(registry, store):
    """Where each connection is slow (a far-away CDN, faked by a throttling relay), the
    pull doubles its connections while that raises throughput; the blob is intact."""
    pushed, model = push_random(registry, "hearth/slowlinks", size=24 * MIB)
    relay = CountingRelay(registry.port, per_connection_rate=4 * MIB)
    name = parse_name(f"127.0.0.1:{relay.port}/hearth/slowlinks")
    tuning = PullTuning(min_part_size=MIB, max_part_size=MIB, max_parts=8, backoff_base=0.05)
    assert list(pull_model(store, name, parts=8, tuning=tuning))[-1] == {"status": "success"}
    assert store.blob_path(pushed.layers[0]["digest"]).read_bytes() == model
    assert relay.most_open_connections >= 4, relay.most_open_connections


def test_a_link_that_more_connections_do_not_speed_up_keeps_few(registry, store):
    """A capped link (the pull's own bandwidth cap): one doubling is tried, no more.

    Parts of a second each at the cap, so the pause between one part's request
    and the next (which two connections hide) stays far below the 15 % a
    doubling must gain.
    """
    pushed, model = push_random(registry, "hearth/capped", size=16 * MIB)
    relay = CountingRelay(registry.port)
    name = parse_name(f"127.0.0.1:{relay.port}/hearth/capped")
    tuning = PullTuning(
        min_part_size=4 * MIB, max_part_size=4 * MIB, max_parts=8, max_bytes_per_second=4 * MIB
    )
    assert list(pull_model(store, name, parts=8, tuning=tuning))[-1] == {"status": "success"}
    assert store.blob_path(pushed.layers[0]["digest"]).read_bytes() == model
    # A second doubling would open 4. The relay counts a socket until its upstream
    # side closes, so one connection ending as the next opens can read as 3
    # (seen once under a full suite's load).
    assert relay.most_open_connections < 4, relay.most_open_connections
