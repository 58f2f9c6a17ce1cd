"""Which Python binding of Qt the desktop uses: PySide6 (LGPL-3) wherever it is installed.

Why: pywebview's Qt backend and our tray, menus and message boxes all import
Qt through qtpy, which takes the first binding it finds in the order PyQt5,
PySide2, PyQt6, PySide6. A machine (or an old venv) with PyQt6 (GPL-3) beside
PySide6 would then run, and a build would bundle, the GPL binding under an
MIT app. Setting ``QT_API`` before qtpy is first imported picks PySide6; an
explicit ``QT_API`` in the environment is left alone, and where PySide6 is
missing qtpy keeps its own choice (it raises when the named binding is absent
rather than falling back, so naming it blindly would break such a venv).
"""

from __future__ import annotations

import importlib.util
import os
import sys


def prefer_pyside6() -> str | None:
    """Point qtpy at PySide6 if it is installed and nothing else was asked for.

    Returns the ``QT_API`` now in force (None where qtpy will choose).
    """
    if "QT_API" not in os.environ and importlib.util.find_spec("PySide6") is not None:
        os.environ["QT_API"] = "pyside6"
    return os.environ.get("QT_API")


def qt_line() -> str:
    """The About box's line naming the Qt binding and Qt version, when Qt was loaded.

    Shown so a user (and a test) can tell which binding, and so which licence,
    the running window uses. Empty where Qt is not loaded (Windows, macOS).
    """
    if "qtpy" not in sys.modules:
        return ""
    import qtpy

    binding = qtpy.API_NAME
    version = qtpy.PYSIDE_VERSION or qtpy.PYQT_VERSION or "?"
    return f"\n{binding} {version} (Qt {qtpy.QT_VERSION})"
