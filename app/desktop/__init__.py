"""The desktop shell: native window, menus, single instance, lifecycle."""

from app.desktop.qt_binding import prefer_pyside6

# Before any module of this package (or pywebview's Qt backend, which they
# load) imports qtpy: qtpy fixes its binding on first import.
prefer_pyside6()
