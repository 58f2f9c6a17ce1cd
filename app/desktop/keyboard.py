"""The window's keyboard: shortcuts on the native menu bar (Ctrl+N new chat,
Ctrl+Q quit, ...) and the keyboard focus for the page's dialogs.

pywebview's ``MenuAction`` takes no shortcut (its Qt backend makes a plain
``QAction(title)``), so once the window exists its menu actions get their
shortcuts here, on the GUI thread: Qt then both shows them in the menus and
runs the action when the keys are pressed in the window. Only the Qt backend
(Linux) is reached; elsewhere the menus work without shortcuts.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

SHORTCUTS: dict[str, str] = {
    "New chat": "Ctrl+N",
    "Import GGUF…": "Ctrl+O",
    "Quit": "Ctrl+Q",
    "Pull model…": "Ctrl+Shift+P",
    "Model library": "Ctrl+Shift+M",
    "Reload": "Ctrl+R",
    "Zoom in": "Ctrl++",
    "Zoom out": "Ctrl+-",
    "Actual size": "Ctrl+0",
    "Toggle theme": "Ctrl+Shift+L",
    "About Hearth": "F1",
}
"""Menu item title -> key sequence (Qt's portable text: Ctrl is Cmd on macOS)."""

_TIMER: Any = None
_FOCUS: Any = None


def install_shortcuts(applied: dict[str, str]) -> bool:
    """Give the window's menu actions their shortcuts as soon as the window exists.

    Call on the main thread before the event loop starts; ``applied`` is filled
    (title -> shortcut as Qt reads it back) once they are set. False where the
    Qt backend is not in use.
    """
    global _TIMER
    if not sys.platform.startswith("linux"):
        return False
    try:
        from qtpy.QtCore import QTimer
        from qtpy.QtGui import QKeySequence
        from webview.platforms import qt as webview_qt
    except ImportError:
        return False
    webview_qt.setup_app()

    def apply() -> None:
        views = list(webview_qt.BrowserView.instances.values())
        if not views:
            return  # the window is not made yet: look again at the next tick
        for view in views:
            for top in view.menuBar().actions():
                menu = top.menu()
                for action in menu.actions() if menu is not None else []:
                    keys = SHORTCUTS.get(action.text())
                    if keys:
                        action.setShortcut(QKeySequence(keys))
                        applied[action.text()] = action.shortcut().toString()
        _TIMER.stop()
        log.info("menu shortcuts: %s", applied)

    _TIMER = QTimer()
    _TIMER.setInterval(50)
    _TIMER.timeout.connect(apply)
    _TIMER.start()
    _make_focus_bridge()
    return True


def _make_focus_bridge() -> None:
    """A QObject of the GUI thread whose signal, emitted from any thread, focuses the page."""
    global _FOCUS
    from qtpy.QtCore import QObject, Signal
    from webview.platforms import qt as webview_qt

    class FocusBridge(QObject):
        focus = Signal()

        def __init__(self) -> None:
            super().__init__()
            self.focus.connect(self.run)

        def run(self) -> None:
            for view in webview_qt.BrowserView.instances.values():
                view.activateWindow()
                view.webview.setFocus()

    _FOCUS = FocusBridge()


def focus_page() -> None:
    """Give the page the keyboard (from any thread); nothing where the Qt backend is not used."""
    if _FOCUS is not None:
        _FOCUS.focus.emit()
