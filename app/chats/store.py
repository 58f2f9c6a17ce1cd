"""``ChatStore``: every read and write of chats, messages and app settings.

The blueprint parses and validates; this class owns the SQL. Each thread gets
its own connection (sqlite3 connections must not be shared across threads,
and cheroot serves requests from a thread pool); every write is one short
``BEGIN IMMEDIATE`` transaction, so a killed process loses at most the write
in flight and never a committed chat.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

from app.chats.db import connect, now, open_database, read, schema_version, write
from app.chats.errors import ChatNotFound, Conflict, MessageNotFound
from app.chats.search import search_clause
from app.chats.tree import Tree, link
from app.errors import BadRequest, HearthError

CHAT_COLUMNS = ("title", "model", "system", "options", "pinned", "archived", "folder")
CONTENT_COLUMNS = {"title", "model", "system", "options", "messages"}
"""Changing these moves a chat to the top; pinning, archiving or filing it does not."""
JSON_MESSAGE_COLUMNS = ("images", "tool_calls", "stats")
MESSAGE_COLUMNS = ("role", "content", "thinking", "images", "tool_calls", "stats", "done", "model")


class StoreClosed(HearthError):
    status = 503

    def __init__(self) -> None:
        super().__init__("the chat store is closed")


def new_id() -> str:
    return uuid.uuid4().hex


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


class _Handle:
    """Holds one thread's connection; weakly tracked so a finished thread's
    connection is freed with it, yet ``close()`` can still reach the live ones."""

    __slots__ = ("conn", "__weakref__")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _chat_dict(row: sqlite3.Row) -> dict[str, Any]:
    chat = {
        "id": row["id"],
        "title": row["title"],
        "model": row["model"],
        "system": row["system"],
        "options": json.loads(row["options"] or "{}"),
        "pinned": bool(row["pinned"]),
        "archived": bool(row["archived"]),
        "folder": row["folder"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
        "current_id": row["current_id"],
    }
    if "message_count" in row.keys():  # noqa: SIM118 - sqlite3.Row has no __contains__ on keys
        chat["message_count"] = row["message_count"]
    return chat


def _message_dict(row: sqlite3.Row) -> dict[str, Any]:
    message = {"id": row["id"], "role": row["role"], "content": row["content"]}
    message["thinking"] = row["thinking"]
    for column in JSON_MESSAGE_COLUMNS:
        message[column] = json.loads(row[column]) if row[column] is not None else None
    message["done"] = bool(row["done"])
    message["model"] = row["model"]
    message["created_at"] = row["created_at"]
    message["parent_id"] = row["parent_id"]
    return message


def _tree(conn: sqlite3.Connection, chat_pk: int) -> Tree:
    """The chat's message tree from ids, parent links and ``seen`` only (no message text)."""
    rows = conn.execute(
        "SELECT id, parent_id, seen FROM messages WHERE chat_pk = ? ORDER BY position, pk",
        (chat_pk,),
    ).fetchall()
    return Tree((row[0], row[1], row[2]) for row in rows)


def _next_seen(conn: sqlite3.Connection, chat_pk: int) -> int:
    row = conn.execute(
        "SELECT coalesce(max(seen), 0) + 1 FROM messages WHERE chat_pk = ?", (chat_pk,)
    ).fetchone()
    return int(row[0])


def _mark_shown(conn: sqlite3.Connection, chat_pk: int, tree: Tree, leaf: str | None) -> None:
    """Remember the branch ending at ``leaf`` as the one last seen under each of its forks."""
    stale = tree.unpreferred(tree.branch(leaf))
    if not stale:
        return
    seen = _next_seen(conn, chat_pk)
    conn.executemany(
        "UPDATE messages SET seen = ? WHERE chat_pk = ? AND id = ?",
        [(seen, chat_pk, message_id) for message_id in stale],
    )


