"""JSON errors everywhere: Ollama's ``{"error": "..."}`` shape, never a stack trace.

Failures of the machine rather than of the request (a full disk, a read-only
models or data directory) are not Hearth bugs either: they answer 507
Insufficient Storage with words the person can act on, from routes and from
streams alike (see :func:`describe_failure`), instead of "internal error".
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.errors import HearthError, storage_failure
from app.runner.errors import LlamaServerFailed

log = logging.getLogger(__name__)


def describe_failure(error: BaseException) -> tuple[int, str]:
    """The status and message a client gets for ``error`` (routes and mid-stream lines)."""
    if isinstance(error, HearthError):
        return error.status, str(error)
    storage = storage_failure(error)
    if storage is not None:
        log.warning("storage failure: %r", error)
        return storage.status, str(storage)
    if isinstance(error, LlamaServerFailed):
        log.warning("llama-server failed: %s", error)
        return 500, f"llama-server failed: {error}"
    log.error("unhandled error", exc_info=error)
    return 500, f"internal error: {type(error).__name__}"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HearthError)
    def hearth_error(error: HearthError) -> ResponseReturnValue:
        return jsonify(error=str(error)), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        return jsonify(error=(error.description or error.name)), error.code or 500

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
        status, message = describe_failure(error)
        return jsonify(error=message), status
