"""The desktop app in a real Qt window under Xvfb: start, menus, single instance, shutdown."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.conftest import TEST_CACHE
from tests.hearth_process import REPO

ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private X server for this module."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is required: apt-get install xvfb")
    pytest.importorskip("webview", reason="install the desktop extra: pip install -e .[desktop]")
    number = 90 + os.getpid() % 100
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


class Desktop:
    def __init__(self, home: Path, display: str, llama_server: Path) -> None:
        self.home = home
        env = dict(os.environ)
        env.update(
            DISPLAY=display,
            HEARTH_HOME=str(home),
            HEARTH_LLAMA_SERVER=str(llama_server),
            QTWEBENGINE_DISABLE_SANDBOX="1",
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = ""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("Serving on "):
                self.url = line.split("Serving on ", 1)[1].strip()
                break
        assert self.url, "the desktop app did not print its URL"

    def wait_ready(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/desktop/state", timeout=2).json()["ready"]:
                    return time.monotonic() - self.started
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError("the window never finished loading its page")

    def menu(self, action: str, **body: object) -> dict:
        reply = requests.post(f"{self.url}/desktop/menu/{action}", json=body, timeout=120)
        assert reply.status_code == 200, reply.text
        return reply.json()["result"]

    def llama_servers(self) -> list[psutil.Process]:
        children = psutil.Process(self.process.pid).children(recursive=True)
        return [c for c in children if c.name().startswith("llama-server")]

    def tree(self) -> list[psutil.Process]:
        return [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(True)]


def screenshot(display: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    subprocess.run(
        ["import", "-display", display, "-window", "root", str(target)], check=True, timeout=30
    )
    return target


def image_spread(path: Path) -> float:
    """Standard deviation of the pixels: 0 for a blank (single-colour) screen."""
    out = subprocess.run(
        ["convert", str(path), "-format", "%[fx:standard_deviation]", "info:"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip())


def test_window_menus_and_clean_exit(
    display: str, tmp_path: Path, llama_server_binary: Path, gemma_gguf_path: Path
) -> None:
    app = Desktop(tmp_path / "home", display, llama_server_binary)
    try:
        seconds = app.wait_ready()
        print(f"launch to loaded page: {seconds:.2f} s")
        shot = screenshot(display, "desktop-window.png")
        assert image_spread(shot) > 0.01, "the screenshot is blank"

        # A second launch focuses this one instead of starting another server.
        second = subprocess.run(
            [sys.executable, "-m", "app"], cwd=REPO, env=app.env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert second.returncode == 0 and "already running" in second.stdout

        # File > Import GGUF… drives the manager; the model shows in the API.
        result = app.menu("import_gguf", path=str(gemma_gguf_path), name="desk:1")
        assert result["status"] == "success"
        tags = requests.get(f"{app.url}/ollama/api/tags", timeout=10).json()["models"]
        assert [m["name"] for m in tags] == ["desk:1"]

        # Load it, then Models > Unload all stops its llama-server.
        requests.post(f"{app.url}/ollama/api/generate", json={"model": "desk:1"}, timeout=120)
        assert len(app.llama_servers()) == 1
        assert app.menu("unload_all")["unloaded"] == 1
        deadline = time.monotonic() + 10
        while app.llama_servers() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert app.llama_servers() == []

        # File > Quit closes the window; nothing of Hearth stays behind.
        requests.post(f"{app.url}/ollama/api/generate", json={"model": "desk:1"}, timeout=120)
        everything = app.tree()
        assert any(p.name().startswith("llama-server") for p in everything)
        requests.post(f"{app.url}/desktop/menu/quit", json={}, timeout=10)
        assert app.process.wait(timeout=30) == 0
        gone, alive = psutil.wait_procs(everything, timeout=15)
        assert not alive, alive
    finally:
        if app.process.poll() is None:
            app.process.kill()


def test_sigterm_and_kill_leave_nothing(
    display: str, tmp_path: Path, llama_server_binary: Path, gemma_gguf_path: Path
) -> None:
    home = tmp_path / "home"
    for how in (signal.SIGTERM, signal.SIGKILL):
        app = Desktop(home, display, llama_server_binary)
        try:
            app.wait_ready()
            if not requests.get(f"{app.url}/ollama/api/tags", timeout=10).json()["models"]:
                app.menu("import_gguf", path=str(gemma_gguf_path), name="desk:1")
            requests.post(f"{app.url}/ollama/api/generate", json={"model": "desk:1"}, timeout=120)
            children = app.llama_servers()
            assert len(children) == 1
            app.process.send_signal(how)
            app.process.wait(timeout=30)
            gone, alive = psutil.wait_procs(children, timeout=5)
            assert not alive, f"llama-server survived {how.name}"
        finally:
            if app.process.poll() is None:
                app.process.kill()
    assert TEST_CACHE.exists()
