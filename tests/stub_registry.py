"""Stand-in registries: small Flask apps that send what a hostile registry would.

A real ``docker-registry`` (``tests/registry.py``) never sends a bad
manifest, a trickle or a redirect into the machine; these stubs do. The
``stubs`` and ``hostile_stub_registry`` fixtures in ``tests/conftest.py``
start them and close them after the test.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import make_server

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


class Stub:
    """One Flask app served on ``host`` (any 127.x address), counting the requests it gets."""

    def __init__(self, app: Flask, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[str] = []
        self.stopping = threading.Event()

        @app.before_request
        def count() -> None:
            self.requests.append(request.full_path)

        self.server = make_server(host, 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()


def registry_app(
    manifest: Callable[[], Response], blob: Callable[[str], Response] | None = None
) -> Flask:
    """A registry answering ``/v2/``, any manifest with ``manifest()``, any blob with ``blob``."""
    app = Flask("hostile_registry_stand_in")

    @app.get("/v2/")
    def root() -> Response:
        return Response("{}")

    @app.get("/v2/<ns>/<model>/manifests/<tag>")
    def manifest_route(ns: str, model: str, tag: str) -> Response:
        return manifest()

    @app.get("/v2/<ns>/<model>/blobs/<digest>")
    def blob_route(ns: str, model: str, digest: str) -> Response:
        return blob(digest) if blob else Response(status=404)

    return app


def serve_blob(data: bytes, declared_total: int | None = None) -> Response:
    total = len(data) if declared_total is None else declared_total
    header = request.headers.get("Range", "")
    if header.startswith("bytes="):
        first, _, last = header[6:].partition("-")
        start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
        response = Response(data[start : end + 1], status=206)
        response.headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        return response
    return Response(data)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_for(layers: list[dict[str, Any]], config: bytes = b"{}") -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": layers,
        }
    ).encode()


def model_layer(digest: str, size: int) -> dict[str, Any]:
    return {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": size}


def manifest_response(body: bytes) -> Callable[[], Response]:
    return lambda: Response(body, content_type=MANIFEST_TYPE)


def bearer_challenge(realm: str, **params: str) -> Response:
    """A 401 asking for a token from ``realm``, with ``params`` (service, scope) in that order."""
    fields = ",".join(f'{key}="{value}"' for key, value in {"realm": realm, **params}.items())
    return Response(status=401, headers={"WWW-Authenticate": f"Bearer {fields}"})
