"""The Ollama-compatible API, served under ``/ollama``.

Thin on purpose: each route parses JSON, calls one manager method and turns
its result or generator into JSON or NDJSON. Validation and model handling
live in the manager so the CLI reaches the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.errors import BadRequest, HearthError
from app.hearth import Hearth
from app.models.manager import OLLAMA_COMPAT_VERSION
from app.web.disconnect import watched_generation
from app.web.json_body import read_json
from app.web.ndjson import aggregate_chat, aggregate_generate, last_status, ndjson_stream

ollama_api = Blueprint("ollama_api", __name__)
MAX_JSON_BODY = 32 * 2**20


def manager() -> Hearth:
    """The app's :class:`app.hearth.Hearth`: every route reaches the same methods as the CLI."""
    return current_app.extensions["hearth"]


def json_body() -> dict[str, Any]:
    """The request's JSON object, with Ollama's error texts for bad bodies.

    JSON bodies are bounded (blob uploads, which may be gigabytes, stream to
    disk through their own route instead).
    """
    body = read_json(MAX_JSON_BODY)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def wants_stream(body: dict[str, Any]) -> bool:
    """Ollama streams unless ``stream`` is explicitly false."""
    stream = body.get("stream", True)
    return stream is not False and stream is not None


@ollama_api.route("/", methods=["GET", "HEAD"])
def running() -> Response:
    return Response("Ollama is running", mimetype="text/plain")


@ollama_api.route("/api/version", methods=["GET", "HEAD"])
def version() -> Response:
    return jsonify(version=OLLAMA_COMPAT_VERSION)


@ollama_api.route("/api/tags", methods=["GET", "HEAD"])
def tags() -> Response:
    return jsonify(models=manager().list_models())


@ollama_api.post("/api/show")
def show() -> Response:
    body = json_body()
    return jsonify(manager().show(body.get("model") or body.get("name"), bool(body.get("verbose"))))


@ollama_api.post("/api/create")
def create() -> Response:
    body = json_body()
    statuses = manager().create(body)
    return _respond(statuses, wants_stream(body), last_status)


@ollama_api.route("/api/blobs/<digest>", methods=["HEAD"])
def blob_exists(digest: str) -> Response:
    if manager().has_blob(digest):
        return Response(status=200)
    return jsonify(error=f'blob "{digest}" not found'), 404  # type: ignore[return-value]


@ollama_api.post("/api/blobs/<digest>")
def blob_upload(digest: str) -> Response:
    created = manager().put_blob(digest, _request_chunks())
    return Response(status=201 if created else 200)


def _request_chunks(size: int = 1 << 20) -> Iterator[bytes]:
    stream = request.stream
    while chunk := stream.read(size):
        yield chunk


@ollama_api.post("/api/copy")
def copy() -> Response:
    body = json_body()
    manager().copy(body.get("source"), body.get("destination"))
    return Response(status=200)


@ollama_api.delete("/api/delete")
def delete() -> Response:
    body = json_body()
    manager().delete(body.get("model") or body.get("name"))
    return Response(status=200)


@ollama_api.get("/api/ps")
def ps() -> Response:
    return jsonify(models=manager().ps())


@ollama_api.post("/api/generate")
def generate() -> Response:
    body = json_body()
    objects = watched_generation(lambda abort: manager().generate(body, abort))
    # A load or unload (nothing to generate) is one JSON object, never a stream, as in Ollama.
    generates = bool(body.get("prompt") or body.get("suffix"))
    return _respond(objects, wants_stream(body) and generates, aggregate_generate)


@ollama_api.post("/api/chat")
def chat() -> Response:
    body = json_body()
    objects = watched_generation(lambda abort: manager().chat(body, abort))
    generates = bool(body.get("messages"))  # else a load or unload: one JSON object
    return _respond(objects, wants_stream(body) and generates, aggregate_chat)


@ollama_api.post("/api/embed")
def embed() -> Response:
    return jsonify(manager().embed(json_body()))


@ollama_api.post("/api/embeddings")
def embeddings() -> Response:
    return jsonify(manager().embeddings(json_body()))


@ollama_api.post("/api/pull")
def pull() -> Response:
    body = json_body()
    return _respond(manager().pull(body), wants_stream(body), last_status)


@ollama_api.get("/api/pulls")
def pulls() -> Response:
    """Hearth's own: pulls in progress, for the UI and the desktop shell."""
    return jsonify(pulls=manager().list_pulls())


@ollama_api.delete("/api/pulls")
def cancel_pull() -> ResponseReturnValue:
    body = json_body()
    name: Any = body.get("model") or body.get("name")  # the manager says when it is missing
    if not manager().cancel_pull(name):
        return jsonify(error=f"no pull of '{name}' is running"), 404
    return jsonify(cancelled=True)


@ollama_api.post("/api/push")
def push() -> Response:
    return jsonify(error="push is not supported"), 501  # type: ignore[return-value]


def _respond(objects: Iterator[dict[str, Any]], stream: bool, aggregate: Any) -> Response:
    if stream:
        return ndjson_stream(objects)
    try:
        result = aggregate(objects)
    finally:
        objects.close()  # type: ignore[attr-defined]
    if "error" in result:
        raise HearthError(result["error"])
    return jsonify(result)
