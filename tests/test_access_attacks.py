"""Attacks on every front door, through real HTTP: /api/v1, /ollama/api, /ollama/v1, the UI.

Each refused request must also change nothing: the chat list and the model
store are compared before and after.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from app.runner.process import free_port
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess

CHAT = {"title": "attack", "messages": [{"role": "user", "content": "hi"}]}
OPENAI_STREAM = {
    "model": GEMMA_NAME,
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "max_tokens": 2,
}


def chat_ids(base: str, headers: dict[str, str] | None = None) -> list[str]:
    reply = requests.get(f"{base}/api/v1/chats?limit=200", headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    return sorted(chat["id"] for chat in reply.json()["chats"])


def store_files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in (home / "models").rglob("*") if p.is_file())


def state(process: HearthProcess, headers: dict[str, str] | None = None) -> tuple:
    return chat_ids(process.url, headers), store_files(process.home)


FOREIGN_ORIGINS = [
    "https://evil.com",
    "http://localhost.evil.com",
    "http://localhost:1.evil.com",
    "null",
]
"""Refused everywhere; a local page (``http://localhost:3000``) on /api/v1 only: test_origins."""


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_foreign_origin_changes_nothing_anywhere(hearth: HearthProcess, origin: str) -> None:
    base = hearth.url
    existing = requests.post(f"{base}/api/v1/chats", json=CHAT, timeout=10).json()["id"]
    before = state(hearth)
    settings_before = requests.get(f"{base}/api/v1/settings", timeout=10).json()
    headers = {"Origin": origin}
    attempts = [
        ("POST", "/api/v1/chats", CHAT),
        ("PATCH", f"/api/v1/chats/{existing}", {"title": "owned"}),
        ("DELETE", f"/api/v1/chats/{existing}", None),
        ("POST", f"/api/v1/chats/{existing}/messages", {"role": "user", "content": "x"}),
        ("PATCH", "/api/v1/settings", {"theme": "dark"}),
        ("POST", "/api/v1/chats/import", [CHAT]),
        ("GET", f"/api/v1/chats/{existing}/export", None),
        ("POST", "/ollama/v1/chat/completions", OPENAI_STREAM),
        ("POST", "/ollama/v1/embeddings", {"model": GEMMA_NAME, "input": "x"}),
        ("POST", "/ollama/api/copy", {"source": GEMMA_NAME, "destination": "stolen:1"}),
        ("DELETE", "/ollama/api/delete", {"model": GEMMA_NAME}),
    ]
    for method, path, body in attempts:
        reply = requests.request(method, base + path, json=body, headers=headers, timeout=10)
        assert reply.status_code == 403, (method, path, reply.status_code)
        assert reply.json()["error"].startswith("forbidden"), path
        assert "Access-Control-Allow-Origin" not in reply.headers
    assert requests.get(f"{base}/api/v1/settings", timeout=10).json() == settings_before
    assert state(hearth) == before
    assert requests.get(f"{base}/api/v1/chats/{existing}", timeout=10).json()["title"] == "attack"


def test_own_origin_is_the_page_itself(hearth: HearthProcess) -> None:
    """The window and a browser tab on Hearth's own URL send Origin = that URL."""
    created = requests.post(
        f"{hearth.url}/api/v1/chats", json=CHAT, headers={"Origin": hearth.url}, timeout=10
    )
    assert created.status_code == 201
    assert "Access-Control-Allow-Origin" not in created.headers  # CORS stays off
    with requests.post(
        f"{hearth.url}/ollama/v1/chat/completions",
        json=OPENAI_STREAM,
        headers={"Origin": hearth.url},
        stream=True,
        timeout=60,
    ) as stream:
        assert stream.status_code == 200
        assert b"[DONE]" in b"".join(stream.iter_content(None))


@pytest.mark.parametrize("host", ["evil.com", "evil.com:80", "127.0.0.1.nip.io", "192.168.1.5"])
def test_foreign_host_changes_nothing(hearth: HearthProcess, host: str) -> None:
    before = state(hearth)
    headers = {"Host": host}
    for method, path, body in [
        ("POST", "/api/v1/chats", CHAT),
        ("GET", "/api/v1/chats", None),
        ("GET", "/api/v1/system", None),
        ("POST", "/ollama/v1/chat/completions", OPENAI_STREAM),
        ("GET", "/ollama/v1/models", None),
        ("POST", "/ollama/api/copy", {"source": GEMMA_NAME, "destination": "stolen:1"}),
        ("GET", "/", None),
    ]:
        reply = requests.request(method, hearth.url + path, json=body, headers=headers, timeout=10)
        assert reply.status_code == 403, (method, path)
    assert state(hearth) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/chats/..%2F..%2Fhearth.db"),
        ("GET", "/api/v1/chats/..%2F..%2Fhearth.db/export?format=md"),
        ("GET", "/api/v1/chats/%2E%2E/export?format=..%2F..%2Fx"),
        ("PATCH", "/api/v1/chats/..%2Fsettings"),
        ("DELETE", "/api/v1/chats/%00"),
        ("POST", "/api/v1/chats/..%2F..%2Fetc/messages"),
        ("PATCH", "/api/v1/chats/x/messages/..%2F..%2Fhearth.db"),
        ("DELETE", "/api/v1/chats/x/messages/%2E%2E%2F%2E%2E"),
        ("GET", "/ollama/v1/models/..%2F..%2Fmanifests"),
        ("GET", "/..%2F..%2Fhearth.db"),
        ("GET", "/assets/..%2F..%2F..%2Fapp%2Fsettings.py"),
    ],
)
def test_path_tricks_in_every_path_parameter(hearth: HearthProcess, method: str, path: str) -> None:
    before = state(hearth)
    db_before = (hearth.home / "hearth.db").stat().st_size
    reply = requests.request(method, hearth.url + path, json={"title": "x"}, timeout=10)
    if path.startswith(("/..", "/assets")):
        # The UI's SPA fallback may answer index.html, but never a file outside ui_dist.
        assert b"sqlite" not in reply.content.lower() and b"load_settings" not in reply.content
    else:
        assert reply.status_code in {400, 404}, reply.text
        assert "error" in reply.json()
    assert state(hearth) == before
    assert (hearth.home / "hearth.db").stat().st_size == db_before


