"""Opening Hearth's SQLite file: pragmas, migrations and short write transactions.

Why these settings: WAL lets the UI read while an answer is being saved and
survives a crash or ``kill -9`` without losing committed rows;
``synchronous=FULL`` syncs the WAL at every commit, so a power cut cannot
drop a chat that was reported saved either (NORMAL would lose the last
commits; the cost is one fsync per save, and a streaming answer is saved
about twice a second); ``busy_timeout`` makes concurrent writers
(threads of the WSGI server, or the CLI next to the app) wait instead of
failing; ``BEGIN IMMEDIATE`` takes the write lock up front, so a transaction
never fails half way with "database is locked".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from app.chats.errors import DatabaseUnreadable, SchemaTooNew
from app.chats.migrations import LATEST, MIGRATIONS, Migration

BUSY_TIMEOUT_SECONDS = 15.0


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private(path: Path) -> None:
    """Only the user may read the chats: the folder 0700, the database files 0600.

    Chats are private text, and a default umask (022) leaves them readable by
    every account on the machine. The file is created 0600 before SQLite opens
    it, and SQLite gives its ``-wal`` and ``-shm`` files the database's mode; an
    existing install is fixed here at every start. (On Windows ``chmod`` only
    sets the read-only flag, which these modes leave off.)
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    with contextlib.suppress(OSError):  # a folder we may not chmod (not ours) still works
        os.chmod(folder, PRIVATE_DIR)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(file, PRIVATE_FILE)


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode; callers open transactions explicitly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    return conn


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One short write transaction: committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (a full disk does: SQLITE_FULL), and a
        # failed COMMIT leaves the transaction open: end it either way, and let the
        # first error be the one reported.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


@contextmanager
def read(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction, so several SELECTs see one consistent snapshot."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration recorded; 0 for a new (or foreign, empty) file."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def refuse_newer(current: int, latest: int) -> None:
    if current > latest:
        raise SchemaTooNew(
            f"the chat database has schema version {current}, but this Hearth knows only"
            f" up to {latest}: it was written by a newer Hearth. Upgrade Hearth;"
            " the file was left unchanged"
        )


def migrate(
    conn: sqlite3.Connection,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    target: int | None = None,
) -> int:
    """Bring the schema up to ``target`` (default: the latest); returns the version.

    A file from a newer Hearth raises :class:`SchemaTooNew` before anything is
    written. Two processes opening one old file at once are serialised by the
    write lock, and the loser finds nothing left to do.
    """
    latest = migrations[-1].version
    target = latest if target is None else target
    try:
        current = schema_version(conn)
    except sqlite3.DatabaseError as error:
        raise DatabaseUnreadable(f"cannot read the chat database: {error}") from None
    refuse_newer(current, latest)
    if current >= target:
        return current
    with write(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = schema_version(conn)
        for migration in migrations:
            if current < migration.version <= target:
                migration.apply(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, now()),
                )
                current = migration.version
    return current


def open_database(path: Path, target: int | None = None) -> sqlite3.Connection:
    """Connect, switch to WAL and migrate: the one way the store opens its file."""
    try:
        make_private(path)
        conn = connect(path)
    except (sqlite3.DatabaseError, OSError) as error:
        raise DatabaseUnreadable(f"cannot open the chat database {path}: {error}") from None
    try:
        refuse_newer(schema_version(conn), LATEST)  # before the journal mode is touched
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, target=target)
    except sqlite3.DatabaseError as error:
        conn.close()
        raise DatabaseUnreadable(f"cannot open the chat database {path}: {error}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def now() -> str:
    """The current time in RFC 3339 UTC with milliseconds, which sorts as text."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: object) -> str | None:
    """A timestamp in our format from RFC 3339 text or Unix seconds/milliseconds.

    Importers meet both (Open WebUI stores epoch seconds, and milliseconds in
    places); normalising keeps ``ORDER BY updated_at`` correct. ``None`` when
    the value is not a timestamp.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds > 1e14:  # microseconds
            seconds /= 1e6
        elif seconds > 1e11:  # milliseconds
            seconds /= 1e3
        try:
            return format_time(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return format_time(datetime.fromisoformat(text))
        except ValueError:
            return None
    return None
