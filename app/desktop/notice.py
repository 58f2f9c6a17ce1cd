"""A message box before (or instead of) the window, for launches with no terminal.

Why: the app is started from a desktop menu or a dock, where a line on
stderr is read by nobody; a launch that cannot open its window (the data
folder is held by ``hearth serve``) must say why on the screen, not exit in
silence. Qt (pywebview's backend on Linux) shows it; where Qt is missing,
Tk's box if Python has it; with neither, the stderr line is all there is.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


def show_message(title: str, text: str) -> bool:
    """Show ``text`` in a modal warning box and wait until it is closed; False if none."""
    try:
        from qtpy.QtWidgets import QApplication, QMessageBox
    except ImportError:
        return _tk_message(title, text)
    app = QApplication.instance() or QApplication(sys.argv)
    box = QMessageBox(QMessageBox.Icon.Warning, title, text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()
    app.processEvents()
    return True


def _tk_message(title: str, text: str) -> bool:
    try:
        import tkinter
        from tkinter import messagebox
    except ImportError:
        log.warning("no toolkit to show a message box: %s", text)
        return False
    try:
        root = tkinter.Tk()
    except tkinter.TclError:
        return False
    root.withdraw()
    messagebox.showwarning(title, text, parent=root)
    root.destroy()
    return True
