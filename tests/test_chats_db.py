"""The chat database itself: migrations, concurrent writers, and surviving kill -9."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.chats import ChatStore, SchemaTooNew
from app.chats.db import connect, migrate, schema_version
from app.chats.migrations import LATEST
from tests.threads import run_at_once

REPO = Path(__file__).resolve().parent.parent


def test_new_database_settings(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "sub" / "hearth.db")
    try:
        assert store.schema_version == LATEST
        conn = store._conn()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"chats", "messages", "settings", "schema_migrations"} <= names
    finally:
        store.close()


def test_upgrade_from_first_schema(tmp_path: Path) -> None:
    path = tmp_path / "hearth.db"
    old = connect(path)
    assert migrate(old, target=1) == 1
    old.execute(
        "INSERT INTO chats (id, title, created_at, updated_at)"
        " VALUES ('old1', 'From version one', '2024-01-01T00:00:00.000Z',"
        " '2024-01-02T00:00:00.000Z')"
    )
    old.execute(
        "INSERT INTO messages (chat_pk, id, position, role, content, created_at)"
        " VALUES (1, 'm1', 0, 'user', 'a marmalade question', '2024-01-01T00:00:00.000Z')"
    )
    old.close()

    store = ChatStore(path)
    try:
        assert store.schema_version == LATEST > 1
        chat = store.get_chat("old1")
        assert chat["title"] == "From version one"
        assert [m["content"] for m in chat["messages"]] == ["a marmalade question"]
        # Text written before the search index existed is found through it.
        if store.use_fts:
            assert store.list_chats(query="marmalade")[1] == 1
        assert store.list_chats(query="version one")[1] == 1
        versions = [
            row[0] for row in store._conn().execute("SELECT version FROM schema_migrations")
        ]
        assert versions == list(range(1, LATEST + 1))
    finally:
        store.close()
    # Opening again is a no-op.
    again = ChatStore(path)
    assert again.schema_version == LATEST
    again.close()


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "hearth.db"
    ChatStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")  # fold the WAL in, so the file is whole
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')"
    )
    conn.commit()
    conn.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(SchemaTooNew, match="newer Hearth"):
        ChatStore(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert schema_version(check) == 99
    check.close()


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "hearth.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(Exception, match="chat database"):
        ChatStore(path)


def test_concurrent_writers_in_threads(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "hearth.db")
    try:
        chats = [store.create_chat({"title": f"c{n}"})["id"] for n in range(4)]
        errors: list[BaseException] = []
        start = threading.Barrier(10)

        def writer(worker: int) -> None:
            try:
                start.wait()
                for n in range(30):
                    chat = chats[0] if n % 2 else chats[1 + (worker % 3)]  # shared and own
                    message = {"role": "user", "content": f"{worker}:{n}", "done": True}
                    saved = store.add_message(chat, message)
                    store.update_message(chat, saved["id"], {"content": f"{worker}:{n}!"})
                    if n % 10 == 0:
                        store.create_chat({"title": f"extra {worker} {n}"})
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        run_at_once(writer, range(10))
        assert errors == []
        contents = [m["content"] for cid in chats for m in store.get_chat(cid)["messages"]]
        assert sorted(contents) == sorted(f"{w}:{n}!" for w in range(10) for n in range(30))
        shared = store.get_chat(chats[0])["messages"]
        assert len(shared) == 150
        assert store.list_chats(limit=1)[1] == 4 + 10 * 3
    finally:
        store.close()


CHILD = """
import sys
from pathlib import Path
from app.chats import ChatStore

store = ChatStore(Path(sys.argv[1]))
n = 0
while True:
    chat = store.create_chat({
        "title": f"chat {n}",
        "messages": [
            {"role": "user", "content": "x" * 2000},
            {"role": "assistant", "content": "y"},
        ],
    })
    store.add_message(chat["id"], {"role": "user", "content": f"more {n}"})
    print(chat["id"], flush=True)
    n += 1
"""


def test_kill_9_mid_write_keeps_committed_chats(tmp_path: Path) -> None:
    path = tmp_path / "hearth.db"
    ChatStore(path).close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, err
    committed = [line for line in out.splitlines() if len(line) == 32]
    assert len(committed) > 5, err  # it really was writing

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    store = ChatStore(path)
    try:
        for chat_id in committed:
            chat = store.get_chat(chat_id)
            assert len(chat["messages"]) == 3, json.dumps(chat)[:200]
        if store.use_fts:
            check = store._conn().execute(
                "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')"
            )
            assert check is not None  # raises if the index disagrees with the table
        # The database is still writable after the crash.
        assert store.create_chat({"title": "after"})["title"] == "after"
    finally:
        store.close()
