"""Pull a model from an Ollama-style registry into the store, with Ollama's progress lines.

Order of work, chosen so the store is never inconsistent:

1. fetch and strictly parse the manifest (nothing touches disk before this);
2. check there is room for every missing blob;
3. download each missing blob (layers in manifest order, config last),
   verify its sha256 and size, and only then rename it to its digest name;
4. write the manifest last, with the exact bytes the registry sent.

So an interrupted or failed pull leaves at most verified, unreferenced blobs
and ``-partial`` files in ``blobs/`` (which the next pull resumes), and never
a manifest pointing at something missing or wrong.

The messages follow Ollama (spec §4): ``pulling manifest``, one ``pulling
<12 hex>`` line per layer about every 60 ms, ``verifying sha256 digest``,
``writing manifest``, optionally ``removing unused layers``, ``success``.
Each blob is actually verified right after its own download (so a bad blob
is caught before the next one is fetched); the ``verifying`` line keeps
Ollama's sequence for clients that display it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import requests

from app.models.download import (
    BlobDownload,
    PullStats,
    PullTuning,
    RateLimiter,
    claim,
    saved_progress,
)
from app.models.errors import BadManifest, ModelNotFound
from app.models.names import ModelName
from app.models.pull_errors import (
    BlobSizeMismatch,
    NotEnoughSpace,
    PullCancelled,
    UnsupportedModel,
)
from app.models.registry import RegistryClient
from app.models.show import check_landed_blob
from app.models.store import Layer, Manifest, ModelStore, parse_manifest

log = logging.getLogger(__name__)
GGUF_KINDS = {"model", "projector", "adapter"}

DEFAULT_PARTS = 16
_CANONICAL_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
UNSUPPORTED_KINDS = {"tensor", "json"}
SPACE_MARGIN = 64 * 2**20
"""Free space kept beyond the blobs themselves (manifest, records, the file system's own)."""


def pull_model(
    store: ModelStore,
    name: ModelName,
    *,
    insecure: bool = False,
    cancel: threading.Event | None = None,
    parts: int = DEFAULT_PARTS,
    tuning: PullTuning | None = None,
    stats: PullStats | None = None,
    session: requests.Session | None = None,
    on_manifest: Callable[[list[str]], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Pull ``name``; yields Ollama progress objects and raises ``HearthError`` on failure.

    ``on_manifest`` is told the digests of every blob the pull needs once
    the manifest is parsed (the manager records them, so the start-up prune
    keeps a resumable pull's partial files). Those blobs are held in the
    store until the manifest is written: deleting another model that shares
    one cannot prune it from under the pull.

    ``parts`` is how many ranged requests run at once for one blob (and how
    many parts a blob is split into, within the part-size bounds of
    ``tuning``). Closing the generator early stops the download; parts
    fetched so far stay on disk for the next pull to resume.
    """
    tuning = replace(tuning or PullTuning(), max_parts=max(1, parts))
    stats = stats if stats is not None else PullStats()
    cancel = cancel or threading.Event()
    client = RegistryClient(
        name,
        insecure=insecure,
        session=session,
        connect_timeout=tuning.connect_timeout,
        read_timeout=tuning.stall_timeout,
        deadline=tuning.exchange_deadline,
        cancel=cancel,
    )

    yield {"status": "pulling manifest"}
    raw = client.fetch_manifest()
    manifest = parse_manifest(raw, name)
    _check_canonical_digests(raw)
    _check_supported(manifest)
    blobs = _unique([*manifest.layers, manifest.config])
    if on_manifest is not None:
        on_manifest([layer.digest for layer in blobs])
    with store.hold(layer.digest for layer in blobs):
        yield from _pull_held(store, client, name, raw, manifest, blobs, tuning, stats, cancel)


def _pull_held(
    store: ModelStore,
    client: RegistryClient,
    name: ModelName,
    raw: bytes,
    manifest: Manifest,
    blobs: list[Layer],
    tuning: PullTuning,
    stats: PullStats,
    cancel: threading.Event,
) -> Iterator[dict[str, Any]]:
    """The pull from the size checks on, while its blobs are held against pruning."""
    _check_sizes_of_present(store, blobs)
    _check_free_space(store, blobs)

    previous = _previous_manifest(store, name)
    limiter = RateLimiter(tuning.max_bytes_per_second)
    for layer in blobs:
        yield from _pull_blob(store, client, layer, tuning, stats, limiter, cancel)

    yield {"status": "verifying sha256 digest"}
    if cancel.is_set():
        raise PullCancelled()
    for layer in manifest.layers:
        if layer.kind in GGUF_KINDS:
            # Read once as it lands: the result (a bad one too) is cached for /api/tags.
            problem = check_landed_blob(store, layer.digest)
            if problem:
                log.warning(
                    "pulled %s: its %s layer is not a usable GGUF: %s",
                    name.display,
                    layer.kind,
                    problem,
                )
    yield {"status": "writing manifest"}
    written = store.write_manifest(name, raw)  # checks every blob is there, with its size
    if previous is not None:
        unused = previous.digests() - written.digests()
        unused -= store.referenced_digests()
        if unused:
            yield {"status": "removing unused layers"}
            store.prune_blobs(unused)
    yield {"status": "success"}


def _progress(layer: Layer, completed: int) -> dict[str, Any]:
    line: dict[str, Any] = {
        "status": f"pulling {layer.digest[7:19]}",
        "digest": layer.digest,
        "total": layer.size,
    }
    if completed:
        line["completed"] = completed
    return line


def _pull_blob(
    store: ModelStore,
    client: RegistryClient,
    layer: Layer,
    tuning: PullTuning,
    stats: PullStats,
    limiter: RateLimiter,
    cancel: threading.Event,
) -> Iterator[dict[str, Any]]:
    """Progress lines for one blob until it is in the store (downloaded or already there)."""
    if store.has_blob(layer.digest):
        stats.add("blobs_present")
        yield _progress(layer, layer.size)
        return
    while True:

        def make() -> BlobDownload:
            return BlobDownload(
                store,
                client,
                layer.digest,
                layer.size,
                tuning=tuning,
                stats=stats,
                limiter=limiter,
                cancel=cancel,
            )

        download, owned = claim(make, store.blob_path(layer.digest))
        try:
            last = -1
            while not download.wait(tuning.progress_interval):
                if cancel.is_set() and not owned:
                    raise PullCancelled()
                completed = download.completed
                if completed != last:
                    yield _progress(layer, completed)
                    last = completed
        except GeneratorExit:
            if owned:
                download.abort()
            raise
        if owned and download.error is not None:
            raise download.error
        if store.has_blob(layer.digest):
            yield _progress(layer, layer.size)
            return
        if cancel.is_set():
            raise PullCancelled()
        # Someone else's download of this blob failed or was cancelled: take over,
        # resuming from the parts it saved.


def _unique(layers: list[Layer]) -> list[Layer]:
    seen: set[str] = set()
    unique = []
    for layer in layers:
        if layer.digest not in seen:
            seen.add(layer.digest)
            unique.append(layer)
    return unique


def _check_canonical_digests(raw: bytes) -> None:
    """Registry digests must be exactly ``sha256:<64 lowercase hex>``.

    The store's parser also accepts ``sha256-`` and upper case (forms that
    can appear on disk); from a remote manifest any such variant is a sign
    of tampering, and we keep the manifest bytes verbatim, so refuse it.
    """
    data = json.loads(raw)
    entries = [("config", data["config"])]
    entries += [(f"layer {index}", layer) for index, layer in enumerate(data["layers"])]
    for where, entry in entries:
        if not _CANONICAL_DIGEST.fullmatch(entry["digest"]):
            raise BadManifest(f"manifest {where} has an invalid digest")


def _check_supported(manifest: Manifest) -> None:
    kinds = {layer.kind for layer in manifest.layers}
    if kinds & UNSUPPORTED_KINDS:
        raise UnsupportedModel(
            "this model is in safetensors/MLX form (tensor layers); only GGUF models can be pulled"
        )


def _check_sizes_of_present(store: ModelStore, blobs: list[Layer]) -> None:
    """A stored blob is trusted by name, but a manifest lying about its size is refused."""
    for layer in blobs:
        path = store.blob_path(layer.digest)
        if path.is_file() and path.stat().st_size != layer.size:
            raise BlobSizeMismatch(layer.digest, layer.size, path.stat().st_size)


def _check_free_space(store: ModelStore, blobs: list[Layer]) -> None:
    need = 0
    for layer in blobs:
        if not store.has_blob(layer.digest):
            need += layer.size - saved_progress(store, layer.digest, layer.size)
    if need <= 0:
        return
    free = shutil.disk_usage(store.blobs).free
    if need + SPACE_MARGIN > free:
        raise NotEnoughSpace(need + SPACE_MARGIN, free, str(store.root))


def _previous_manifest(store: ModelStore, name: ModelName) -> Manifest | None:
    try:
        return store.read_manifest(name)
    except ModelNotFound:
        return None
    except Exception:  # noqa: BLE001 - an unreadable old manifest is simply replaced
        return None
