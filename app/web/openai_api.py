"""The OpenAI-compatible API under ``/ollama/v1``: any OpenAI client works unchanged.

Errors use OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``)
and streams are server-sent events ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from app.errors import BadRequest, HearthError
from app.models.errors import ModelNotFound
from app.models.names import parse_name
from app.runner import openai_compat
from app.web.disconnect import watched_generation
from app.web.errors import describe_failure
from app.web.ndjson import aggregate_chat, aggregate_generate
from app.web.ollama_api import json_body, manager

log = logging.getLogger(__name__)
openai_api = Blueprint("openai_api", __name__)
_ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@openai_api.errorhandler(HearthError)
def hearth_error(error: HearthError) -> tuple[Response, int]:
    return jsonify(_error_body(error.status, str(error))), error.status


@openai_api.errorhandler(Exception)
def unexpected(error: Exception) -> tuple[Response, int]:
    if isinstance(error, HTTPException):
        return http_error(error)
    status, message = describe_failure(error)
    return jsonify(_error_body(status, message)), status


@openai_api.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    return jsonify(_error_body(status, error.description or error.name)), status


def _sse(chunks: Iterator[dict[str, Any]], source: Iterator[dict[str, Any]]) -> Response:
    first = next(chunks, None)  # errors before the first byte keep their status

    def events() -> Iterator[bytes]:
        try:
            if first is not None:
                yield b"data: " + _dumps(first).encode() + b"\n\n"
            for chunk in chunks:
                yield b"data: " + _dumps(chunk).encode() + b"\n\n"
        except Exception as error:  # noqa: BLE001 - the status line is already sent
            body = _error_body(*describe_failure(error))
            yield b"data: " + _dumps(body).encode() + b"\n\n"
        finally:
            source.close()  # type: ignore[attr-defined]
        yield b"data: [DONE]\n\n"

    response = Response(events(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options") or {}
    return bool(isinstance(options, dict) and options.get("include_usage"))


def _respond(
    body: dict[str, Any], objects: Iterator[dict[str, Any]], stream: Any, aggregate: Any
) -> Response:
    """SSE chunks when asked to stream, else one OpenAI object from the aggregate."""
    if body.get("stream"):
        return _sse(stream.chunks(objects), objects)
    try:
        result = aggregate(objects)
    finally:
        objects.close()  # type: ignore[attr-defined]
    return jsonify(stream.completion(result))


@openai_api.post("/chat/completions")
def chat_completions() -> Response:
    body = json_body()
    translated = openai_compat.chat_request(body)
    objects = watched_generation(lambda abort: manager().chat(translated, abort))
    stream = openai_compat.ChatStream(str(body.get("model")), _include_usage(body))
    return _respond(body, objects, stream, aggregate_chat)


@openai_api.post("/completions")
def completions() -> Response:
    body = json_body()
    translated = openai_compat.completion_request(body)
    objects = watched_generation(lambda abort: manager().generate(translated, abort))
    stream = openai_compat.CompletionStream(str(body.get("model")), _include_usage(body))
    return _respond(body, objects, stream, aggregate_generate)


def _model_object(entry: dict[str, Any]) -> dict[str, Any]:
    created = datetime.fromisoformat(entry["modified_at"].replace("Z", "+00:00"))
    return {
        "id": entry["name"],
        "object": "model",
        "created": int(created.timestamp()),
        "owned_by": parse_name(entry["name"]).namespace,
    }


@openai_api.get("/models")
def models() -> Response:
    return jsonify(object="list", data=[_model_object(e) for e in manager().list_models()])


@openai_api.get("/models/<path:model>")
def model(model: str) -> Response:
    wanted = parse_name(model).folded()
    for entry in manager().list_models():
        if parse_name(entry["name"]).folded() == wanted:
            return jsonify(_model_object(entry))
    raise ModelNotFound(f"model '{model}' not found")


@openai_api.post("/embeddings")
def embeddings() -> Response:
    body = json_body()
    raw = body.get("input")
    if raw == "":
        raw = [""]
    if raw == [] or raw is None:
        raise BadRequest("invalid input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in {"float", "base64"}:
        raise BadRequest("encoding_format must be float or base64")
    request = {"model": body.get("model"), "input": raw, "dimensions": body.get("dimensions")}
    result = manager().embed(request)
    return jsonify(openai_compat.embeddings_response(str(body.get("model")), result, encoding))
