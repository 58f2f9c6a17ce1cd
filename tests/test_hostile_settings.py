"""Settings and ports that used to break every later start (issue 16).

Real ``hearth serve`` processes. A value an older Hearth accepted is written
with the project's own ``ChatStore.set_settings`` (which, unlike PATCH, does
not check), as such a database would hold it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.chats import ChatStore
from app.runner.process import free_port
from tests.hearth_process import HearthFactory


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on (a real Ollama, say)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


def _store(home: Path, **values: object) -> None:
    store = ChatStore(home / "hearth.db")
    try:
        store.set_settings(values)
    finally:
        store.close()


def test_a_busy_ollama_port_flag_fails_fast_and_frees_the_main_port(
    make_hearth: HearthFactory, busy_port: int
) -> None:
    process = make_hearth(start=False)
    main_port = free_port()
    done = process.cli(
        "serve", "--port", str(main_port), "--ollama-port", str(busy_port), check=False, timeout=60
    )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{busy_port}" in done.stderr
    assert "drop-in" in done.stderr and "Traceback" not in done.stderr
    assert "Serving on" not in done.stdout
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", main_port), timeout=5).close()
    # The lock went with it: the next start works.
    process.start()
    process.stop()


def test_a_busy_ollama_port_from_the_settings_is_skipped_with_a_warning(
    tmp_path: Path, make_hearth: HearthFactory, busy_port: int
) -> None:
    _store(tmp_path, ollama_port=busy_port)
    process = make_hearth(home=tmp_path, timeout=60)
    assert requests.get(f"{process.ollama_url}/api/version", timeout=10).status_code == 200
    output = "".join(process.output)
    assert f"cannot serve the Ollama API on port {busy_port}" in output


def test_ollama_port_equal_to_the_main_port_is_refused_by_the_api(
    make_hearth: HearthFactory,
) -> None:
    process = make_hearth()
    main_port = int(process.url.rsplit(":", 1)[1])
    reply = requests.patch(
        f"{process.url}/api/v1/settings", json={"ollama_port": main_port}, timeout=10
    )
    assert reply.status_code == 400
    assert "Hearth's own port" in reply.json()["error"]
    settings = requests.get(f"{process.url}/api/v1/settings", timeout=10).json()
    assert settings["ollama_port"] is None


def test_a_stored_ollama_port_equal_to_the_main_port_is_skipped_at_start(
    tmp_path: Path, make_hearth: HearthFactory
) -> None:
    port = free_port()
    _store(tmp_path, ollama_port=port)
    process = make_hearth(home=tmp_path, timeout=60, args=("--port", str(port)))
    assert process.url.endswith(f":{port}")
    assert requests.get(f"{process.ollama_url}/api/version", timeout=10).status_code == 200
    assert "is the main port too" in "".join(process.output)


@pytest.mark.parametrize("bad", ["/dev/null", "/proc/x", "/", "/etc", "/sys/kernel", "FILE"])
def test_unusable_models_dir_is_refused_by_the_api(
    tmp_path: Path, make_hearth: HearthFactory, bad: str
) -> None:
    if bad == "FILE":
        bad = str(tmp_path / "a-file")
        Path(bad).write_text("not a directory")
    process = make_hearth()
    reply = requests.patch(f"{process.url}/api/v1/settings", json={"models_dir": bad}, timeout=10)
    assert reply.status_code == 400, reply.text
    assert "models_dir" in reply.json()["error"] and "cannot be used" in reply.json()["error"]
    assert requests.get(f"{process.url}/api/v1/settings", timeout=10).json()["models_dir"] is None
    # A directory that can be made is accepted (and made only at the next start).
    fine = tmp_path / "new" / "models"
    reply = requests.patch(
        f"{process.url}/api/v1/settings", json={"models_dir": str(fine)}, timeout=10
    )
    assert reply.status_code == 200 and reply.json()["models_dir"] == str(fine)


@pytest.mark.parametrize("bad", ["/dev/null", "/proc/x", "/etc"])
def test_a_stored_unusable_models_dir_falls_back_to_the_default_at_start(
    tmp_path: Path, make_hearth: HearthFactory, bad: str
) -> None:
    _store(tmp_path, models_dir=bad)
    process = make_hearth(home=tmp_path, timeout=60)
    system = requests.get(f"{process.url}/api/v1/system", timeout=10).json()
    assert system["directories"]["models"] == str(tmp_path / "models")
    output = "".join(process.output)
    assert f"the models directory in the settings, {bad}, cannot be used" in output
    assert "Traceback" not in output
    assert requests.get(f"{process.ollama_url}/api/tags", timeout=10).status_code == 200
    process.stop()
    assert "cannot be used" in (tmp_path / "logs" / "hearth.log").read_text()
