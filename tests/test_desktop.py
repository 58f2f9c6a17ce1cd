"""The desktop app in a real Qt window under Xvfb: start, menus, single instance, shutdown."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from tests import x11
from tests.conftest import TEST_CACHE
from tests.hearth_process import REPO
from tests.waiting import wait_until

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


def desktop_env(home: Path, display: str, llama_server: Path, **extra: str) -> dict[str, str]:
    """This process's environment for the window app on ``display``, with ``home``."""
    return {
        **os.environ,
        "DISPLAY": display,
        "HEARTH_HOME": str(home),
        "HEARTH_LLAMA_SERVER": str(llama_server),
        "QTWEBENGINE_DISABLE_SANDBOX": "1",
        **extra,
    }


def start_app(env: dict[str, str], stderr: int | None = subprocess.STDOUT) -> subprocess.Popen[str]:
    """``python -m app`` from the repository, stdout piped (stderr into it unless told)."""
    return subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


class Desktop:
    def __init__(
        self,
        home: Path,
        display: str,
        llama_server: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.env = desktop_env(
            home, display, llama_server, PYTHONUNBUFFERED="1", **(extra_env or {})
        )
        self.started = time.monotonic()
        self.process = start_app(self.env)
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
                if requests.get(f"{self.url}/desktop/state", timeout=2).json()["interactive"]:
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

    def kill_if_running(self) -> None:
        """Kill the app if it still runs, so a failed test leaves none behind (``with Desktop(...)
        as app:`` does this on leaving the block)."""
        if self.process.poll() is None:
            self.process.kill()

    def __enter__(self) -> Desktop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill_if_running()

    def tree(self) -> list[psutil.Process]:
        return [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(True)]


def screenshot(display: str, name: str, window: int | None = None) -> Path:
    """The whole screen, or only ``window`` (an X window id), as a PNG artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    which = "root" if window is None else hex(window)
    subprocess.run(
        ["import", "-display", display, "-window", which, str(target)], check=True, timeout=30
    )
    return target


def load_and_list_processes(app: Desktop) -> list[psutil.Process]:
    """Load desk:1, then the app's whole process tree (its llama-server among them)."""
    requests.post(f"{app.url}/ollama/api/generate", json={"model": "desk:1"}, timeout=120)
    everything = app.tree()
    assert any(p.name().startswith("llama-server") for p in everything)
    return everything


def assert_quit_cleanly(app: Desktop, everything: list[psutil.Process], home: Path) -> None:
    """Exit status 0, every process of the app's tree gone, the database closed cleanly
    (the last connection checkpointed its WAL away)."""
    assert app.process.wait(timeout=30) == 0
    gone, alive = psutil.wait_procs(everything, timeout=15)
    assert not alive, alive
    assert not (home / "hearth.db-wal").exists()


def wait_for_window(
    connection: Any, pid: int, title: str, other_than: Any = None, timeout: float = 20
) -> Any:
    """The first viewable top-level window of ``pid`` whose title contains ``title``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for window in x11.app_windows(connection, pid):
            skip = other_than is not None and window.id == other_than.id
            if not skip and title in (window.get_wm_name() or ""):
                return window
        time.sleep(0.1)
    raise AssertionError(f"no window titled {title!r} opened")


def wait_for_dialog(app: Desktop, title: str | None, timeout: float = 20) -> None:
    """Until Hearth's own dialog titled ``title`` is open in the page (None: none is)."""
    wait_until(
        lambda: requests.get(f"{app.url}/desktop/state", timeout=5).json()["dialog"] == title,
        f"the page's dialog is not {title!r}",
        timeout=timeout,
        interval=0.1,
    )


def menu_bar_opens(connection: Any, app: Desktop, window: Any, name: str) -> None:
    """Click the menu bar's first title (File); a popup window of Hearth's must open."""
    before = {w.id for w in x11.app_windows(connection, app.process.pid)}
    x11.click_at(connection, window, 20, 12)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        popups = [w for w in x11.app_windows(connection, app.process.pid) if w.id not in before]
        if popups:
            screenshot(display_of(connection), name)
            x11.press(connection, None, "Escape")
            return
        time.sleep(0.1)
    raise AssertionError("the menu bar did not open")


def display_of(connection: Any) -> str:
    return connection.get_display_name()


def tray_menu(connection: Any, pid: int, *keys: str) -> None:
    """Right-click Hearth's icon in the tray host, then press ``keys`` in its menu."""
    (icon,) = x11.embedded_windows(connection, pid)
    x11.click(connection, icon, button=3)
    time.sleep(0.5)  # the menu pops up and grabs the keyboard
    for key in keys:
        x11.press(connection, None, key)
        time.sleep(0.1)


def image_size(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        ["identify", "-format", "%w %h", str(path)], capture_output=True, text=True, check=True
    ).stdout
    width, height = out.split()
    return int(width), int(height)


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
    with Desktop(tmp_path / "home", display, llama_server_binary) as app:
        seconds = app.wait_ready()
        print(f"launch to interactive page: {seconds:.2f} s")
        with x11.connect(display) as connection:
            window = x11.app_window(connection, app.process.pid)
            assert window is not None, "no viewable window of the Hearth process"
            shot = screenshot(display, "desktop-window.png", window=window.id)
            assert image_spread(shot) > 0.01, "the window's screenshot is blank"
            geometry = window.get_geometry()
            assert image_size(shot) == (geometry.width, geometry.height)

            # A second launch raises this window (here from under another
            # client's window) instead of starting another server.
            cover = x11.cover_with_window(connection)
            assert x11.stacking_index(connection, window) < x11.stacking_index(connection, cover)
            second = subprocess.run(
                [sys.executable, "-m", "app"], cwd=REPO, env=app.env, capture_output=True,
                text=True, timeout=60,
            )  # fmt: skip
            assert second.returncode == 0 and "already running" in second.stdout
            wait_until(
                lambda: (
                    x11.stacking_index(connection, window) > x11.stacking_index(connection, cover)
                ),
                "the second launch did not raise the window",
            )
            cover.destroy()
            connection.sync()

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

        # The page-side menu actions run without errors in the real window.
        for action in ("new_chat", "model_library", "zoom_in", "zoom_out", "zoom_reset"):
            app.menu(action)
        # View > Toggle theme reaches the page, which saves the theme through /api/v1.
        settings = f"{app.url}/api/v1/settings"
        assert requests.get(settings, timeout=10).json()["theme"] == "system"
        app.menu("toggle_theme")
        wait_until(
            lambda: requests.get(settings, timeout=10).json()["theme"] != "system",
            "toggle_theme never reached the page",
        )
        first = requests.get(settings, timeout=10).json()["theme"]
        app.menu("toggle_theme")
        wait_until(
            lambda: requests.get(settings, timeout=10).json()["theme"] != first,
            "a second toggle did not flip the theme",
        )
        # Help > About names Hearth, llama.cpp, the llama-server build and its backend.
        about = app.menu("about", show=False)["about"]
        assert "Hearth " in about and "llama-cpp-python" in about and "cpu backend" in about
        # The window runs on PySide6 (LGPL) wherever it is installed, never PyQt6 (GPL).
        if importlib.util.find_spec("PySide6") is not None:
            assert "PySide6 " in about and "PyQt" not in about, about
        # Shown, it is Hearth's About box in the page (not a bare confirmation dialog).
        app.menu("about")
        wait_for_dialog(app, "About Hearth")
        app.menu("reload")
        app.wait_ready()

        # File > Quit closes the window; nothing of Hearth stays behind.
        everything = load_and_list_processes(app)
        requests.post(f"{app.url}/desktop/menu/quit", json={}, timeout=10)
        home = tmp_path / "home"
        assert_quit_cleanly(app, everything, home)
        assert f"Serving on {app.url}" in (home / "logs" / "hearth.log").read_text()


def test_closing_the_window_quits_cleanly(
    display: str, tmp_path: Path, llama_server_binary: Path, gemma_gguf_path: Path
) -> None:
    """The window's close button (the window manager's WM_DELETE_WINDOW) is a full quit."""
    home = tmp_path / "home"
    with Desktop(home, display, llama_server_binary) as app:
        app.wait_ready()
        app.menu("import_gguf", path=str(gemma_gguf_path), name="desk:1")
        everything = load_and_list_processes(app)
        with x11.connect(display) as connection:
            window = x11.app_window(connection, app.process.pid)
            assert window is not None
            x11.request_close(connection, window)
        assert_quit_cleanly(app, everything, home)
        assert not (home / "instance.json").exists(), "the next launch would try to focus it"


def test_import_and_pull_through_their_dialogs(
    display: str, tmp_path: Path, llama_server_binary: Path, gemma_gguf_path: Path
) -> None:
    """File > Import GGUF… and Models > Pull model… as a person uses them: Qt's file
    dialog and the page's name prompt get real key presses (XTEST)."""
    with Desktop(tmp_path / "home", display, llama_server_binary) as app:
        app.wait_ready()
        with x11.connect(display) as connection:
            main = x11.app_window(connection, app.process.pid)
            assert main is not None

            def next_dialog(title: str) -> x11.Window:
                return wait_for_window(connection, app.process.pid, title, other_than=main)

            def menu_in_background(action: str) -> dict:
                answer: dict = {}

                def call() -> None:
                    reply = requests.post(f"{app.url}/desktop/menu/{action}", json={}, timeout=120)
                    answer.update(reply.json())

                worker = threading.Thread(target=call)
                worker.start()
                answer["_thread"] = worker
                return answer

            imported = menu_in_background("import_gguf")
            files = next_dialog("Open file")
            screenshot(display, "desktop-file-dialog.png", window=files.id)
            x11.type_text(connection, files, f"{gemma_gguf_path}\n")
            # The name is asked in Hearth's own dialog, in the page (not window.prompt).
            wait_for_dialog(app, "Import a GGUF model")
            x11.press(connection, main, "Control_L", "a")
            x11.type_text(connection, main, "dialog:1\n")
            imported["_thread"].join(60)
            assert imported["result"] == {"status": "success", "model": "dialog:1"}
            tags = requests.get(f"{app.url}/ollama/api/tags", timeout=10).json()["models"]
            assert [model["name"] for model in tags] == ["dialog:1"]

            # Models > Pull model…: the page's dialog with suggestions; Escape cancels.
            pulled = menu_in_background("pull_model")
            wait_for_dialog(app, "Pull a model")
            time.sleep(0.5)  # painted, for the screenshot
            screenshot(display, "desktop-pull-dialog.png", window=main.id)
            x11.press(connection, main, "Escape")
            pulled["_thread"].join(60)
            assert pulled["result"] == {"status": "cancelled"}
            assert requests.get(f"{app.url}/ollama/api/pulls", timeout=10).json()["pulls"] == []
            wait_for_dialog(app, None)
            # No window titled "JavaScript Prompt" came, and the menu bar still opens.
            assert all(
                "Prompt" not in (w.get_wm_name() or "")
                for w in x11.app_windows(connection, app.process.pid)
            )
            menu_bar_opens(connection, app, main, "desktop-file-menu.png")


def test_sigterm_and_kill_leave_nothing(
    display: str, tmp_path: Path, llama_server_binary: Path, gemma_gguf_path: Path
) -> None:
    home = tmp_path / "home"
    for how in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        with Desktop(home, display, llama_server_binary) as app:
            app.wait_ready()
            if not requests.get(f"{app.url}/ollama/api/tags", timeout=10).json()["models"]:
                app.menu("import_gguf", path=str(gemma_gguf_path), name="desk:1")
            requests.post(f"{app.url}/ollama/api/generate", json={"model": "desk:1"}, timeout=120)
            children = app.llama_servers()
            assert len(children) == 1
            app.process.send_signal(how)
            code = app.process.wait(timeout=30)
            gone, alive = psutil.wait_procs(children, timeout=5)
            assert not alive, f"llama-server survived {how.name}"
            if how != signal.SIGKILL:  # Ctrl+C and SIGTERM are a normal quit
                assert code == 0, f"{how.name} exit status {code}"
                assert not (home / "hearth.db-wal").exists()
    assert TEST_CACHE.exists()


def test_tray_icon_and_menu_pull(
    display: str,
    tmp_path: Path,
    llama_server_binary: Path,
    registry,  # type: ignore[no-untyped-def]
    gemma_gguf_path: Path,
) -> None:
    """With a tray host on the screen the icon is installed; Models > Pull model… pulls."""
    from tests.registry import push_model

    if shutil.which("trayer") is None:
        pytest.fail("trayer is required for the tray test: apt-get install trayer")
    tray_host = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "120"],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    push_model(registry.url, "library/menupull", "1", [("model", gemma_gguf_path)], {})
    home = tmp_path / "home"
    home.mkdir()
    # The window opens at the size and place it had last time.
    (home / "window.json").write_text(json.dumps({"width": 900, "height": 640, "x": 130, "y": 70}))
    # HEARTH_PULL_MAX_BPS: a named stand-in for a slow network, so the pull is seen running.
    app = Desktop(home, display, llama_server_binary, {"HEARTH_PULL_MAX_BPS": "40e6"})
    stack = contextlib.ExitStack()
    try:
        app.wait_ready()
        state = requests.get(f"{app.url}/desktop/state", timeout=5).json()
        assert state["tray"] is True
        assert state["geometry"] == {"width": 900, "height": 640}
        connection = stack.enter_context(x11.connect(display))
        window = x11.app_window(connection, app.process.pid)
        assert window is not None
        assert x11.position(connection, window) == (130, 70)
        # The icon is docked in the tray host (a window of Hearth's inside trayer's).
        assert len(x11.embedded_windows(connection, app.process.pid)) == 1
        assert state["title"] == "Hearth"
        name = f"{registry.host}/library/menupull:1"
        # Tray > Pull model… (second item) asks for a name in the page's dialog and pulls.
        tray_menu(connection, app.process.pid, "Down", "Down", "Return")
        wait_for_dialog(app, "Pull a model")
        x11.type_text(connection, window, f"{name}\n")
        wait_until(
            lambda: requests.get(f"{app.url}/ollama/api/pulls", timeout=5).json()["pulls"],
            "the tray's Pull model… started no pull",
            timeout=20,
        )
        # Tray > Pulls in progress lists it (saved as a screenshot).
        tray_menu(connection, app.process.pid, "Down", "Down", "Down", "Right")
        screenshot(display, "desktop-tray-menu.png")
        x11.press(connection, None, "Escape")
        x11.press(connection, None, "Escape")
        titles: set[str] = set()
        deadline = time.monotonic() + 120
        names: list[str] = []
        while time.monotonic() < deadline and name not in names:
            titles.add(requests.get(f"{app.url}/desktop/state", timeout=5).json()["title"])
            names = [
                m["name"]
                for m in requests.get(f"{app.url}/ollama/api/tags", timeout=5).json()["models"]
            ]
            time.sleep(0.2)
        assert name in names
        # The title showed the pull while it ran, then went back.
        assert any(re.fullmatch(r"Hearth — pulling .*menupull:1 \d+%", t) for t in titles), titles
        wait_until(
            lambda: requests.get(f"{app.url}/desktop/state", timeout=5).json()["title"] == "Hearth",
            "the title kept showing a finished pull",
            timeout=5,
            interval=0.2,
        )
        # Tray > Quit Hearth (the last item: Up from none selected) quits cleanly.
        tray_menu(connection, app.process.pid, "Up", "Return")
        assert app.process.wait(timeout=30) == 0
        saved = json.loads((home / "window.json").read_text())
        assert (saved["width"], saved["height"], saved["x"], saved["y"]) == (900, 640, 130, 70)
    finally:
        stack.close()
        app.kill_if_running()
        tray_host.terminate()
        tray_host.wait(timeout=10)


