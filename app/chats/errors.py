"""Errors of the chat store, carrying the HTTP status the edge answers with."""

from __future__ import annotations

from app.errors import Conflict, HearthError, NotFound

__all__ = [
    "ChatNotFound",
    "Conflict",
    "DatabaseUnreadable",
    "MessageNotFound",
    "NotFound",
    "SchemaTooNew",
]


class ChatNotFound(NotFound):
    def __init__(self, chat_id: str) -> None:
        super().__init__(f"chat '{chat_id}' not found")


class MessageNotFound(NotFound):
    def __init__(self, chat_id: str, message_id: str) -> None:
        super().__init__(f"message '{message_id}' not found in chat '{chat_id}'")


class SchemaTooNew(HearthError):
    """The database was written by a newer Hearth: refuse rather than guess.

    Opening it would risk writing rows an older schema does not describe, so
    nothing is changed and the person is told to upgrade (or use another home).
    """

    status = 500


class DatabaseUnreadable(HearthError):
    status = 500
