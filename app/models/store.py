"""The on-disk model store, in Ollama's layout so either program can read it.

    <models>/manifests/<host>/<namespace>/<model>/<tag>   manifest JSON (bytes as received)
    <models>/blobs/sha256-<hex>                          content-addressed blob

Writes are atomic: data goes to a temporary file inside the same directory
and is renamed into place only once complete (and, for blobs, only once its
sha256 matches), so a crash never leaves a half-written manifest or a blob
whose name lies about its content. A manifest is written only once every
blob it names is in place with its stated size, and blobs that a pull or
create in this process still needs are ``hold``-ed so no delete prunes them
in between. What a killed process leaves behind (temporary files, orphan
``-partial`` downloads, uploads no model uses) goes at the next start
(``prune_leftovers``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.models.digests import blob_filename, parse_digest
from app.models.errors import (
    BadManifest,
    BlobNotFound,
    DigestMismatch,
    InvalidDigest,
    ModelNotFound,
)
from app.models.names import ModelName, valid_parts

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 4 * 2**20
MAX_LAYERS = 1000
MAX_LAYER_SIZE = 2**44  # 16 TiB: anything larger is a lie
MEDIA_PREFIX = "application/vnd.ollama.image."
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
TEMP_SUFFIX = "-tmp"
PARTIAL_MARK = "-partial"
COPY_CHUNK = 4 * 2**20
_FICLONE = 0x40049409
"""Linux ``ioctl`` that shares a file's extents (btrfs, XFS, bcachefs): a copy in no time."""
UNUSED_BLOB_GRACE = 3600.0
"""Seconds an unreferenced blob is kept at start: an upload whose ``create`` is still to come."""
DEAD_TEMP_AGE = 3600.0
"""Where files cannot be locked (no ``fcntl``): a temporary file this old belongs to no one."""


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str
    size: int
    from_: str | None = None

    @property
    def kind(self) -> str:
        """``model``, ``template``, ... (the part after Ollama's media-type prefix)."""
        if self.media_type.startswith(MEDIA_PREFIX):
            return self.media_type[len(MEDIA_PREFIX) :]
        return self.media_type

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.from_:
            data["from"] = self.from_
        return data


@dataclass
class Manifest:
    name: ModelName
    raw: bytes
    digest: str
    config: Layer
    layers: list[Layer]
    modified_at: datetime
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def layer(self, kind: str) -> Layer | None:
        for layer in self.layers:
            if layer.kind == kind:
                return layer
        return None

    def layers_of(self, kind: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.kind == kind]

    @property
    def size(self) -> int:
        return self.config.size + sum(layer.size for layer in self.layers)

    def digests(self) -> set[str]:
        return {self.config.digest, *(layer.digest for layer in self.layers)}


def _layer(data: Any, where: str) -> Layer:
    if not isinstance(data, dict):
        raise BadManifest(f"manifest {where} is not an object")
    media_type = data.get("mediaType")
    size = data.get("size")
    if not isinstance(media_type, str) or len(media_type) > 200:
        raise BadManifest(f"manifest {where} has no valid mediaType")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_LAYER_SIZE:
        raise BadManifest(f"manifest {where} has an invalid size")
    try:
        digest = parse_digest(data.get("digest"))
    except Exception:
        raise BadManifest(f"manifest {where} has an invalid digest") from None
    source = data.get("from")
    return Layer(media_type, digest, size, source if isinstance(source, str) else None)


