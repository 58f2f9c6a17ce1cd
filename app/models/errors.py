"""Errors with an HTTP status and a message a person can act on.

Every layer raises these; the HTTP edge turns them into Ollama's
``{"error": "..."}`` bodies and the CLI prints them.
"""

from __future__ import annotations

import errno
import sqlite3


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


class StorageFailure(HearthError):
    """The disk refused a write: full, read-only, or not ours to write.

    Not the request's fault and not a Hearth bug: 507 Insufficient Storage,
    with words that say which and where (see :func:`storage_failure`).
    """

    status = 507


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def storage_failure(error: BaseException) -> StorageFailure | None:
    """``error`` as a :class:`StorageFailure` when the disk caused it; else ``None``."""
    if isinstance(error, StorageFailure):
        return error
    if isinstance(error, sqlite3.OperationalError):
        name = getattr(error, "sqlite_errorname", "")
        text = str(error)
        if name == "SQLITE_FULL" or "disk is full" in text:
            return StorageFailure(
                "the disk holding the chat database is full: free some space and try again"
            )
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return StorageFailure(
                "the chat database is read-only: check the permissions of Hearth's data folder"
            )
        if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
            return StorageFailure(f"the chat database could not be written ({text})")
        return None
    if isinstance(error, OSError) and error.errno is not None:
        where = f" ({error.filename})" if error.filename else ""
        if error.errno in _DISK_FULL:
            return StorageFailure(f"no space left on the disk{where}: free some space, try again")
        if error.errno in _NOT_WRITABLE:
            reason = "read-only" if error.errno == errno.EROFS else "not writable"
            return StorageFailure(f"Hearth cannot write to its files{where}: they are {reason}")
    return None
