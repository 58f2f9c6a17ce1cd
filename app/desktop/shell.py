"""The desktop app: a native window on the embedded server, with a menu bar.

Start-up order: take the single-instance lock, start the manager and the
HTTP server on a free 127.0.0.1 port, print its URL, then open the window on
it. Every menu item is a named action; the same actions are reachable over
``/desktop/menu/<action>`` so the page (and tests) can trigger exactly what
the native menu does. Quitting, however it happens, stops every llama-server
and the server, and releases the lock.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from app import __version__
from app.chats import ChatStore
from app.desktop.instance import InstanceLock, focus_running, running_url
from app.desktop.keyboard import focus_page, install_shortcuts
from app.desktop.notice import show_message
from app.desktop.qt_binding import qt_line
from app.desktop.tray import ICON, install_tray
from app.doctor import llama_server_info
from app.hearth import Hearth
from app.pins import LLAMA_CPP_PYTHON_VERSION
from app.runner.child_env import foreign_child_env
from app.server import HTTPServer
from app.settings import Settings
from app.web import create_app
from app.web.factory import create_ollama_app

log = logging.getLogger(__name__)
DEFAULT_GEOMETRY = {"width": 1200, "height": 800}
ASK_TIMEOUT_S = 3600.0
"""How long a menu action waits for an answer in the page's dialog."""


def has_display() -> bool:
    """Whether a window can be shown (Linux needs X11 or Wayland, or Qt offscreen)."""
    if sys.platform != "linux":
        return True
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606
    else:
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        subprocess.Popen(
            [opener, str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=foreign_child_env(),  # not the frozen bundle's LD_LIBRARY_PATH
            # The shell blocks SIGTERM/SIGINT in its threads; the file manager must not inherit it.
            preexec_fn=_unblock_signals,
            start_new_session=True,
        )


def _unblock_signals() -> None:  # pragma: no cover - runs in the child
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})


