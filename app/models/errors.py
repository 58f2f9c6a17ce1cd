"""The model library's errors: names, digests, manifests, blobs, GGUF files.

They derive from :mod:`app.errors` (re-exported here, so ``from
app.models.errors import BadRequest`` still works inside this room); the
HTTP edge turns them into Ollama's ``{"error": "..."}`` bodies and the CLI
prints them.
"""

from __future__ import annotations

from app.errors import BadRequest, HearthError, NotFound, StorageFailure, storage_failure

__all__ = [
    "BadManifest",
    "BadRequest",
    "BlobNotFound",
    "DigestMismatch",
    "HearthError",
    "InvalidDigest",
    "InvalidName",
    "ModelNotFound",
    "NotFound",
    "NotGGUF",
    "StorageFailure",
    "storage_failure",
]


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


class ModelNotFound(NotFound):
    """No stored model by that name (a 404, as Ollama answers)."""


class BadManifest(HearthError):
    """A manifest on disk or from a registry that we refuse to trust."""

    status = 500


class BlobNotFound(NotFound):
    """No blob with that digest in the store."""