def parse_manifest(raw: bytes, name: ModelName, path: Path | None = None) -> Manifest:
    """Parse manifest bytes defensively: bounded size, valid digests and sizes."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BadManifest("manifest is too large")
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadManifest("manifest is not valid JSON") from None
    if not isinstance(data, dict) or data.get("schemaVersion") != 2:
        raise BadManifest("manifest is not a schema version 2 manifest")
    layers_data = data.get("layers")
    if not isinstance(layers_data, list) or len(layers_data) > MAX_LAYERS:
        raise BadManifest("manifest has no valid layer list")
    config = _layer(data.get("config"), "config")
    layers = [_layer(item, f"layer {index}") for index, item in enumerate(layers_data)]
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC) if path else datetime.now(UTC)
    return Manifest(
        name=name,
        raw=raw,
        digest=hashlib.sha256(raw).hexdigest(),
        config=config,
        layers=layers,
        modified_at=modified,
        path=path,
    )


def build_manifest(config: Layer, layers: list[Layer]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config.as_json(),
            "layers": [layer.as_json() for layer in layers],
        },
        separators=(",", ":"),
    ).encode()


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_bounded(path: Path, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger file is refused rather than slurped."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BadManifest(f"{path.name} is too large")
    return data


def _lock_held_elsewhere(path: Path) -> bool:
    """Whether another open handle (any process) holds ``path``'s advisory lock.

    Writers hold a lock on their temporary or partial file while they work,
    and the kernel drops it when a writer dies (even by ``kill -9``); so a
    file nobody holds is a left-over. Where locks do not exist, age decides.
    """
    if fcntl is None:
        try:
            return time.time() - path.stat().st_mtime < DEAD_TEMP_AGE
        except OSError:
            return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _lock_file(handle: Any) -> None:
    """Mark a temporary file as being written (see ``_lock_held_elsewhere``)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _clone(source: Any, target: Any) -> bool:
    """Reflink ``source`` into ``target`` where the file system can (Linux FICLONE)."""
    if fcntl is None or not hasattr(fcntl, "ioctl"):
        return False
    try:
        fcntl.ioctl(target.fileno(), _FICLONE, source.fileno())
        return True
    except OSError:
        return False


