"""Serving the Svelte build: SPA fallback, cache headers, no path traversal, API paths untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app.settings import load_settings
from app.web.factory import create_app
from app.web.ui import default_dist_dir

INDEX = "<!doctype html><html><body><div id=app></div></body></html>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "ui_dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    (root / "assets" / "index-abc123.css").write_text("body{}")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("top secret")
    return root


def make_app(tmp_path: Path, dist_dir: Path) -> Flask:
    settings = load_settings({"HEARTH_HOME": str(tmp_path / "home")})
    app = create_app(settings, ui_dist=dist_dir)
    return app


def test_index_and_spa_fallback(tmp_path: Path, dist: Path) -> None:
    client = make_app(tmp_path, dist).test_client()
    for path in ["/", "/models", "/c/123", "/some/deep/link"]:
        reply = client.get(path)
        assert reply.status_code == 200, path
        assert reply.get_data(as_text=True) == INDEX
        assert reply.headers["Cache-Control"] == "no-cache"
        assert reply.mimetype == "text/html"
    assert client.head("/").status_code == 200


def test_hashed_assets_are_immutable(tmp_path: Path, dist: Path) -> None:
    client = make_app(tmp_path, dist).test_client()
    reply = client.get("/assets/index-abc123.js")
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "javascript" in reply.mimetype
    css = client.get("/assets/index-abc123.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_missing_asset_is_json_404(tmp_path: Path, dist: Path) -> None:
    client = make_app(tmp_path, dist).test_client()
    reply = client.get("/assets/nope-000.js")
    assert reply.status_code == 404
    assert reply.is_json and "error" in reply.get_json()


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../../secret.txt",
        "/assets/..%2F..%2Fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets//etc/passwd",
        "/assets/..\\..\\secret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e/secret.txt",
        "/secret.txt",
    ],
)
def test_no_path_traversal(tmp_path: Path, dist: Path, path: str) -> None:
    client = make_app(tmp_path, dist).test_client()
    reply = client.get(path)
    assert b"top secret" not in reply.data
    assert b"root:" not in reply.data


def test_top_level_files(tmp_path: Path, dist: Path) -> None:
    client = make_app(tmp_path, dist).test_client()
    reply = client.get("/favicon.svg")
    assert reply.status_code == 200 and reply.mimetype == "image/svg+xml"


def test_api_paths_are_not_shadowed(tmp_path: Path, dist: Path) -> None:
    client = make_app(tmp_path, dist).test_client()
    assert client.get("/ollama/api/tags").is_json
    for path in ["/ollama/api/nope", "/api/v1/nope", "/api", "/api/v1/chats"]:
        reply = client.get(path)
        assert reply.get_data(as_text=True) != INDEX, path
        assert reply.is_json, path
    # A POST-only API route keeps its 405 for GET, and unknown POSTs stay JSON 404s.
    assert client.get("/ollama/api/chat").status_code == 405
    reply = client.post("/ollama/api/nope", json={})
    assert reply.status_code == 404 and reply.is_json
    # The Ollama root answers as before.
    assert client.get("/ollama/").status_code == 200


def test_non_get_on_ui_paths(tmp_path: Path, dist: Path) -> None:
    client = make_app(tmp_path, dist).test_client()
    assert client.post("/models", json={}).status_code == 405


def test_missing_build_explains(tmp_path: Path) -> None:
    client = make_app(tmp_path, tmp_path / "not-built").test_client()
    reply = client.get("/")
    assert reply.status_code == 200
    text = reply.get_data(as_text=True)
    assert "npm run build" in text and "ui_dist" in text
    assert client.get("/assets/x.js").status_code == 404


def test_guard_still_applies(tmp_path: Path, dist: Path) -> None:
    client = make_app(tmp_path, dist).test_client()
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 403


def test_committed_build_is_consistent() -> None:
    """ui_dist/index.html only references assets that exist, with hashed names."""
    dist = default_dist_dir()
    if not (dist / "index.html").is_file():
        pytest.skip("ui_dist/ is not built")
    import re

    html = (dist / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="/assets/([^"]+)"', html)
    assert refs, "index.html references no assets"
    for ref in refs:
        assert (dist / "assets" / ref).is_file(), ref
        assert re.search(r"-[A-Za-z0-9_-]{6,}\.(js|css)$", ref), ref