@pytest.fixture(scope="module")
def lan(make_module_hearth: HearthFactory) -> tuple[HearthProcess, str, str]:
    """Real LAN mode: bound to 0.0.0.0, so the token is required (the test talks over loopback)."""
    process = make_module_hearth(args=("--host", "0.0.0.0"))
    assert "LAN mode" in "".join(process.output)
    token = process.printed_token()
    port = process.url.rsplit(":", 1)[1]
    process.url = f"http://127.0.0.1:{port}"
    return process, token, port


def test_lan_mode_refuses_every_door_without_the_token(lan) -> None:  # type: ignore[no-untyped-def]
    process, token, port = lan
    good = {"Authorization": f"Bearer {token}"}
    before = state(process, good)
    lan_host = {"Host": f"192.168.1.5:{port}"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}, lan_host):
        for method, path, body in [
            ("GET", "/", None),
            ("GET", "/api/v1/chats", None),
            ("POST", "/api/v1/chats", CHAT),
            ("PATCH", "/api/v1/settings", {"theme": "dark"}),
            ("GET", "/ollama/api/tags", None),
            ("POST", "/ollama/api/pull", {"model": "x"}),
            ("GET", "/ollama/v1/models", None),
            ("POST", "/ollama/v1/chat/completions", OPENAI_STREAM),
        ]:
            reply = requests.request(
                method, process.url + path, json=body, headers=headers, timeout=10
            )
            assert reply.status_code == 401, (headers, method, path)
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert state(process, good) == before
    assert (
        requests.get(f"{process.url}/api/v1/settings", headers=good, timeout=10).json()["theme"]
        != "dark"
    )


def test_lan_browser_session_works_and_stays_same_origin(lan) -> None:  # type: ignore[no-untyped-def]
    """A browser on another machine opens /?token=..., then uses the UI by its LAN name."""
    process, token, port = lan
    origin = f"http://192.168.1.5:{port}"
    browser = requests.Session()
    browser.headers.update({"Host": f"192.168.1.5:{port}"})
    assert browser.get(f"{process.url}/?token={token}", timeout=10).status_code == 200
    assert "hearth_token" in browser.cookies
    created = browser.post(
        f"{process.url}/api/v1/chats", json=CHAT, headers={"Origin": origin}, timeout=10
    )
    assert created.status_code == 201, created.text
    # The token does not make a foreign site's page welcome.
    evil = browser.post(
        f"{process.url}/api/v1/chats", json=CHAT, headers={"Origin": "https://evil.com"}, timeout=10
    )
    assert evil.status_code == 403


def test_configured_hosts_and_origins_end_to_end(make_hearth: HearthFactory) -> None:
    """HEARTH_ALLOWED_HOSTS (Open WebUI in Docker) and OLLAMA_ORIGINS (CORS on)."""
    process = make_hearth(
        env={
            "HEARTH_ALLOWED_HOSTS": "host.docker.internal",
            "OLLAMA_ORIGINS": "https://*.example.org,vscode-webview://*",
        }
    )
    docker = requests.get(
        f"{process.url}/ollama/api/tags",
        headers={"Host": "host.docker.internal:11434"},
        timeout=10,
    )
    assert docker.status_code == 200
    still_foreign = requests.get(
        f"{process.url}/ollama/api/tags", headers={"Host": "evil.com"}, timeout=10
    )
    assert still_foreign.status_code == 403
    origin = "https://chat.example.org"
    preflight = requests.options(
        f"{process.url}/ollama/api/chat",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    webview = requests.post(
        f"{process.url}/api/v1/chats",
        json=CHAT,
        headers={"Origin": "vscode-webview://abc"},
        timeout=10,
    )
    assert webview.status_code == 201
    assert webview.headers["Access-Control-Allow-Origin"] == "vscode-webview://abc"
    refused = requests.options(
        f"{process.url}/ollama/api/chat", headers={"Origin": "https://example.org"}, timeout=10
    )
    assert refused.status_code == 403


def test_drop_in_port_refuses_foreign_origin(make_hearth: HearthFactory) -> None:
    port = free_port()
    process = make_hearth(args=("--ollama-port", str(port)))
    base = f"http://127.0.0.1:{port}"
    for path, body in [
        ("/api/copy", {"source": "a", "destination": "b"}),
        ("/api/pull", {"model": "gemma3"}),
        ("/v1/chat/completions", OPENAI_STREAM),
    ]:
        reply = requests.post(
            base + path, json=body, headers={"Origin": "https://evil.com"}, timeout=10
        )
        assert reply.status_code == 403, path
    assert store_files(process.home) == []
    assert not (process.home / "models" / "pulls.json").exists()