def _fsync_write(path: Path, chunks: Iterable[bytes]) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("xb") as handle:
        _lock_file(handle)
        for chunk in chunks:
            handle.write(chunk)
            sha.update(chunk)
            size += len(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return "sha256:" + sha.hexdigest(), size


class ModelStore:
    """Manifests and blobs under one models directory."""

    def __init__(self, models_dir: Path) -> None:
        self.root = models_dir
        self.blobs = models_dir / "blobs"
        self.manifests = models_dir / "manifests"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.manifests.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        """Orders pruning against holds and manifest writes (within this process)."""
        self._held: Counter[str] = Counter()

    # -- holds ---------------------------------------------------------
    @contextlib.contextmanager
    def hold(self, digests: Iterable[str]) -> Iterator[None]:
        """Keep ``digests`` from being pruned while a pull or create still needs them.

        Why: a pull that finds a blob already present (another model's) does
        not download it; deleting that other model before the pull writes its
        manifest would prune the blob, and the pull would publish a model
        with a hole in it.
        """
        wanted = set(digests)
        with self._lock:
            self._held.update(wanted)
        try:
            yield
        finally:
            with self._lock:
                self._held.subtract(wanted)
                for digest in wanted:
                    if self._held[digest] <= 0:
                        del self._held[digest]

    def held(self) -> set[str]:
        with self._lock:
            return set(self._held)

    # -- blobs ---------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        return self.blobs / blob_filename(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def temp_path(self, label: str = "upload") -> Path:
        """A scratch file in ``blobs/`` that can never look like a finished blob."""
        return self.blobs / f"{label}-{secrets.token_hex(8)}{TEMP_SUFFIX}"

    def write_blob(self, chunks: Iterable[bytes], expected_digest: str | None = None) -> str:
        """Stream data into the store; visible only once its digest checks out."""
        want = parse_digest(expected_digest) if expected_digest else None
        temp = self.temp_path()
        try:
            got, _size = _fsync_write(temp, chunks)
            if want is not None and got != want:
                raise DigestMismatch(want, got)
            os.replace(temp, self.blob_path(got))
            _fsync_dir(self.blobs)
            return got
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def import_file(self, path: Path) -> str:
        """Copy a local file into the store, hashing while copying; return its digest.

        A copy, never a hard link: a link would share the user's file, and
        editing that file afterwards would change the blob under its hash.
        Where the file system can reflink (FICLONE) the copy shares extents
        copy-on-write and only the hash reads the data; otherwise the file is
        read once, each chunk hashed and written. The digest is of the bytes
        stored, even if the source changes during the copy.
        """
        temp = self.temp_path("import")
        try:
            with path.open("rb") as source, temp.open("xb") as target:
                _lock_file(target)
                sha = hashlib.sha256()
                if _clone(source, target):
                    with temp.open("rb") as copy:
                        while chunk := copy.read(COPY_CHUNK):
                            sha.update(chunk)
                else:
                    while chunk := source.read(COPY_CHUNK):
                        sha.update(chunk)
                        target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            digest = "sha256:" + sha.hexdigest()
            final = self.blob_path(digest)
            if not final.exists():
                os.replace(temp, final)
                _fsync_dir(self.blobs)
            return digest
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def read_blob_bytes(self, digest: str, limit: int = 16 * 2**20) -> bytes:
        path = self.blob_path(digest)
        if not path.is_file():
            raise BlobNotFound(f'blob "{digest}" not found')
        try:
            return _read_bounded(path, limit)
        except BadManifest:
            raise BadManifest(f"blob {digest} is too large to read as text") from None

    def read_blob_text(self, digest: str) -> str:
        return self.read_blob_bytes(digest).decode("utf-8", "replace")

    def read_blob_json(self, digest: str) -> Any:
        try:
            return json.loads(self.read_blob_bytes(digest))
        except ValueError:
            raise BadManifest(f"blob {digest} is not valid JSON") from None

    # -- manifests -----------------------------------------------------
    def _manifest_path(self, name: ModelName) -> Path:
        return self.manifests.joinpath(*name.manifest_parts)

    def _resolve(self, name: ModelName) -> ModelName:
        """``name`` with each part spelt as an existing entry that matches ignoring case.

        Ollama does this per part, so ``Library/Gemma3`` finds (and a new tag
        lands next to) ``library/gemma3``. Listing each level, rather than
        testing ``exists()``, keeps the stored spelling on case-insensitive
        file systems too.
        """
        directory = self.manifests
        parts = []
        for part in name.manifest_parts:
            chosen = part
            try:
                entries = sorted(entry.name for entry in directory.iterdir())
            except OSError:
                entries = []
            if part not in entries:
                folded = part.lower()
                chosen = next(
                    (
                        entry
                        for entry in entries
                        if entry.lower() == folded and not entry.endswith(TEMP_SUFFIX)
                    ),
                    part,
                )
            parts.append(chosen)
            directory = directory / chosen
        host, namespace, model, tag = parts
        return ModelName(host, namespace, model, tag, name.scheme)

    def _find(self, name: ModelName) -> ModelName | None:
        """The stored spelling of ``name`` if a manifest exists for it."""
        stored = self._resolve(name)
        return stored if self._manifest_path(stored).is_file() else None

    def _stored_names(self) -> list[ModelName]:
        """Names of all manifest files exactly four levels down; junk files are ignored."""
        names = []
        for path in self.manifests.glob("*/*/*/*"):
            if not path.is_file() or path.name.endswith(TEMP_SUFFIX):
                continue
            parts = path.relative_to(self.manifests).parts
            if valid_parts(*parts):
                names.append(ModelName(*parts))
            else:
                log.debug("ignoring %s: not a valid model name", path)
        return names

    def read_manifest(self, name: ModelName) -> Manifest:
        stored = self._find(name)
        if stored is None:
            raise ModelNotFound(f"model '{name.display}' not found")
        path = self._manifest_path(stored)
        return parse_manifest(_read_bounded(path, MAX_MANIFEST_BYTES), stored, path)

    def check_blobs(self, manifest: Manifest) -> None:
        """Every blob ``manifest`` names is present with the size it states, or ``BlobNotFound``."""
        for layer in [manifest.config, *manifest.layers]:
            path = self.blob_path(layer.digest)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise BlobNotFound(
                    f"blob {layer.digest} of {manifest.name.display} is missing from the store"
                    " (was it removed while the model was being written?); nothing was saved"
                ) from None
            if size != layer.size:
                raise BlobNotFound(
                    f"blob {layer.digest} of {manifest.name.display} is {size} bytes, the"
                    f" manifest says {layer.size}; nothing was saved"
                )

    def write_manifest(self, name: ModelName, raw: bytes) -> Manifest:
        """Validate and atomically write a manifest under ``name``'s stored spelling.

        Its blobs are checked right before the write, under the lock that
        pruning takes, so no manifest ever names a missing blob.
        """
        stored = self._resolve(name)
        parsed = parse_manifest(raw, stored)
        path = self._manifest_path(stored)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
        with self._lock:
            self.check_blobs(parsed)
            try:
                _fsync_write(temp, [raw])
                os.replace(temp, path)
                _fsync_dir(path.parent)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
        return parse_manifest(raw, stored, path)

    def _scan(self) -> tuple[list[Manifest], int]:
        """(parsable manifests, number of unreadable ones)."""
        manifests = []
        broken = 0
        for name in self._stored_names():
            path = self._manifest_path(name)
            try:
                raw = _read_bounded(path, MAX_MANIFEST_BYTES)
                manifests.append(parse_manifest(raw, name, path))
            except (BadManifest, OSError) as error:
                broken += 1
                log.warning("skipping unreadable manifest %s: %s", path, error)
        return manifests, broken

    def list_manifests(self) -> list[Manifest]:
        """Every readable manifest, newest first (as ``/api/tags`` lists them)."""
        manifests, _broken = self._scan()
        manifests.sort(key=lambda m: m.modified_at, reverse=True)
        return manifests

    def referenced_digests(self, skip: Path | None = None) -> set[str]:
        """Digests (layers and configs) that readable manifests refer to."""
        digests: set[str] = set()
        for manifest in self._scan()[0]:
            if skip is None or manifest.path != skip:
                digests |= manifest.digests()
        return digests

    def copy_model(self, source: ModelName, destination: ModelName) -> None:
        manifest = self.read_manifest(source)
        if manifest.name.folded() == destination.folded():
            return
        self.write_manifest(destination, manifest.raw)

    def delete_model(self, name: ModelName) -> None:
        manifest = self.read_manifest(name)
        assert manifest.path is not None
        manifest.path.unlink()
        self._prune_dirs(manifest.path.parent)
        self.prune_blobs(manifest.digests())

    def prune_blobs(self, candidates: set[str]) -> None:
        """Delete those of ``candidates`` that no manifest references any more.

        If any manifest cannot be read we cannot know what it references, so
        nothing is deleted (as Ollama does): leaking a blob beats losing one.
        """
        with self._lock:
            manifests, broken = self._scan()
            if broken:
                log.warning("not pruning blobs: %d manifest(s) could not be read", broken)
                return
            still_used = set(self._held)
            for manifest in manifests:
                still_used |= manifest.digests()
            for digest in candidates - still_used:
                with contextlib.suppress(FileNotFoundError):
                    self.blob_path(digest).unlink()

    def prune_leftovers(self, keep: set[str] | None, prune_unused: bool = True) -> list[str]:
        """At start: remove what killed or refused work left in ``blobs/`` and ``manifests/``.

        * temporary files (``*-tmp``: uploads, imports, manifests) whose
          writer is gone (no one holds their lock);
        * ``-partial`` downloads (and their part records) of blobs not in
          ``keep``, the blobs of the pulls that will resume; ``keep=None``
          means those are not known, and every partial stays;
        * with ``prune_unused`` (Ollama's start-up prune, off with
          ``OLLAMA_NOPRUNE``), finished blobs no manifest references, not in
          ``keep`` and older than ``UNUSED_BLOB_GRACE``; none if any manifest
          is unreadable (its blobs cannot be known).

        Returns the names removed, for the log.
        """
        removed: list[str] = []

        def remove(path: Path) -> None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(str(path.relative_to(self.root)))

        for path in [*self.blobs.iterdir(), *self.manifests.rglob(f"*{TEMP_SUFFIX}")]:
            if (
                path.is_file()
                and path.name.endswith(TEMP_SUFFIX)
                and not _lock_held_elsewhere(path)
            ):
                remove(path)
        kept_files = set()
        for digest in keep or set():
            with contextlib.suppress(InvalidDigest):  # pulls.json is only a file on disk
                kept_files.add(blob_filename(digest))
        now = time.time()
        with self._lock:
            manifests, broken = self._scan()
            used = {blob_filename(d) for m in manifests for d in m.digests()}
            used |= {blob_filename(d) for d in self._held}
            for path in self.blobs.iterdir():
                name = path.name
                if not path.is_file() or not name.startswith("sha256-"):
                    continue
                base, mark, _rest = name.partition(PARTIAL_MARK)
                if mark:
                    if keep is None or base in kept_files:
                        continue
                    partial = self.blobs / (base + PARTIAL_MARK)
                    if partial.exists() and _lock_held_elsewhere(partial):
                        continue  # another process is downloading it right now
                    remove(path)
                elif prune_unused and not broken and keep is not None:
                    if name in used or name in kept_files:
                        continue
                    try:
                        age = now - path.stat().st_mtime
                    except FileNotFoundError:
                        continue
                    if age > UNUSED_BLOB_GRACE:
                        remove(path)
        return removed

    def _prune_dirs(self, directory: Path) -> None:
        while directory != self.manifests and self.manifests in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent
