"""Only its owner gets in: access tokens, body limits, path tricks, the Ollama drop-in port."""

from __future__ import annotations

import ollama
import pytest
import requests

from app.runner.process import free_port
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess


@pytest.fixture(scope="module")
def guarded(make_module_hearth: HearthFactory) -> tuple[HearthProcess, str]:
    """Hearth with the access token required (as in LAN mode), on loopback."""
    process = make_module_hearth(env={"HEARTH_REQUIRE_TOKEN": "1"})
    return process, process.printed_token()


def test_token_is_required_on_every_request(guarded) -> None:  # type: ignore[no-untyped-def]
    process, token = guarded
    url = process.ollama_url
    assert requests.get(f"{url}/api/tags", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.get(f"{url}/api/tags", headers=wrong, timeout=10).status_code == 401
    assert requests.post(f"{url}/api/copy", json={}, headers=wrong, timeout=10).status_code == 401
    good = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{url}/api/tags", headers=good, timeout=10).status_code == 200
    client = ollama.Client(host=url, headers=good)
    assert client.list().models == []
    # A browser opens /?token=... once and keeps an HttpOnly cookie.
    session = requests.Session()
    first = session.get(f"{process.url}/?token={token}", timeout=10)
    assert first.status_code == 200 and "hearth_token" in session.cookies
    assert session.get(f"{url}/api/tags", timeout=10).status_code == 200
    # The token is stored hashed, never in clear text.
    stored = (process.home / "access-token.json").read_text()
    assert token not in stored


def test_cli_token_reset(guarded) -> None:  # type: ignore[no-untyped-def]
    process, _token = guarded
    assert "stored hashed" in process.cli("token").stdout


def test_oversize_json_body_is_413(hearth: HearthProcess) -> None:
    big = b'{"model": "' + b"x" * (33 * 2**20) + b'"}'
    reply = requests.post(f"{hearth.ollama_url}/api/show", data=big, timeout=60)
    assert reply.status_code == 413 and "larger than" in reply.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models/..%2F..%2Fetc%2Fpasswd"),
        ("GET", "/v1/models/../../etc/passwd"),
        ("HEAD", "/api/blobs/sha256:..%2F..%2Fetc%2Fpasswd"),
        ("POST", "/api/blobs/..%2F..%2Fmodels%2Fx"),
    ],
)
def test_path_tricks_never_reach_the_filesystem(
    hearth: HearthProcess, method: str, path: str
) -> None:
    before = sorted(p.name for p in (hearth.home / "models").rglob("*"))
    reply = requests.request(method, hearth.ollama_url + path, data=b"x", timeout=10)
    assert reply.status_code in {400, 404}
    assert sorted(p.name for p in (hearth.home / "models").rglob("*")) == before


def test_ollama_drop_in_port(make_hearth: HearthFactory) -> None:
    port = free_port()
    make_hearth(models=[GEMMA_NAME], args=("--ollama-port", str(port)))
    client = ollama.Client(host=f"http://127.0.0.1:{port}")
    assert [m.model for m in client.list().models] == [GEMMA_NAME]
    reply = client.generate(model=GEMMA_NAME, prompt="Hi", options={"num_predict": 3})
    assert reply.done and reply.eval_count == 3
    assert requests.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).status_code == 200
    foreign = requests.get(
        f"http://127.0.0.1:{port}/api/tags", headers={"Host": "evil.com"}, timeout=10
    )
    assert foreign.status_code == 403
