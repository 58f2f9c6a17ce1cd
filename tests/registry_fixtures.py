"""Pytest fixtures for a real registry; ``tests/conftest.py`` imports them.

The ``registry`` fixture is session-wide: starting ``docker-registry`` is
cheap, but tests only push under their own repository names, so they can
share one. Tests that stop or restart a registry make their own with
``fresh_registry``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registry import RegistryMissing, RegistryServer, registry_binary


def _require_binary() -> None:
    # A skip would let CI go green without ever testing pulls: fail instead.
    try:
        registry_binary()
    except RegistryMissing as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """One ``docker-registry serve`` on 127.0.0.1 for the whole session."""
    _require_binary()
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    """A registry of the test's own, free to be stopped and restarted."""
    _require_binary()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    yield server
    server.stop()
