"""/api/v1 across restarts of a real ``hearth serve``: old schema, kill -9, restart settings."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from app.chats.db import connect, migrate
from app.chats.migrations import LATEST
from app.runner.process import free_port
from tests.hearth_process import HearthFactory


def test_serve_opens_a_first_schema_file(tmp_path: Path, make_hearth: HearthFactory) -> None:
    """A database written by the first schema is migrated when Hearth starts, over HTTP."""
    old = connect(tmp_path / "hearth.db")
    assert migrate(old, target=1) == 1
    old.execute(
        "INSERT INTO chats (id, title, created_at, updated_at)"
        " VALUES ('0123456789abcdef0123456789abcdef', 'Written by schema one',"
        " '2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z')"
    )
    old.execute(
        "INSERT INTO messages (chat_pk, id, position, role, content, created_at)"
        " VALUES (1, 'm1', 0, 'user', 'a quince question', '2024-01-01T00:00:00.000Z')"
    )
    old.close()
    process = make_hearth(home=tmp_path)
    listed = requests.get(f"{process.url}/api/v1/chats", timeout=10).json()
    assert [c["title"] for c in listed["chats"]] == ["Written by schema one"]
    found = requests.get(f"{process.url}/api/v1/chats?q=quince", timeout=10).json()
    assert found["total"] == 1
    chat = requests.get(f"{process.url}/api/v1/chats/{found['chats'][0]['id']}", timeout=10)
    assert [m["content"] for m in chat.json()["messages"]] == ["a quince question"]
    process.stop()
    check = connect(tmp_path / "hearth.db")
    assert check.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == LATEST
    check.close()


def test_kill_9_of_serve_mid_writes_loses_no_acknowledged_chat(make_hearth: HearthFactory) -> None:
    """Writers hammer /api/v1 while Hearth is killed outright; every 201 it gave survives."""
    process = make_hearth()
    acknowledged: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                chat = session.post(
                    f"{process.url}/api/v1/chats",
                    json={"title": f"writer {n}", "messages": [{"role": "user", "content": "q"}]},
                    timeout=5,
                )
                if chat.status_code != 201:
                    return
                chat_id = chat.json()["id"]
                with lock:
                    acknowledged.append((chat_id, 1))
                for count in range(2, 6):
                    reply = session.post(
                        f"{process.url}/api/v1/chats/{chat_id}/messages",
                        json={"role": "assistant", "content": "a" * 2000},
                        timeout=5,
                    )
                    if reply.status_code != 201:
                        return
                    with lock:
                        acknowledged.append((chat_id, count))
            except requests.RequestException:
                return  # the server is gone

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    assert process.process is not None
    process.process.kill()
    process.process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(acknowledged) > 20, "the writers did not really write"

    again = make_hearth(home=process.home)
    most: dict[str, int] = {}
    for chat_id, count in acknowledged:
        most[chat_id] = max(most.get(chat_id, 0), count)
    for chat_id, count in most.items():
        reply = requests.get(f"{again.url}/api/v1/chats/{chat_id}", timeout=10)
        assert reply.status_code == 200, chat_id
        assert len(reply.json()["messages"]) >= count
    # Still writable after the crash.
    assert requests.post(f"{again.url}/api/v1/chats", json={}, timeout=10).status_code == 201


@pytest.mark.parametrize("flag_wins", [False, True])
def test_restart_settings_take_effect_at_the_next_start(
    tmp_path: Path, make_hearth: HearthFactory, flag_wins: bool
) -> None:
    """models_dir and ollama_port are stored now, used from the next start; flags still win."""
    models = tmp_path / "elsewhere-models"
    port = free_port()
    first = make_hearth()
    reply = requests.patch(
        f"{first.url}/api/v1/settings",
        json={"models_dir": str(models), "ollama_port": port},
        timeout=10,
    )
    assert reply.status_code == 200
    first.stop()
    other_models = tmp_path / "flag-models"
    # --models is a global flag: it goes before the subcommand.
    second = make_hearth(
        home=first.home, global_args=("--models", str(other_models)) if flag_wins else ()
    )
    system = requests.get(f"{second.url}/api/v1/system", timeout=10).json()
    expected = other_models if flag_wins else models
    assert system["directories"]["models"] == str(expected)
    assert (expected / "blobs").is_dir() and (expected / "manifests").is_dir()
    tags = requests.get(f"http://127.0.0.1:{port}/api/tags", timeout=10)
    assert tags.status_code == 200 and tags.json() == {"models": []}


def test_a_second_serve_on_the_same_data_refuses(make_hearth: HearthFactory) -> None:
    """Two servers on one database and model store would race: the second one says so."""
    first = make_hearth()
    with pytest.raises(RuntimeError) as refused:
        make_hearth(home=first.home)
    message = str(refused.value)
    assert "already running" in message and first.url in message
    assert requests.get(f"{first.url}/api/v1/chats", timeout=10).status_code == 200
    first.stop()
    make_hearth(home=first.home).stop()  # the lock went with the first one