class DesktopShell:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.manager: Hearth | None = None
        self.server: HTTPServer | None = None
        self.drop_in: HTTPServer | None = None
        self.chats: ChatStore | None = None
        self.window: Any = None
        self.tray: Any = None
        self.ready = threading.Event()
        self.quitting = threading.Event()
        self.title = "Hearth"
        """The window title as last set (pulls in progress show there)."""
        self.shortcuts: dict[str, str] = {}
        """Menu item -> keyboard shortcut, once set on the window's menu bar."""
        self.geometry_path = settings.data_dir / "window.json"
        self.actions: dict[str, Callable[[dict[str, Any]], Any]] = {
            "new_chat": lambda _: self._js("window.hearth && window.hearth.newChat()"),
            "import_gguf": self.import_gguf,
            "quit": lambda _: self.quit(),
            "pull_model": self.pull_model,
            "model_library": lambda _: self._navigate("#/models"),
            "unload_all": lambda _: {"unloaded": self._manager().unload_all()},
            "reload": lambda _: self._js("location.reload()"),
            "zoom_in": lambda _: self._zoom(1.1),
            "zoom_out": lambda _: self._zoom(1 / 1.1),
            "zoom_reset": lambda _: self._zoom(None),
            "toggle_theme": lambda _: self._js("window.hearth && window.hearth.toggleTheme()"),
            "about": self.about,
            "focus": lambda _: self.focus(),
            "open_logs": lambda _: open_folder(self.settings.log_dir),
            "open_models": lambda _: open_folder(self.settings.models_dir),
        }

    # -- helpers -------------------------------------------------------
    def _manager(self) -> Hearth:
        assert self.manager is not None
        return self.manager

    def _js(self, script: str) -> Any:
        if self.window is None:
            return None
        return self.window.evaluate_js(script)

    def _navigate(self, fragment: str) -> None:
        self._js(f"location.hash = {json.dumps(fragment)}")

    def _zoom(self, factor: float | None) -> None:
        if factor is None:
            self._js("document.body.style.zoom = '1'")
        else:
            self._js(
                "document.body.style.zoom = String((parseFloat(document.body.style.zoom) || 1)"
                f" * {factor})"
            )

    def _ask(self, script: str, timeout: float = ASK_TIMEOUT_S) -> str | None:
        """Hearth's own question dialog in the page; the answer, or None when cancelled.

        Why not ``window.prompt()``: in Qt WebEngine that is a bare box titled
        "JavaScript Prompt - http://127.0.0.1:PORT/", and it held the GUI
        thread in a nested event loop (the menu bar no longer opened after
        it). ``script`` returns a promise (``window.hearth.ask(...)``); the
        page answers through pywebview's callback while this thread waits.
        """
        if self.window is None:
            return None
        # Asked from the tray, the window may be behind others or minimized: bring it
        # up, keyboard and all, so the question is seen and can be typed into.
        self.focus()
        focus_page()
        answered = threading.Event()
        answer: list[Any] = [None]

        def got(value: Any) -> None:
            answer[0] = value
            answered.set()

        try:
            self.window.evaluate_js(
                f"window.hearth ? {script} : Promise.resolve(null)", callback=got
            )
        except Exception:  # noqa: BLE001 - a page that is not loaded: no dialog, no answer
            log.exception("the in-page dialog did not open")
            return None
        answered.wait(timeout)
        value = answer[0]
        return value.strip() if isinstance(value, str) and value.strip() else None

    # -- menu actions --------------------------------------------------
    def import_gguf(self, args: dict[str, Any]) -> dict[str, Any]:
        path = args.get("path")
        if not path and self.window is not None:
            import webview

            chosen = self.window.create_file_dialog(
                webview.FileDialog.OPEN, file_types=("GGUF models (*.gguf)", "All files (*.*)")
            )
            path = chosen[0] if chosen else None
        if not path:
            return {"status": "cancelled"}
        question = {
            "title": "Import a GGUF model",
            "label": "Name for the imported model",
            "value": Path(path).stem,
            "confirm": "Import",
        }
        name = args.get("name") or self._ask(f"window.hearth.ask({json.dumps(question)})")
        if not name:
            return {"status": "cancelled"}
        statuses = list(self._manager().import_gguf(Path(path), name))
        last = statuses[-1] if statuses else {}
        self._js("window.hearth && window.hearth.refreshModels()")
        return {"status": last.get("status", "success"), "model": name}

    def pull_model(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("name") or self._ask("window.hearth.askPull()")
        if not name:
            return {"status": "cancelled"}
        self._manager().start_pull(name, insecure=bool(args.get("insecure")))
        return {"status": "started", "model": name}

    def about(self, args: dict[str, Any]) -> dict[str, str]:
        """Hearth's About box in the page (versions, licence, data folder); ``{"show":
        false}`` only returns the text."""
        server = llama_server_info(self.settings)
        if server.get("found"):
            engine = (
                f"llama-server {server.get('version') or '(version unknown)'}, "
                f"{server.get('backend', 'unknown')} backend"
            )
        else:
            engine = "llama-server: not found"
        text = (
            f"Hearth {__version__}\n"
            f"llama.cpp from llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}\n"
            f"{engine}\n"
            f"Python {platform.python_version()} on {platform.system()}"
            f"{qt_line()}"
        )
        if args.get("show", True):
            self._js("window.hearth && window.hearth.about()")
        return {"about": text}

    def focus(self) -> None:
        if self.window is not None:
            self.window.restore()
            self.window.show()

    def quit(self) -> None:
        """Close the window; asked before the window exists, the app never opens it."""
        self.quitting.set()
        if self.window is not None:
            self.window.destroy()

    # -- control routes ------------------------------------------------
    def control_blueprint(self) -> Blueprint:
        control = Blueprint("desktop", __name__)

        @control.get("/desktop/state")
        def state() -> Response:
            interactive = False
            route = dialog = None
            if self.ready.is_set():
                # The UI marks 'hearth:ready' once settings, models and chats are loaded.
                mark = "performance.getEntriesByName('hearth:ready').length > 0"
                interactive = bool(self._js(mark))
                route = self._js("location.hash")
                # The title of Hearth's dialog open in the page, if one is (menus open them).
                dialog = self._js("document.querySelector('dialog[open] h2')?.textContent || null")
            window = self.window
            geometry = (
                {"width": window.width, "height": window.height} if window is not None else None
            )
            return jsonify(
                ready=self.ready.is_set(),
                interactive=interactive,
                tray=self.tray is not None,
                title=self.title,
                geometry=geometry,
                route=route,
                dialog=dialog,
                shortcuts=self.shortcuts,
                actions=sorted(self.actions),
            )

        @control.post("/desktop/focus")
        def focus() -> Response:
            self.focus()
            return jsonify(focused=self.window is not None)

        @control.post("/desktop/menu/<action>")
        def menu(action: str) -> ResponseReturnValue:
            handler = self.actions.get(action)
            if handler is None:
                return jsonify(error=f"unknown menu action {action!r}"), 404
            body = request.get_json(silent=True) or {}
            return jsonify(result=handler(body if isinstance(body, dict) else {}))

        return control

    def menus(self) -> list[Any]:
        from webview.menu import Menu, MenuAction, MenuSeparator

        def item(title: str, action: str) -> MenuAction:
            return MenuAction(title, lambda: self._run_action(action))

        return [
            Menu(
                "File",
                [
                    item("New chat", "new_chat"),
                    item("Import GGUF…", "import_gguf"),
                    MenuSeparator(),
                    item("Quit", "quit"),
                ],
            ),
            Menu(
                "Models",
                [
                    item("Pull model…", "pull_model"),
                    item("Model library", "model_library"),
                    item("Unload all", "unload_all"),
                ],
            ),
            Menu(
                "View",
                [
                    item("Reload", "reload"),
                    item("Zoom in", "zoom_in"),
                    item("Zoom out", "zoom_out"),
                    item("Actual size", "zoom_reset"),
                    item("Toggle theme", "toggle_theme"),
                ],
            ),
            Menu(
                "Help",
                [
                    item("About Hearth", "about"),
                    item("Open logs folder", "open_logs"),
                    item("Open models folder", "open_models"),
                ],
            ),
        ]

    def _run_action(self, action: str) -> None:
        try:
            self.actions[action]({})
        except Exception as error:  # noqa: BLE001 - a menu click must never kill the app
            log.exception("menu action %s failed", action)
            self._js(f"window.hearth && window.hearth.error({json.dumps(str(error))})")

    # -- geometry ------------------------------------------------------
    def _load_geometry(self) -> dict[str, int]:
        try:
            saved = json.loads(self.geometry_path.read_text())
            return {k: int(v) for k, v in saved.items() if k in {"width", "height", "x", "y"}}
        except (OSError, ValueError, TypeError):
            return dict(DEFAULT_GEOMETRY)

    def _save_geometry(self) -> None:
        window = self.window
        if window is None:
            return
        geometry = {"width": window.width, "height": window.height, "x": window.x, "y": window.y}
        try:
            self.geometry_path.write_text(json.dumps(geometry))
        except OSError:
            log.warning("could not save the window geometry")

    def _watch_title(self) -> None:
        """Show pulls in progress in the window title, as the menu bar cannot change."""
        base = "Hearth"
        shown = self.title = base
        while self.window is not None and self.manager is not None:
            title = base
            active = self.manager.list_pulls()
            if active:
                first = active[0]
                total = first.get("total") or 0
                percent = f" {100 * first.get('completed', 0) // total}%" if total else ""
                title = f"{base} — pulling {first.get('model')}{percent}"
                if len(active) > 1:
                    title += f" (+{len(active) - 1})"
            if title != shown:
                self.window.set_title(title)
                shown = self.title = title
            time.sleep(0.5)

    # -- lifecycle -----------------------------------------------------
    def run(self) -> int:
        import webview

        self.settings.ensure_dirs()
        lock = InstanceLock(self.settings.data_dir)
        if not lock.acquire():
            if focus_running(self.settings.data_dir):
                print("Hearth is already running: focused its window.", flush=True)
                return 0
            return self._held_elsewhere()
        # Signals go to a waiter thread: the Qt event loop never returns to
        # Python in the main thread, so a normal handler would never run.
        watched = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        threading.Thread(target=self._wait_for_signal, args=(watched,), daemon=True).start()
        try:
            self.manager = Hearth(self.settings)
            app = create_app(self.settings, self.manager)
            self.chats = self.manager.chats
            app.register_blueprint(self.control_blueprint())
            self.server = HTTPServer(app, "127.0.0.1", 0)
            self.server.start_in_thread()
            lock.publish(self.server.url)
            self._start_drop_in()
            self.manager.start()
            log.info("Serving on %s", self.server.url)
            print(f"Serving on {self.server.url}", flush=True)
            geometry = self._load_geometry()
            self.window = webview.create_window(
                "Hearth",
                self.server.url + "/",
                width=geometry.get("width", 1200),
                height=geometry.get("height", 800),
                x=geometry.get("x"),
                y=geometry.get("y"),
                min_size=(480, 360),
                menu=self.menus(),
            )
            self.window.events.loaded += self.ready.set
            self.window.events.resized += lambda *_: self._save_geometry()
            self.window.events.moved += lambda *_: self._save_geometry()
            self.window.events.closing += self._save_geometry
            threading.Thread(target=self._watch_title, daemon=True).start()
            self.tray = install_tray(self._run_action, self._manager().list_pulls)
            install_shortcuts(self.shortcuts)
            if self.quitting.is_set():
                return 0  # SIGTERM or Ctrl+C came during start-up: stop here, cleanly
            webview.start(
                gui="qt" if sys.platform == "linux" else None,
                icon=str(ICON),
                private_mode=False,
                storage_path=str(self.settings.data_dir / "webview"),
            )
        finally:
            self.window = None
            self.shutdown()
            lock.release()
        return 0

    def _held_elsewhere(self) -> int:
        """Another Hearth with no window (``hearth serve``) holds the data directory.

        Launched from a desktop menu there is no terminal to read: say so in a
        message box as well as on stderr, and name the address it serves.
        """
        where = running_url(self.settings.data_dir)
        text = (
            f"Hearth is already running without a window on this data folder:\n"
            f"{self.settings.data_dir}\n\n"
            + (f"It serves the chat at {where} — open that in a browser, or " if where else "")
            + "stop that Hearth (hearth serve) and launch the app again."
        )
        print(f"error: {' '.join(text.split())}", file=sys.stderr, flush=True)
        show_message("Hearth is already running", text)
        return 1

    def _start_drop_in(self) -> None:
        """The opt-in Ollama drop-in port (setting, flag or env), if one is asked for.

        A busy port (an Ollama already running there, say) is reported and
        skipped: the window is still useful without it.
        """
        port = self.settings.ollama_port
        if not port or self.manager is None:
            return
        server = HTTPServer(create_ollama_app(self.settings, self.manager), "127.0.0.1", port)
        try:
            server.start_in_thread()
        except OSError as error:
            log.warning("Ollama drop-in port %s not opened: %s", port, error)
            print(f"warning: cannot serve the Ollama API on port {port}: {error}", flush=True)
            return
        self.drop_in = server
        print(f"Ollama drop-in API: {server.url}/api", flush=True)

    def _wait_for_signal(self, watched: set[signal.Signals]) -> None:
        signal.sigwait(watched)
        log.info("signal received: closing the window")
        self.quit()

    def shutdown(self) -> None:
        """Stop the HTTP server, then the Hearth: chat database, pulls, each llama-server.

        Pulls in progress are kept on disk and resume at the next start.
        """
        for server in (self.drop_in, self.server):
            if server is not None:
                server.stop()
        self.server = self.drop_in = None
        self.chats = None  # closed by the Hearth
        if self.manager is not None:
            self.manager.close()
            self.manager = None


def run_desktop(settings: Settings) -> int:
    if sys.platform == "linux" and os.geteuid() == 0:
        # Qt WebEngine refuses to start as root without this.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    return DesktopShell(settings).run()
