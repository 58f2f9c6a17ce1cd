"""A real OCI distribution registry for pull tests, and a way to push models into it.

Debian's ``docker-registry`` package is the reference ``distribution`` server
(the code Docker Hub and, in a fork, ollama.com run). Pulling from it
exercises the same URLs, status codes, Range handling and upload API that
a real registry has, which a mock could only imitate.

``push_model`` uploads through the registry's own upload API (no files are
planted in its storage), so a pushed model is exactly what a registry would
hold after ``ollama push``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from tests.hearth_process import stop_process

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
INSTALL_HINT = "install docker-registry (apt-get install docker-registry)"

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
OLLAMA_MEDIA = "application/vnd.ollama.image."
CHUNK = 8 * 2**20
MONOLITHIC_LIMIT = 16 * 2**20


_WRITTEN = re.compile(r"http\.response\.written=(\d+)")


class RegistryMissing(RuntimeError):
    """The ``docker-registry`` binary is not installed."""


def registry_binary() -> Path:
    found = shutil.which("docker-registry")
    if found:
        return Path(found)
    if REGISTRY_BINARY.exists():
        return REGISTRY_BINARY
    raise RegistryMissing(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_CONFIG = """\
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
  redirect:
    disable: true
http:
  addr: 127.0.0.1:{port}
  secret: hearth-test-secret
"""


class RegistryServer:
    """One ``docker-registry serve`` process; ``stop``/``start`` keep port and storage.

    Keeping both across a restart is what lets a test stop the registry in
    the middle of a pull and then check that the pull resumes against the
    "same" registry.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.storage = workdir / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config = workdir / "config.yml"
        self.config.write_text(_CONFIG.format(root=self.storage, port=self.port))
        self.log_path = workdir / "registry.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """The ``host:port`` part of a model name served by this registry."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        binary = registry_binary()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(binary), "serve", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/v2/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not answer /v2/ in {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process, grace=10)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def served_bytes(self, digest: str) -> int:
        """Blob bytes this registry has sent for ``digest`` (GET responses, from its log).

        Counted on the server side, so a test can measure what a pull really
        re-fetched independently of the client's own statistics.
        """
        total = 0
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        for line in text.splitlines():
            if 'msg="response completed"' not in line or "http.request.method=GET" not in line:
                continue
            if f"/blobs/{digest}" not in line:
                continue
            match = _WRITTEN.search(line)
            if match:
                total += int(match.group(1))
        return total

    def blob_data_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps a blob: tests corrupt it to fake a bad registry."""
        return blob_data_path(self.storage, digest)


def blob_data_path(storage: Path, digest: str) -> Path:
    hex_ = digest.split(":", 1)[1]
    return storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_[:2] / hex_ / "data"


def start_registry(workdir: Path | None = None) -> RegistryServer:
    """Start a registry in ``workdir`` (a new temp dir by default); fail loudly if missing."""
    server = RegistryServer(workdir or Path(tempfile.mkdtemp(prefix="hearth-registry-")))
    server.start()
    return server


# -- pushing -------------------------------------------------------------------


@dataclass(frozen=True)
class PushedModel:
    """What ``push_model`` put in the registry, for tests to compare against."""

    name: str
    tag: str
    manifest: bytes
    config_digest: str
    layers: list[dict[str, Any]]

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()


def _digest_of(data: bytes | Path) -> tuple[str, int]:
    if isinstance(data, bytes):
        return "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
    sha = hashlib.sha256()
    with data.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest(), data.stat().st_size


def _chunks(data: bytes | Path) -> Iterator[bytes]:
    if isinstance(data, bytes):
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
        return
    with data.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _check(response: requests.Response, *expected: int) -> requests.Response:
    if response.status_code not in expected:
        request = f"{response.request.method} {response.url}"
        raise RuntimeError(f"{request}: {response.status_code} {response.text[:500]}")
    return response


def push_blob(session: requests.Session, base_url: str, repo: str, data: bytes | Path) -> str:
    """Upload one blob via POST + PATCH* + PUT (or POST + PUT for small ones); return its digest."""
    digest, size = _digest_of(data)
    if _check(session.head(f"{base_url}/v2/{repo}/blobs/{digest}"), 200, 404).status_code == 200:
        return digest
    started = _check(session.post(f"{base_url}/v2/{repo}/blobs/uploads/"), 202)
    location = urljoin(base_url + "/", started.headers["Location"])
    if size <= MONOLITHIC_LIMIT:
        body = data if isinstance(data, bytes) else data.read_bytes()
        _check(
            session.put(
                location,
                params={"digest": digest},
                data=body,
                headers={"Content-Type": "application/octet-stream"},
            ),
            201,
        )
        return digest
    offset = 0
    for chunk in _chunks(data):
        patched = session.patch(
            location,
            data=chunk,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            },
        )
        _check(patched, 202)
        location = urljoin(base_url + "/", patched.headers["Location"])
        offset += len(chunk)
    _check(session.put(location, params={"digest": digest}, data=b""), 201)
    return digest


def push_model(
    base_url: str,
    name: str,
    tag: str,
    layers: list[tuple[str, bytes | Path]],
    config: dict[str, Any],
) -> PushedModel:
    """Push an Ollama-style model: ``layers`` are ``(media_type, data)``; ``data`` may be a Path.

    A media type without a ``/`` is taken as an Ollama suffix (``"model"`` →
    ``application/vnd.ollama.image.model``).
    """
    session = requests.Session()
    layer_json = []
    for media_type, data in layers:
        full_type = media_type if "/" in media_type else OLLAMA_MEDIA + media_type
        digest = push_blob(session, base_url, name, data)
        size = len(data) if isinstance(data, bytes) else os.path.getsize(data)
        layer_json.append({"mediaType": full_type, "digest": digest, "size": size})
    config_bytes = json.dumps(config).encode()
    config_digest = push_blob(session, base_url, name, config_bytes)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": layer_json,
        },
        indent=2,
    ).encode()
    _check(
        session.put(
            f"{base_url}/v2/{name}/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        ),
        201,
    )
    return PushedModel(name, tag, manifest, config_digest, layer_json)
