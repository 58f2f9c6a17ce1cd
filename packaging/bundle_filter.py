"""What build.spec leaves out of the Linux one-folder build, and why.

PyInstaller's Qt hooks collect the whole of what the PyQt6 wheels carry
for the modules pywebview imports: every Qt library of the wheel, all QML
modules, all plugins (with the system libraries they link, such as GTK
for the GTK theme plugin), 50 MB of translations. Hearth's window is one
``QWebEngineView`` in a ``QMainWindow``, so most of that never loads.

Two rules:

* Data by pattern (``DROP_DATA``): translations but WebEngine's en-US
  locale, all QML, WebEngine's devtools resources.
* System libraries by name (``LEFT_TO_SYSTEM``): the few every desktop
  Linux has whose build-machine copies need a newer glibc than the rest
  of the bundle; the system's own copy loads instead.
* Libraries by reachability: the Qt plugins we keep (``KEEP_PLUGINS``),
  the Python extension modules, QtWebEngineProcess and our llama-server
  files (its CPU backends are dlopen'ed, so all are roots) are the roots;
  every shared library no root reaches through ``DT_NEEDED`` is dropped.
  What a dropped plugin dragged in (libgtk-3, libcups, Quick3D,
  Multimedia, Pdf...) goes with it.

Pure functions over PyInstaller's TOC tuples ``(dest, source, typecode)``
so tests can check them without running PyInstaller. Linux only; the
spec applies it only there.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

Entry = tuple[str, str, str]

QT = "PyQt6/Qt6/"
"""Where the wheel's Qt sits in the bundle (PySide6 puts it under PySide6/Qt/)."""

KEEP_PLUGINS = [
    "platforms/libqxcb.so",  # X11
    "platforms/libqwayland*.so",  # Wayland sessions
    "platforms/libqoffscreen.so",  # headless (tests, QT_QPA_PLATFORM=offscreen)
    "xcbglintegrations/*",
    "wayland-*/*",
    "platforminputcontexts/*",  # compose keys, IBus input methods
    "platformthemes/libqxdgdesktopportal.so",  # native dialogs through the portal, no GTK
    "iconengines/*",
    "imageformats/libqico.so",
    "imageformats/libqjpeg.so",
    "imageformats/libqgif.so",
    "imageformats/libqsvg.so",
    "imageformats/libqwebp.so",
]

DROP_DATA = [
    # PyQt6 keeps Qt in PyQt6/Qt6/, PySide6 in PySide6/Qt/: "Qt*" matches both.
    "*/Qt*/translations/*.qm",  # Qt's own strings: Hearth's UI is the web page
    "*/Qt*/qml/*",  # no QML in a QWebEngineView window
    "*/Qt*/resources/qtwebengine_devtools_resources.pak",  # devtools are off
]
KEEP_LOCALE = "en-US.pak"
"""WebEngine falls back to en-US for any locale it lacks; the others are 40 MB."""

LEFT_TO_SYSTEM = {
    # Debian 12's copies call arc4random (GLIBC_2.36); without them the
    # bundle's highest glibc symbol is libpython's and libgcc_s's GLIBC_2.35,
    # so it runs on Ubuntu 22.04. Every desktop has both (fontconfig needs
    # libexpat; Qt and llama-server need libstdc++, and the .deb's Depends
    # asks for one new enough for the GLIBCXX symbols used: linux_deps).
    "libstdc++.so.6",
    "libexpat.so.1",
}

ELF_LIBRARY = re.compile(r"\.so(\.\d+)*$")


def plugin_of(dest: str, qt: str = QT) -> str | None:
    """``platforms/libqxcb.so`` for a Qt plugin's bundle path, else None."""
    prefix = qt + "plugins/"
    return dest[len(prefix) :] if dest.startswith(prefix) else None


def keep_plugin(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in KEEP_PLUGINS)


def drop_data(dest: str) -> bool:
    if fnmatch.fnmatch(dest, "*/qtwebengine_locales/*.pak"):
        return Path(dest).name != KEEP_LOCALE
    return any(fnmatch.fnmatch(dest, pattern) for pattern in DROP_DATA)


def needed(path: str) -> list[str]:
    """The ``DT_NEEDED`` sonames of an ELF file (``readelf -d``)."""
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


def reachable(
    roots: Iterable[str], by_name: dict[str, str], needed_of: Callable[[str], list[str]] = needed
) -> set[str]:
    """The basenames reached from ``roots`` (source paths) through DT_NEEDED within ``by_name``."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        source = todo.pop()
        for name in needed_of(source):
            if name in by_name and name not in seen:
                seen.add(name)
                todo.append(by_name[name])
    return seen


def filter_binaries(
    binaries: list[Entry],
    always_keep: set[str],
    needed_of: Callable[[str], list[str]] = needed,
    qt: str = QT,
) -> tuple[list[Entry], list[str]]:
    """(kept, dropped dest names): plugins we do not use and what only they reach go,
    and the system's own libraries (``LEFT_TO_SYSTEM``).

    ``always_keep``: source paths kept whatever links them (llama-server's folder).
    """
    plugins_dropped = {
        dest for dest, _, _ in binaries if (p := plugin_of(dest, qt)) and not keep_plugin(p)
    } | {dest for dest, _, _ in binaries if Path(dest).name in LEFT_TO_SYSTEM}
    remaining = [entry for entry in binaries if entry[0] not in plugins_dropped]

    def is_root(entry: Entry) -> bool:
        dest, source, kind = entry
        return (
            kind == "EXTENSION"
            or plugin_of(dest, qt) is not None
            or source in always_keep
            or not ELF_LIBRARY.search(dest)  # executables: QtWebEngineProcess, llama-server
            or Path(dest).name.startswith("libpython")  # the bootloader dlopens it
        )

    roots = [entry for entry in remaining if is_root(entry)]
    by_name = {Path(e[0]).name: e[1] for e in remaining if not is_root(e)}
    wanted = reachable([source for _, source, _ in roots], by_name, needed_of)
    kept, dropped = [], sorted(plugins_dropped)
    for entry in remaining:
        if is_root(entry) or Path(entry[0]).name in wanted:
            kept.append(entry)
        else:
            dropped.append(entry[0])
    return kept, dropped


def filter_datas(datas: list[Entry], dropped_binaries: list[str]) -> tuple[list[Entry], list[str]]:
    """Data files by pattern, and the symlinks PyInstaller made to dropped libraries.

    A ``SYMLINK`` entry is ``(link, target, "SYMLINK")`` with the target
    relative to the bundle root.
    """
    gone = set(dropped_binaries)

    def drop(entry: Entry) -> bool:
        dest, target, kind = entry
        return drop_data(dest) or (kind == "SYMLINK" and target in gone)

    return [e for e in datas if not drop(e)], sorted(e[0] for e in datas if drop(e))
