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

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
INSTALL_HINT = "install docker-registry (apt-get install docker-registry)"

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
OLLAMA_MEDIA = "application/vnd.ollama.image."
CHUNK = 8 * 2**20
MONOLITHIC_LIMIT = 16 * 2**20


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
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def blob_data_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps a blob: tests corrupt it to fake a bad registry."""
        return blob_data_path(self.storage, digest)


def blob_data_path(storage: Path, digest: str) -> Path:
    hex_ = digest.split(":", 1)[1]
    return storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_[:2] / hex_ / "data"


@contextmanager_type := None  # placeholder removed below  # noqa: E702