def test_no_display_runs_the_server(tmp_path: Path, llama_server_binary: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    env.update(HEARTH_HOME=str(tmp_path), HEARTH_LLAMA_SERVER=str(llama_server_binary))
    env.pop("QT_QPA_PLATFORM", None)
    process = start_app(env, stderr=None)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert "No display available" in first
        assert second.startswith("Serving on http://127.0.0.1:")
        url = second.split("Serving on ", 1)[1].strip()
        assert requests.get(f"{url}/ollama/api/version", timeout=10).status_code == 200
        # SIGTERM right away is a clean stop, as for `hearth serve`.
        process.terminate()
        assert process.wait(timeout=20) == 0
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_menu_shortcuts_new_chat_and_quit(
    display: str, tmp_path: Path, llama_server_binary: Path
) -> None:
    """The menus carry shortcuts; Ctrl+N (typed in the window) opens a new chat, Ctrl+Q quits."""
    with Desktop(tmp_path / "home", display, llama_server_binary) as app:
        app.wait_ready()
        state = requests.get(f"{app.url}/desktop/state", timeout=5).json()
        assert state["shortcuts"]["New chat"] == "Ctrl+N"
        assert state["shortcuts"]["Quit"] == "Ctrl+Q"
        assert state["shortcuts"]["About Hearth"] == "F1"
        app.menu("model_library")
        wait_until(
            lambda: (
                requests.get(f"{app.url}/desktop/state", timeout=5).json()["route"] == "#/models"
            ),
            "Model library did not open the models page",
        )
        with x11.connect(display) as connection:
            window = x11.app_window(connection, app.process.pid)
            assert window is not None
            x11.press(connection, window, "Control_L", "n")
            wait_until(
                lambda: (
                    requests.get(f"{app.url}/desktop/state", timeout=5).json()["route"]
                    in ("#/", "")
                ),
                "Ctrl+N did not open a new chat",
            )
            x11.press(connection, window, "F1")
            wait_for_dialog(app, "About Hearth")
            time.sleep(0.5)  # painted, for the screenshot
            screenshot(display, "desktop-about.png", window=window.id)
            x11.press(connection, window, "Escape")
            wait_for_dialog(app, None)
            # (Last: after a menu closes, Qt's menu bar keeps the keyboard for one Escape.)
            menu_bar_opens(connection, app, window, "desktop-menu-shortcuts.png")
            # The menu bar keeps the keyboard for one more Escape; give it that, and
            # time to let go, so Ctrl+Q reaches the window's shortcut.
            time.sleep(0.5)
            x11.press(connection, window, "Escape")
            time.sleep(0.5)
            x11.press(connection, window, "Control_L", "q")
        assert app.process.wait(timeout=30) == 0


def test_launch_while_serve_holds_the_data_shows_a_message(
    display: str, tmp_path: Path, llama_server_binary: Path
) -> None:
    """The window app started on a data folder that `hearth serve` holds says so on
    the screen (a message box), and on stderr, then exits 1; before, it exited silently."""
    from tests.hearth_process import HearthProcess

    home = tmp_path / "home"
    serve = HearthProcess(home, llama_server_binary)
    serve.start()
    launch = start_app(desktop_env(home, display, llama_server_binary), stderr=subprocess.PIPE)
    try:
        with x11.connect(display) as connection:
            box = wait_for_window(connection, launch.pid, "Hearth is already running", timeout=30)
            screenshot(display, "desktop-already-running.png", window=box.id)
            assert launch.poll() is None, "it exited without showing the message"
            x11.press(connection, box, "Return")
        assert launch.wait(timeout=30) == 1
        stderr = launch.stderr.read() if launch.stderr else ""
        assert "already running without a window" in stderr and serve.url in stderr, stderr
        # The server is untouched.
        assert requests.get(f"{serve.url}/ollama/api/version", timeout=10).status_code == 200
    finally:
        if launch.poll() is None:
            launch.kill()
        serve.stop()
