"""Host and Origin checks (unit level; the HTTP tests exercise them end to end)."""

from __future__ import annotations

import pytest

from app.web.guard import host_allowed, origin_admitted


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
    ("origin", "host", "scheme"),
    [
        ("http://localhost:8080", "localhost:8080", "http"),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000", "http"),
        ("http://192.168.1.5:8080", "192.168.1.5:8080", "http"),
        ("https://[::1]", "[::1]", "https"),
    ],
)
def test_same_origin_allowed(origin: str, host: str, scheme: str) -> None:
    assert origin_admitted(origin, host, scheme, (), model_api=False)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.com",
        "http://localhost.evil.com",
        "http://localhost:3000",  # another local web page, not this server
        "https://localhost:8080",  # another scheme
        "app://x",
        "file://",
        "null",
        "",
    ],
)
def test_foreign_origins_refused(origin: str) -> None:
    assert not origin_admitted(origin, "localhost:8080", "http", (), model_api=False)


def test_configured_origin_wildcard() -> None:
    patterns = ["https://*.example.org", "vscode-webview://*"]
    assert origin_admitted(
        "https://chat.example.org", "localhost:8080", "http", patterns, model_api=False
    )
    assert origin_admitted(
        "vscode-webview://abc", "localhost:8080", "http", patterns, model_api=False
    )
    assert not origin_admitted(
        "https://example.com", "localhost:8080", "http", patterns, model_api=False
    )


OLLAMA_DEFAULTS = [
    "http://localhost",
    "http://localhost:3000",
    "https://127.0.0.1:5173",
    "http://0.0.0.0:8081",
    "app://obsidian.md",
    "file://",
    "tauri://localhost",
    "vscode-webview://abc",
    "vscode-file://vscode-app",
    "chrome-extension://abcdefgh",
    "moz-extension://1234",
]


@pytest.mark.parametrize("origin", OLLAMA_DEFAULTS)
def test_ollama_default_origins_only_on_the_model_api(origin: str) -> None:
    assert origin_admitted(origin, "127.0.0.1:8080", "http", (), model_api=True)
    assert not origin_admitted(origin, "127.0.0.1:8080", "http", (), model_api=False)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.com",
        "http://localhost.evil.com",
        "http://localhost:3000.evil.com",
        "http://localhost:abc",
        "http://127.0.0.1.nip.io",
        "http://192.168.1.5:3000",
        "null",
        "",
    ],
)
def test_other_origins_stay_out_of_the_model_api(origin: str) -> None:
    assert not origin_admitted(origin, "127.0.0.1:8080", "http", (), model_api=True)
