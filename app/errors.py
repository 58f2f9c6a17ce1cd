"""The root of every error Hearth defines, and the ones every room shares.

Why one module: the HTTP edge, the CLI and the desktop shell each turn an
error into words and a status; with one root they need one ``except``, and
a room (models, runner, chats, settings, web) raises these without
importing another room for them. Each room's own errors live in its
``errors`` module (``app.models.errors``, ``app.chats.errors``,
``app.runner.errors``) and derive from these.
"""

from __future__ import annotations

import errno
import sqlite3


class HearthException(Exception):
    """Root of everything Hearth raises on purpose.

    Two kinds derive from it: :class:`HearthError`, a request's failure with
    the HTTP status the edge answers with; and the failures of a process or
    a setting (llama-server would not start, a bad ``--workers`` value), which
    also keep their standard base (``RuntimeError``, ``ValueError``) because
    their callers catch them by it and turn them into words of their own.
    """


class HearthError(HearthException):
    """Base class: ``status`` is the HTTP status the edge should answer with."""

    status: int = 500


class BadRequest(HearthError):
    status = 400


class NotFound(HearthError):
    status = 404


class Conflict(HearthError):
    status = 409


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
