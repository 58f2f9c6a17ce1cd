"""A status-bar (system tray) icon: Open, Pull model…, pulls in progress, Quit.

Available where the Qt backend runs and the desktop offers a tray (Linux
desktops with an XEmbed or StatusNotifier tray). Elsewhere — macOS and
Windows use other pywebview backends for now, and bare X servers have no
tray — it is simply not shown, and the log says so.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ICON = Path(__file__).resolve().parent / "assets" / "hearth.png"
_QT_APP: Any = None


def install_tray(
    run_action: Callable[[str], None], list_pulls: Callable[[], list[dict[str, Any]]]
) -> Any | None:
    """Create the tray icon on the GUI thread, before the event loop starts."""
    if not sys.platform.startswith("linux"):
        log.info("tray icon: not available on %s with this backend", sys.platform)
        return None
    try:
        from qtpy.QtGui import QIcon
        from qtpy.QtWidgets import QApplication, QMenu, QSystemTrayIcon
    except ImportError:
        return None
    global _QT_APP
    # The application is pywebview's own, made the way it makes it (Qt
    # WebEngine imported first, its Chromium flags set), and kept in a module
    # global. Before, one made here was held only by a local: it was
    # destroyed when this function returned, the tray icon (its child) with
    # it, and pywebview made a second application with no icon.
    try:
        from webview.platforms import qt as webview_qt

        webview_qt.setup_app()
    except ImportError:
        pass
    app = _QT_APP = QApplication.instance() or QApplication(sys.argv)
    if not QSystemTrayIcon.isSystemTrayAvailable():
        log.info("tray icon: this desktop has no system tray")
        return None
    tray = QSystemTrayIcon(QIcon(str(ICON)), app)
    tray.setToolTip("Hearth")
    menu = QMenu()

    def background(action: str) -> Callable[..., None]:
        # Qt calls this on the GUI thread; the actions may block (prompts, imports).
        return lambda *_: threading.Thread(target=run_action, args=(action,), daemon=True).start()

    menu.addAction("Open Hearth").triggered.connect(background("focus"))
    menu.addAction("Pull model…").triggered.connect(background("pull_model"))
    pulls_menu = menu.addMenu("Pulls in progress")
    menu.addSeparator()
    menu.addAction("Quit Hearth").triggered.connect(background("quit"))

    def refresh_pulls() -> None:
        pulls_menu.clear()
        active = list_pulls()
        if not active:
            pulls_menu.addAction("None").setEnabled(False)
        for pull in active:
            total = pull.get("total") or 0
            done = f" {100 * pull.get('completed', 0) // total}%" if total else ""
            pulls_menu.addAction(f"{pull.get('model')}{done}").setEnabled(False)

    menu.aboutToShow.connect(refresh_pulls)
    refresh_pulls()
    tray.setContextMenu(menu)
    tray.activated.connect(background("focus"))
    tray.show()
    tray._hearth_menu = menu  # type: ignore[attr-defined]  # alive as long as the icon
    return tray
