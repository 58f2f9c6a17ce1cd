"""The OpenAI-compatible API under ``/ollama/v1``: any OpenAI client works unchanged.

Each route converts its request to Ollama's shape once (:mod:`.to_ollama`),
runs it through the handlers the Ollama routes use (:mod:`app.web.handlers`)
and converts the objects back once (:mod:`.from_ollama`). Errors use OpenAI's
shape (``{"error": {"message", "type", "param", "code"}}``) and streams are
server-sent events ending with ``data: [DONE]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from app.api_types import ChatRequest, EmbedRequest, GenerateRequest
from app.errors import HearthError
from app.models.errors import ModelNotFound
from app.models.names import parse_name
from app.web import handlers
from app.web.errors import describe_failure
from app.web.handlers import hearth
from app.web.json_body import json_body
from app.web.openai import from_ollama, to_ollama
from app.web.streaming import sse, stream_response

openai_api = Blueprint("openai_api", __name__)
_ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


_SSE = sse(_error_body)


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


class OpenAIReply:
    """A handler's Ollama objects as OpenAI's: SSE chunks, or one completion object."""

    def __init__(self, translator: from_ollama.Translation) -> None:
        self.translator = translator

    def stream(self, objects: Iterator[dict[str, Any]]) -> Response:
        return stream_response(self.translator.chunks(objects), _SSE, source=objects)

    def whole(self, result: dict[str, Any]) -> Response:
        return jsonify(self.translator.completion(result))


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options") or {}
    return bool(isinstance(options, dict) and options.get("include_usage"))


R = TypeVar("R")


def _generation(
    translate: Callable[[dict[str, Any]], dict[str, Any]],
    parse: Callable[[dict[str, Any]], R],
    handler: Callable[[R, bool, handlers.Reply], Response],
    translation: type[from_ollama.Translation],
) -> Response:
    """The middleware: the request converted once (then typed), the shared handler, the
    objects back once."""
    body = json_body()
    request = parse(translate(body))
    reply = OpenAIReply(translation(str(body.get("model")), _include_usage(body)))
    return handler(request, bool(body.get("stream")), reply)


@openai_api.post("/chat/completions")
def chat_completions() -> Response:
    return _generation(
        to_ollama.chat_request, ChatRequest.parse, handlers.chat, from_ollama.ChatStream
    )


@openai_api.post("/completions")
def completions() -> Response:
    translation = from_ollama.CompletionStream
    return _generation(
        to_ollama.completion_request, GenerateRequest.parse, handlers.generate, translation
    )


@openai_api.get("/models")
def models() -> Response:
    entries = hearth().list_models()
    return jsonify(object="list", data=[from_ollama.model_object(e) for e in entries])


@openai_api.get("/models/<path:model>")
def model(model: str) -> Response:
    wanted = parse_name(model).folded()
    for entry in hearth().list_models():
        if parse_name(entry["name"]).folded() == wanted:
            return jsonify(from_ollama.model_object(entry))
    raise ModelNotFound(f"model '{model}' not found")


@openai_api.post("/embeddings")
def embeddings() -> Response:
    body = json_body()
    request, encoding = to_ollama.embed_request(body)
    result = hearth().embed(EmbedRequest.parse(request))
    return jsonify(from_ollama.embeddings_response(str(body.get("model")), result, encoding))
