"""The Ollama-compatible API, served under ``/ollama``.

Thin on purpose: each route parses JSON, calls one manager method and turns
its result or generator into JSON or NDJSON. Validation and model handling
live in the manager so the CLI reaches the same code; chat and generate run
through :mod:`app.web.handlers`, which the OpenAI routes share.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app.api_types import (
    ChatRequest,
    CopyRequest,
    CreateRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    ModelRequest,
    PullRequest,
    ShowRequest,
)
from app.errors import HearthError
from app.models.manager import OLLAMA_COMPAT_VERSION
from app.web import handlers
from app.web.aggregate import last_status
from app.web.handlers import hearth
from app.web.json_body import json_body
from app.web.streaming import NDJSON, stream_response

ollama_api = Blueprint("ollama_api", __name__)


class OllamaReply:
    """Ollama's wire shapes: NDJSON while streaming, else the one object (an error: raised)."""

    def stream(self, objects: Iterator[dict[str, Any]]) -> Response:
        return stream_response(objects, NDJSON)

    def whole(self, result: dict[str, Any]) -> Response:
        if "error" in result:
            raise HearthError(result["error"])
        return jsonify(result)


REPLY = OllamaReply()


@ollama_api.route("/", methods=["GET", "HEAD"])
def running() -> Response:
    return Response("Ollama is running", mimetype="text/plain")


@ollama_api.route("/api/version", methods=["GET", "HEAD"])
def version() -> Response:
    return jsonify(version=OLLAMA_COMPAT_VERSION)


@ollama_api.route("/api/tags", methods=["GET", "HEAD"])
def tags() -> Response:
    return jsonify(models=hearth().list_models())


@ollama_api.post("/api/show")
def show() -> Response:
    request = ShowRequest.parse(json_body())
    return jsonify(hearth().show(request.model_name, request.is_verbose))


@ollama_api.post("/api/create")
def create() -> Response:
    request = CreateRequest.parse(json_body())
    return handlers.respond(hearth().create(request), request.wants_stream, last_status, REPLY)


@ollama_api.route("/api/blobs/<digest>", methods=["HEAD"])
def blob_exists(digest: str) -> Response:
    if hearth().has_blob(digest):
        return Response(status=200)
    return jsonify(error=f'blob "{digest}" not found'), 404  # type: ignore[return-value]


@ollama_api.post("/api/blobs/<digest>")
def blob_upload(digest: str) -> Response:
    created = hearth().put_blob(digest, _request_chunks())
    return Response(status=201 if created else 200)


def _request_chunks(size: int = 1 << 20) -> Iterator[bytes]:
    stream = request.stream
    while chunk := stream.read(size):
        yield chunk


@ollama_api.post("/api/copy")
def copy() -> Response:
    request = CopyRequest.parse(json_body())
    hearth().copy(request.source, request.destination)
    return Response(status=200)


@ollama_api.delete("/api/delete")
def delete() -> Response:
    hearth().delete(ModelRequest.parse(json_body()).model_name)
    return Response(status=200)


@ollama_api.get("/api/ps")
def ps() -> Response:
    return jsonify(models=hearth().ps())


@ollama_api.post("/api/generate")
def generate() -> Response:
    request = GenerateRequest.parse(json_body())
    # A load or unload (nothing to generate) is one JSON object, never a stream, as in Ollama.
    generates = bool(request.prompt or request.suffix)
    return handlers.generate(request, request.wants_stream and generates, REPLY)


@ollama_api.post("/api/chat")
def chat() -> Response:
    request = ChatRequest.parse(json_body())
    generates = bool(request.messages)  # else a load or unload: one JSON object
    return handlers.chat(request, request.wants_stream and generates, REPLY)


@ollama_api.post("/api/embed")
def embed() -> Response:
    return jsonify(hearth().embed(EmbedRequest.parse(json_body())))


@ollama_api.post("/api/embeddings")
def embeddings() -> Response:
    return jsonify(hearth().embeddings(EmbeddingsRequest.parse(json_body())))


@ollama_api.post("/api/pull")
def pull() -> Response:
    request = PullRequest.parse(json_body())
    statuses = hearth().pull(request.model_name, request.allows_insecure)
    return handlers.respond(statuses, request.wants_stream, last_status, REPLY)


@ollama_api.get("/api/pulls")
def pulls() -> Response:
    """Hearth's own: pulls in progress, for the UI and the desktop shell."""
    return jsonify(pulls=hearth().list_pulls())


@ollama_api.delete("/api/pulls")
def cancel_pull() -> ResponseReturnValue:
    name = ModelRequest.parse(json_body()).model_name  # the library says when it is missing
    if not hearth().cancel_pull(name):
        return jsonify(error=f"no pull of '{name}' is running"), 404
    return jsonify(cancelled=True)


@ollama_api.post("/api/push")
def push() -> Response:
    return jsonify(error="push is not supported"), 501  # type: ignore[return-value]