class ChatStore:
    """Chats, their messages and app settings in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._closed = False
        self._local = threading.local()
        self._handles: weakref.WeakSet[_Handle] = weakref.WeakSet()
        self._lock = threading.Lock()
        first = open_database(self.path)
        self.use_fts = bool(
            first.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages_fts'"
            ).fetchone()
        )
        self._adopt(first)

    # -- connections ---------------------------------------------------
    def _adopt(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        handle = _Handle(conn)
        self._local.handle = handle
        with self._lock:
            self._handles.add(handle)
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosed()
        handle = getattr(self._local, "handle", None)
        return handle.conn if handle is not None else self._adopt(connect(self.path))

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for companions such as ``PresetStore`` (same file)."""
        return self._conn()

    def close(self) -> None:
        """Close every thread's connection (at shutdown; later calls raise StoreClosed)."""
        self._closed = True
        with self._lock:
            handles = list(self._handles)
            self._handles.clear()
        for handle in handles:
            with contextlib.suppress(sqlite3.Error):
                handle.conn.close()

    @property
    def schema_version(self) -> int:
        return schema_version(self._conn())

    # -- chats ---------------------------------------------------------
    def list_chats(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        query: str | None = None,
        archived: bool | None = None,
        pinned: bool | None = None,
        folder: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Chat summaries (no messages), newest update first, and the total that matched.

        ``folder=""`` asks for chats in no folder; ``None`` filters nothing.
        """
        where, params = search_clause(query or "", self.use_fts)
        filters: list[Any] = []
        if archived is not None:
            where += " AND c.archived = ?"
            filters.append(int(archived))
        if pinned is not None:
            where += " AND c.pinned = ?"
            filters.append(int(pinned))
        if folder is not None:
            where += " AND c.folder IS ?"
            filters.append(folder or None)
        conn = self._conn()
        with read(conn):
            total = conn.execute(
                f"SELECT count(*) FROM chats c WHERE {where}", [*params, *filters]
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.chat_pk = c.pk)"
                f" AS message_count FROM chats c WHERE {where}"
                " ORDER BY c.updated_at DESC, c.pk DESC LIMIT ? OFFSET ?",
                [*params, *filters, limit, offset],
            ).fetchall()
        return [_chat_dict(row) for row in rows], int(total)

    def get_chat(self, chat_id: str, *, whole_tree: bool = False) -> dict[str, Any]:
        """One chat with the branch it shows as ``messages``, each with its ``versions``.

        ``messages`` stays the plain conversation an older client expects; the
        other versions are reached by their ids (``PATCH current_id``).
        ``whole_tree`` adds ``tree``: every message, oldest first (for export).
        """
        conn = self._conn()
        with read(conn):
            row = conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
            if row is None:
                raise ChatNotFound(chat_id)
            messages = conn.execute(
                "SELECT * FROM messages WHERE chat_pk = ? ORDER BY position, pk", (row["pk"],)
            ).fetchall()
        tree = Tree((message["id"], message["parent_id"], message["seen"]) for message in messages)
        current = tree.resolve(row["current_id"])
        by_id = {message["id"]: message for message in messages}
        chat = _chat_dict(row)
        chat["current_id"] = current
        chat["messages"] = [
            {**_message_dict(by_id[message_id]), "versions": tree.versions(message_id)}
            for message_id in tree.branch(current)
        ]
        if whole_tree:
            chat["tree"] = [_message_dict(message) for message in messages]
        return chat

    def create_chat(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new chat from validated ``fields`` (see ``validate.clean_chat``)."""
        with write(self._conn()) as conn:
            chat_id = self._insert_chat(conn, fields)
        return self.get_chat(chat_id)

    def import_chats(self, chats: list[dict[str, Any]]) -> list[str]:
        """Store several validated chats in one transaction: all of them or none."""
        with write(self._conn()) as conn:
            return [self._insert_chat(conn, fields) for fields in chats]

    def update_chat(
        self, chat_id: str, fields: dict[str, Any], expected_version: int | None = None
    ) -> dict[str, Any]:
        """Change the given fields; ``messages`` replaces the whole tree.

        ``current_id`` shows another branch: the leaf under the message named
        (its newest continuation). It raises the version (what ``messages``
        holds changed) but not ``updated_at`` (the chat did not move).
        With ``expected_version`` the change is made only if the chat is still
        at that version (else :class:`Conflict`); without it, as before.
        """
        with write(self._conn()) as conn:
            pk = self._chat_pk(conn, chat_id)
            if expected_version is not None:
                current = conn.execute("SELECT version FROM chats WHERE pk = ?", (pk,)).fetchone()
                if current[0] != expected_version:
                    raise Conflict(
                        f"chat '{chat_id}' changed since version {expected_version} (it is now"
                        f" at version {current[0]}): reload it and apply the change again"
                    )
            columns = [column for column in CHAT_COLUMNS if column in fields]
            values = [self._column_value(column, fields[column]) for column in columns]
            if CONTENT_COLUMNS & fields.keys():
                columns.append("updated_at")
                values.append(now())
            if "messages" in fields:
                conn.execute("DELETE FROM messages WHERE chat_pk = ?", (pk,))
                linked, leaf = link(fields["messages"], fields.get("current_id"), new_id)
                self._insert_messages(conn, pk, linked, 0)
                columns.append("current_id")
                values.append(leaf)
            elif "current_id" in fields:
                tree, wanted = _tree(conn, pk), fields["current_id"]
                if wanted not in tree:
                    raise BadRequest(f"current_id '{wanted}' is no message of this chat")
                leaf = tree.leaf_of(wanted)
                _mark_shown(conn, pk, tree, leaf)
                columns.append("current_id")
                values.append(leaf)
            if columns:
                assignments = "".join(f"{column} = ?, " for column in columns)
                conn.execute(
                    f"UPDATE chats SET {assignments}version = version + 1 WHERE pk = ?",
                    [*values, pk],
                )
        return self.get_chat(chat_id)

    def delete_chat(self, chat_id: str) -> None:
        with write(self._conn()) as conn:
            if conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,)).rowcount == 0:
                raise ChatNotFound(chat_id)

    # -- messages ------------------------------------------------------
    def add_message(self, chat_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Add one validated message; returns it with its id, parent and ``versions``.

        Without ``parent_id`` it follows the shown branch's last message (what
        appending meant before messages had versions); with one it becomes a
        new version beside that parent's other children: Regenerate sends the
        old answer's parent, Edit the old prompt's. Either way the new message
        is the leaf shown from now on.
        """
        with write(self._conn()) as conn:
            pk = self._chat_pk(conn, chat_id)
            tree = _tree(conn, pk)
            if "parent_id" in message:
                parent = message["parent_id"]
                if parent is not None and parent not in tree:
                    raise BadRequest(f"parent_id '{parent}' is no message of this chat")
            else:
                current = conn.execute("SELECT current_id FROM chats WHERE pk = ?", (pk,))
                parent = tree.resolve(current.fetchone()[0])
            position = conn.execute(
                "SELECT coalesce(max(position) + 1, 0) FROM messages WHERE chat_pk = ?", (pk,)
            ).fetchone()[0]
            fields = {**message, "parent_id": parent, "seen": _next_seen(conn, pk)}
            (message_pk,) = self._insert_messages(conn, pk, [fields], position)
            row = conn.execute("SELECT * FROM messages WHERE pk = ?", (message_pk,)).fetchone()
            grown = _tree(conn, pk)
            _mark_shown(conn, pk, grown, row["id"])
            conn.execute(
                "UPDATE chats SET updated_at = ?, current_id = ?, version = version + 1"
                " WHERE pk = ?",
                (now(), row["id"], pk),
            )
            versions = grown.versions(row["id"])
        return {**_message_dict(row), "versions": versions}

    def update_message(
        self, chat_id: str, message_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Change some fields of one message: the UI saves a growing answer this way.

        One UPDATE of one row in its own short transaction, so saving every
        second while tokens stream stays cheap. The chat's ``updated_at`` is
        touched only when the answer is finished (``done: true``).
        """
        columns = [column for column in MESSAGE_COLUMNS if column in fields]
        values = [self._column_value(column, fields[column]) for column in columns]
        where = "chat_pk = (SELECT pk FROM chats WHERE id = ?) AND id = ?"
        with write(self._conn()) as conn:
            if columns:
                assignments = ", ".join(f"{column} = ?" for column in columns)
                conn.execute(
                    f"UPDATE messages SET {assignments} WHERE {where}",
                    [*values, chat_id, message_id],
                )
            if fields.get("done") is True:
                conn.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now(), chat_id))
            if columns:
                conn.execute("UPDATE chats SET version = version + 1 WHERE id = ?", (chat_id,))
            row = conn.execute(
                f"SELECT * FROM messages WHERE {where}", (chat_id, message_id)
            ).fetchone()
            if row is None:  # rolled back with the transaction
                self._chat_pk(conn, chat_id)
                raise MessageNotFound(chat_id, message_id)
        return _message_dict(row)

    def delete_message(self, chat_id: str, message_id: str) -> None:
        """Delete one message; what followed it moves up to its parent.

        So deleting from a plain chat still removes just that message, as
        before versions. When it was the leaf shown, its parent's newest other
        continuation (or the parent) is shown instead.
        """
        with write(self._conn()) as conn:
            pk = self._chat_pk(conn, chat_id)
            tree = _tree(conn, pk)
            if message_id not in tree:
                raise MessageNotFound(chat_id, message_id)
            parent = tree.parent[message_id]
            conn.execute(
                "UPDATE messages SET parent_id = ? WHERE chat_pk = ? AND parent_id = ?",
                (parent, pk, message_id),
            )
            conn.execute("DELETE FROM messages WHERE chat_pk = ? AND id = ?", (pk, message_id))
            current = conn.execute("SELECT current_id FROM chats WHERE pk = ?", (pk,)).fetchone()[0]
            if current == message_id or current not in tree:
                current = _tree(conn, pk).leaf_of(parent)
            conn.execute(
                "UPDATE chats SET updated_at = ?, current_id = ?, version = version + 1"
                " WHERE pk = ?",
                (now(), current, pk),
            )

    # -- app settings --------------------------------------------------
    def get_settings(self) -> dict[str, Any]:
        """The stored settings only; defaults are the caller's business."""
        rows = self._conn().execute("SELECT key, value FROM settings").fetchall()
        return {row["key"]: json.loads(row["value"]) for row in rows}

    def set_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Store the given keys; a ``None`` value removes the key (back to its default)."""
        with write(self._conn()) as conn:
            for key, value in changes.items():
                if value is None:
                    conn.execute("DELETE FROM settings WHERE key = ?", (key,))
                else:
                    conn.execute(
                        "INSERT INTO settings (key, value) VALUES (?, ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(value, ensure_ascii=False)),
                    )
        return self.get_settings()

    # -- helpers -------------------------------------------------------
    @staticmethod
    def _chat_pk(conn: sqlite3.Connection, chat_id: str) -> int:
        row = conn.execute("SELECT pk FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise ChatNotFound(chat_id)
        return int(row[0])

    @staticmethod
    def _column_value(column: str, value: Any) -> Any:
        if column == "options" or column in JSON_MESSAGE_COLUMNS:
            return _json(value)
        if column in ("pinned", "archived", "done"):
            return int(bool(value))
        return value

    def _insert_chat(self, conn: sqlite3.Connection, fields: dict[str, Any]) -> str:
        chat_id = new_id()
        stamp = now()
        created = fields.get("created_at") or stamp
        updated = fields.get("updated_at") or created
        cursor = conn.execute(
            "INSERT INTO chats (id, title, model, system, options, pinned, archived, folder,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                chat_id,
                fields.get("title") or "New chat",
                fields.get("model"),
                fields.get("system") or "",
                _json(fields.get("options") or {}),
                int(bool(fields.get("pinned"))),
                int(bool(fields.get("archived"))),
                fields.get("folder"),
                created,
                max(updated, created),
            ),
        )
        chat_pk = int(cursor.lastrowid or 0)
        linked, leaf = link(fields.get("messages") or [], fields.get("current_id"), new_id)
        self._insert_messages(conn, chat_pk, linked, 0)
        conn.execute("UPDATE chats SET current_id = ? WHERE pk = ?", (leaf, chat_pk))
        return chat_id

    def _insert_messages(
        self,
        conn: sqlite3.Connection,
        chat_pk: int,
        messages: list[dict[str, Any]],
        first_position: int,
    ) -> list[int]:
        stamp = now()
        keys: list[int] = []
        for offset, message in enumerate(messages):
            message_id = message.get("id") or new_id()
            try:
                cursor = conn.execute(
                    "INSERT INTO messages (chat_pk, id, parent_id, seen, position, role,"
                    " content, thinking, images, tool_calls, stats, done, model, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        chat_pk,
                        message_id,
                        message.get("parent_id"),
                        message.get("seen") or 0,
                        first_position + offset,
                        message["role"],
                        message.get("content") or "",
                        message.get("thinking"),
                        _json(message.get("images")),
                        _json(message.get("tool_calls")),
                        _json(message.get("stats")),
                        int(message.get("done", True) is not False),
                        message.get("model"),
                        message.get("created_at") or stamp,
                    ),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"message id '{message_id}' is already used in this chat") from None
            keys.append(int(cursor.lastrowid or 0))
        return keys
