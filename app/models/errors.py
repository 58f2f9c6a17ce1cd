"""Errors with an HTTP status and a message a person can act on.

Every layer raises these; the HTTP edge turns them into Ollama's
``{"error": "..."}`` bodies and the CLI prints them.
"""

from __future__ import annotations


class HearthError(Exception):
    """Base class: ``status`` is the HTTP status the edge should answer with."""

    status: int = 500


class BadRequest(HearthError):
    status = 400


class InvalidName(BadRequest):
    def __init__(self, message: str = "invalid model name") -> None:
        super().__init__(message)


class InvalidDigest(BadRequest):
    def __init__(self, message: str = "invalid digest format") -> None:
        super().__init__(message)


class DigestMismatch(BadRequest):
    def __init__(self, want: str, got: str) -> None:
        super().__init__(f'digest mismatch, expected "{want}", got "{got}"')


class NotGGUF(BadRequest):
    def __init__(self, message: str = "supplied file was not in GGUF format") -> None:
        super().__init__(message)


class ModelNotFound(HearthError):
    status = 404


class BlobNotFound(HearthError):
    status = 404


class BadManifest(HearthError):
    """A manifest on disk or from a registry that we refuse to trust."""

    status = 500
