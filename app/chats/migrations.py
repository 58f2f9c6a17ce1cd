"""Numbered, forward-only schema migrations.

Each migration runs inside the caller's ``BEGIN IMMEDIATE`` transaction
together with the row that records it in ``schema_migrations``: a crash half
way leaves the previous version intact. Never edit a released migration;
append a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _run(conn: sqlite3.Connection, statements: list[str]) -> None:
    # One statement at a time: ``executescript`` would COMMIT the open transaction.
    for statement in statements:
        conn.execute(statement)


def _base_tables(conn: sqlite3.Connection) -> None:
    roles = ", ".join(f"'{role}'" for role in ROLES)
    _run(
        conn,
        [
            # ``pk`` is an explicit INTEGER PRIMARY KEY so the full-text index can
            # point at it: an implicit rowid may change on VACUUM.
            """CREATE TABLE chats (
                pk INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                title TEXT NOT NULL DEFAULT '',
                model TEXT,
                system TEXT NOT NULL DEFAULT '',
                options TEXT NOT NULL DEFAULT '{}',
                pinned INTEGER NOT NULL DEFAULT 0,
                archived INTEGER NOT NULL DEFAULT 0,
                folder TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX chats_by_updated ON chats (updated_at DESC, pk DESC)",
            f"""CREATE TABLE messages (
                pk INTEGER PRIMARY KEY,
                chat_pk INTEGER NOT NULL REFERENCES chats (pk) ON DELETE CASCADE,
                id TEXT NOT NULL,
                position INTEGER NOT NULL,
                role TEXT NOT NULL CHECK (role IN ({roles})),
                content TEXT NOT NULL DEFAULT '',
                thinking TEXT,
                images TEXT,
                tool_calls TEXT,
                stats TEXT,
                done INTEGER NOT NULL DEFAULT 1,
                model TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (chat_pk, id)
            )""",
            "CREATE INDEX messages_by_position ON messages (chat_pk, position)",
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ],
    )


def fts_available(conn: sqlite3.Connection) -> bool:
    """FTS5 with the trigram tokenizer (SQLite 3.34+), which matches substrings like LIKE."""
    if sqlite3.sqlite_version_info < (3, 34, 0):
        return False
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.hearth_fts_probe USING fts5(x, tokenize='trigram')")
        conn.execute("DROP TABLE temp.hearth_fts_probe")
    except sqlite3.OperationalError:
        return False
    return True


def _search_index(conn: sqlite3.Connection) -> None:
    """Full-text indexes over titles and message text, kept in step by triggers.

    External-content tables: the text is stored once (in chats/messages) and
    the index holds only trigrams. Without FTS5 search falls back to LIKE.
    """
    if not fts_available(conn):
        return
    for table, column in (("chats", "title"), ("messages", "content")):
        fts = f"{table}_fts"
        _run(
            conn,
            [
                f"""CREATE VIRTUAL TABLE {fts} USING fts5(
                    {column}, content='{table}', content_rowid='pk', tokenize='trigram')""",
                f"""CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN
                    INSERT INTO {fts} (rowid, {column}) VALUES (new.pk, new.{column}); END""",
                f"""CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN
                    INSERT INTO {fts} ({fts}, rowid, {column})
                    VALUES ('delete', old.pk, old.{column}); END""",
                f"""CREATE TRIGGER {fts}_update AFTER UPDATE OF {column} ON {table} BEGIN
                    INSERT INTO {fts} ({fts}, rowid, {column})
                    VALUES ('delete', old.pk, old.{column});
                    INSERT INTO {fts} (rowid, {column}) VALUES (new.pk, new.{column}); END""",
                # Index what an older schema already holds.
                f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')",
            ],
        )


def _chat_versions(conn: sqlite3.Connection) -> None:
    """A counter per chat that every change to it or its messages raises.

    A client that replaces the message list sends the version it read; a
    stale one is refused (409) instead of silently dropping a message that
    another window appended meanwhile.
    """
    conn.execute("ALTER TABLE chats ADD COLUMN version INTEGER NOT NULL DEFAULT 1")


def _message_tree(conn: sqlite3.Connection) -> None:
    """Messages form a tree, so Regenerate and Edit add a version instead of deleting.

    ``parent_id`` is the id of the message this one answers or follows (NULL
    for a first message); ``chats.current_id`` is the leaf of the branch the
    person last looked at. A chat written before this migration was a list:
    each message's parent becomes the one before it, and the last one is the
    current leaf, so every old chat reads exactly as it did.
    """
    _run(
        conn,
        [
            "ALTER TABLE messages ADD COLUMN parent_id TEXT",
            "ALTER TABLE chats ADD COLUMN current_id TEXT",
            # Raised when a message joins the branch shown: stepping back to a version
            # shows the continuation last seen under it (0: never shown; newest wins).
            "ALTER TABLE messages ADD COLUMN seen INTEGER NOT NULL DEFAULT 0",
            """UPDATE messages SET parent_id = (
                SELECT p.id FROM messages p WHERE p.chat_pk = messages.chat_pk
                AND (p.position < messages.position
                     OR (p.position = messages.position AND p.pk < messages.pk))
                ORDER BY p.position DESC, p.pk DESC LIMIT 1)""",
            """UPDATE chats SET current_id = (
                SELECT m.id FROM messages m WHERE m.chat_pk = chats.pk
                ORDER BY m.position DESC, m.pk DESC LIMIT 1)""",
            "CREATE INDEX messages_by_parent ON messages (chat_pk, parent_id)",
        ],
    )


def _presets(conn: sqlite3.Connection) -> None:
    """Saved presets: a name, a system prompt, options and a model that new chats start from.

    Self-contained (it touches no other table), so it can be renumbered when
    merged next to another migration. Names are unique without regard to ASCII
    case: "Coder" and "coder" side by side in a menu would only confuse.
    """
    conn.execute(
        """CREATE TABLE presets (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            model TEXT,
            system TEXT NOT NULL DEFAULT '',
            options TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "chats, messages and settings", _base_tables),
    Migration(2, "full-text search over titles and messages", _search_index),
    Migration(3, "a version per chat, for safe concurrent edits", _chat_versions),
    Migration(4, "messages form a tree: versions of answers and prompts", _message_tree),
    Migration(5, "saved presets (system prompt, options, model)", _presets),
)
LATEST = MIGRATIONS[-1].version
