"""JSON errors everywhere: Ollama's ``{"error": "..."}`` shape, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from app.models.errors import HearthError

log = logging.getLogger(__name__)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HearthError)
    def hearth_error(error: HearthError):  # type: ignore[no-untyped-def]
        return jsonify(error=str(error)), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        return jsonify(error=(error.description or error.name)), error.code or 500

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return jsonify(error=f"internal error: {type(error).__name__}"), 500
