"""Serve the Svelte build (``ui_dist/``): the SPA, its hashed assets, and a fallback.

Routes added by :func:`register_ui`:

- ``/assets/<path>``: files from ``ui_dist/assets`` with a one-year immutable
  cache (Vite puts a content hash in every name there); a JSON 404 otherwise.
- ``/`` and any other path that is not an API path: ``index.html`` with
  ``Cache-Control: no-cache`` so a new build is picked up at once (the SPA
  router lives in the URL hash, so deep links only ever reach ``/``, but
  bookmarks and typos land on the app rather than a bare 404).
- UI pages carry :data:`PAGE_HEADERS` (no framing by other sites).
- Paths under ``/ollama`` and ``/api`` are never matched here (a converter
  excludes them), so unknown API paths keep their JSON 404/405.

Files are only ever sent through :func:`flask.send_from_directory`, which
refuses paths that leave the directory (``..``, absolute paths, drive names).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, jsonify, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.routing import PathConverter

API_PREFIXES = ("ollama", "api")
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
"""On every UI page: no other site may frame the UI (clickjacking its buttons).

The policy is kept to ``frame-ancestors``: the Svelte build's scripts and
styles are untouched by it, so the window and browsers load it as before.
"""
IMMUTABLE = "public, max-age=31536000, immutable"

BUILD_HINT = """Hearth is running, but its chat UI has not been built.

Build it once (needs Node.js 20+):

    cd ui && npm ci && npm run build

This writes ui_dist/, which Hearth serves from here. The APIs work meanwhile:
    /ollama/api/...  Ollama-compatible API
    /ollama/v1/...   OpenAI-compatible API
"""


def default_dist_dir() -> Path:
    """``ui_dist/`` next to the ``app`` package (the source tree and PyInstaller bundles alike)."""
    return Path(__file__).resolve().parent.parent.parent / "ui_dist"


class NonApiPathConverter(PathConverter):
    """A ``path`` that never starts with an API prefix, so the SPA fallback cannot
    match ``/ollama/...`` or ``/api/...``: those keep the API's own 404 and 405."""

    regex = r"(?!(?:" + "|".join(API_PREFIXES) + r")(?:/|$))[^/].*?"


def register_ui(app: Flask, dist_dir: Path | None = None) -> None:
    """Add the UI routes to ``app``; ``dist_dir`` defaults to the repository's ``ui_dist/``."""
    dist = Path(dist_dir) if dist_dir is not None else default_dist_dir()
    assets = dist / "assets"

    def index() -> Response:
        if not (dist / "index.html").is_file():
            response = Response(BUILD_HINT, status=200, mimetype="text/plain")
        else:
            response = send_from_directory(dist, "index.html", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        response.headers.update(PAGE_HEADERS)
        return response

    def asset(filename: str) -> Response:
        try:
            response = send_from_directory(assets, filename, max_age=31536000)
        except NotFound:
            response = jsonify(error=f"asset not found: {filename}")
            response.status_code = 404
            return response
        response.headers["Cache-Control"] = IMMUTABLE
        return response

    def spa(path: str) -> Response:
        # A real file at the top of ui_dist (favicon.svg, robots.txt...).
        if "/" not in path and path != "index.html" and (dist / path).is_file():
            try:
                return send_from_directory(dist, path, max_age=3600)
            except NotFound:
                pass
        return index()

    # Replace any placeholder "/" route registered before (the factory's plain-text one).
    for rule in list(app.url_map.iter_rules()):
        if rule.rule == "/" and rule.endpoint != "hearth_ui.index":
            app.view_functions[rule.endpoint] = index

    app.add_url_rule("/", "hearth_ui.index", index, methods=["GET", "HEAD"])
    app.add_url_rule("/assets/<path:filename>", "hearth_ui.asset", asset, methods=["GET", "HEAD"])
    app.url_map.converters["hearth_non_api"] = NonApiPathConverter
    app.add_url_rule("/<hearth_non_api:path>", "hearth_ui.spa", spa, methods=["GET", "HEAD"])
