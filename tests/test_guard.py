"""Host and Origin checks (unit level; the HTTP tests exercise them end to end)."""

from __future__ import annotations

import pytest

from app.web.guard import host_allowed, origin_allowed


@pytest.mark.parametrize(
    "host",
    ["", "localhost", "localhost:8080", "127.0.0.1:5", "[::1]:8080", "app.localhost", "127.1.2.3"],
)
def test_local_hosts_allowed(host: str) -> None:
    assert host_allowed(host, ())


@pytest.mark.parametrize("host", ["evil.com", "evil.com:8080", "192.168.1.5", "localhost.evil.com"])
def test_foreign_hosts_refused(host: str) -> None:
    assert not host_allowed(host, ())


def test_configured_host() -> None:
    assert host_allowed("host.docker.internal:8080", ["host.docker.internal"])


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "http://127.0.0.1:8080", "https://[::1]", "app://x", "file://"],
)
def test_local_origins_allowed(origin: str) -> None:
    assert origin_allowed(origin, ())


@pytest.mark.parametrize("origin", ["https://evil.com", "http://localhost.evil.com", "null", ""])
def test_foreign_origins_refused(origin: str) -> None:
    assert not origin_allowed(origin, ())


def test_configured_origin_wildcard() -> None:
    assert origin_allowed("https://chat.example.org", ["https://*.example.org"])
