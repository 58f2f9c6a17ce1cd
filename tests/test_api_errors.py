"""Bad input over real HTTP: each a clear error, nothing written to the store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthProcess


def store_snapshot(hearth: HearthProcess) -> set[str]:
    models = hearth.home / "models"
    return {str(path.relative_to(models)) for path in models.rglob("*") if path.is_file()}


@pytest.fixture
def api(hearth: HearthProcess) -> str:
    return hearth.ollama_url


@pytest.mark.parametrize(
    "path", ["/api/chat", "/api/generate", "/api/show", "/api/create", "/api/embed", "/api/copy"]
)
def test_malformed_json_is_400(api: str, path: str, hearth: HearthProcess) -> None:
    before = store_snapshot(hearth)
    reply = requests.post(api + path, data=b'{"model": "x",', timeout=10)
    assert reply.status_code == 400
    assert "invalid JSON" in reply.json()["error"]
    empty = requests.post(api + path, data=b"", timeout=10)
    assert empty.status_code == 400 and empty.json()["error"] == "missing request body"
    assert store_snapshot(hearth) == before


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "a/b/c/d/e", "model:", ":tag", "-lead", "bad name", "x" * 400]
)
def test_invalid_names_are_400(api: str, name: str, hearth: HearthProcess) -> None:
    before = store_snapshot(hearth)
    for path, body in (
        ("/api/show", {"model": name}),
        ("/api/chat", {"model": name, "messages": []}),
        ("/api/copy", {"source": GEMMA_NAME, "destination": name}),
        ("/api/create", {"model": name, "from": GEMMA_NAME}),
    ):
        reply = requests.post(api + path, json=body, timeout=10)
        assert reply.status_code == 400, (path, name, reply.text)
        assert reply.json()["error"]
    assert store_snapshot(hearth) == before


def test_unknown_model_shapes(api: str) -> None:
    for path, body in (
        ("/api/show", {"model": "missing:1"}),
        ("/api/chat", {"model": "missing:1", "messages": [{"role": "user", "content": "x"}]}),
        ("/api/generate", {"model": "missing:1", "prompt": "x"}),
        ("/api/embed", {"model": "missing:1", "input": "x"}),
        ("/api/copy", {"source": "missing:1", "destination": "other:1"}),
    ):
        reply = requests.post(api + path, json=body, timeout=10)
        assert reply.status_code == 404, path
        assert set(reply.json()) == {"error"} and "not found" in reply.json()["error"]
    reply = requests.delete(api + "/api/delete", json={"model": "missing:1"}, timeout=10)
    assert reply.status_code == 404


def test_missing_fields(api: str) -> None:
    assert requests.post(api + "/api/chat", json={}, timeout=10).status_code == 400
    assert requests.post(api + "/api/show", json={}, timeout=10).json()["error"] == (
        "model is required"
    )
    reply = requests.post(api + "/api/create", json={"model": "x:1"}, timeout=10)
    assert reply.status_code == 400
    assert reply.json()["error"] == "neither 'from' or 'files' was specified"


def test_wrong_option_types(api: str) -> None:
    reply = requests.post(
        api + "/api/generate",
        json={"model": GEMMA_NAME, "prompt": "x", "options": {"num_predict": "many"}},
        timeout=30,
    )
    assert reply.status_code == 400
    assert "num_predict" in reply.json()["error"]
    bad_keep_alive = requests.post(
        api + "/api/generate", json={"model": GEMMA_NAME, "keep_alive": "300"}, timeout=30
    )
    assert bad_keep_alive.status_code == 400


def test_not_a_gguf_is_refused(api: str, hearth: HearthProcess, tmp_path: Path) -> None:
    data = b"this is not a gguf file" + os.urandom(64)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert requests.head(f"{api}/api/blobs/{digest}", timeout=10).status_code == 404
    assert requests.post(f"{api}/api/blobs/{digest}", data=data, timeout=10).status_code == 201
    before = store_snapshot(hearth)
    reply = requests.post(
        api + "/api/create", json={"model": "broken:1", "files": {"x.gguf": digest}}, timeout=10
    )
    assert reply.status_code == 400
    assert "GGUF" in reply.json()["error"]
    assert store_snapshot(hearth) == before
    # CLI import refuses it too, before touching the store.
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(data)
    result = hearth.cli("import", str(fake), "broken:2", check=False)
    assert result.returncode != 0 and "GGUF" in result.stderr
    assert store_snapshot(hearth) == before


def test_blob_upload_is_verified(api: str, hearth: HearthProcess) -> None:
    data = os.urandom(1000)
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    before = store_snapshot(hearth)
    reply = requests.post(f"{api}/api/blobs/{wrong}", data=data, timeout=10)
    assert reply.status_code == 400 and "digest mismatch" in reply.json()["error"]
    for bad in ("sha256:..%2F..%2Fetc", "sha256:1234", "md5:" + "0" * 32, "sha256-" + "g" * 64):
        reply = requests.post(f"{api}/api/blobs/{bad}", data=data, timeout=10)
        assert reply.status_code in {400, 404}, bad
    assert store_snapshot(hearth) == before


def test_foreign_host_and_origin_refused(api: str, hearth: HearthProcess) -> None:
    before = store_snapshot(hearth)
    body = {"source": GEMMA_NAME, "destination": "stolen:1"}
    rebinding = requests.post(
        api + "/api/copy", json=body, headers={"Host": "evil.com"}, timeout=10
    )
    assert rebinding.status_code == 403
    cross_site = requests.post(
        api + "/api/copy", json=body, headers={"Origin": "https://evil.com"}, timeout=10
    )
    assert cross_site.status_code == 403
    stream = requests.post(
        api + "/api/chat",
        json={"model": GEMMA_NAME, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Origin": "https://evil.com"},
        timeout=10,
    )
    assert stream.status_code == 403
    assert store_snapshot(hearth) == before
    # A local page may use the model API, with CORS, as with Ollama (test_origins.py),
    other_local_page = requests.get(
        api + "/api/tags", headers={"Origin": "http://localhost:3000"}, timeout=10
    )
    assert other_local_page.status_code == 200
    assert other_local_page.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    # but not the chats API, where CORS is off unless origins are configured.
    chats = requests.get(
        f"{hearth.url}/api/v1/chats", headers={"Origin": "http://localhost:3000"}, timeout=10
    )
    assert chats.status_code == 403
    own_page = requests.get(
        f"{hearth.url}/api/v1/chats", headers={"Origin": hearth.url}, timeout=10
    )
    assert own_page.status_code == 200
    assert "Access-Control-Allow-Origin" not in own_page.headers
