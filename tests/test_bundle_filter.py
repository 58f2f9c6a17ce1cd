"""build.spec's Linux filter (packaging/bundle_filter.py) on a small TOC.

The TOC is made up (names as PyInstaller writes them) and DT_NEEDED comes
from a table instead of readelf, so each rule is checked on its own; the
real bundle is checked by tests/test_package.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_found = importlib.util.spec_from_file_location(
    "bundle_filter", Path(__file__).resolve().parent.parent / "packaging" / "bundle_filter.py"
)
assert _found is not None and _found.loader is not None
bundle_filter = importlib.util.module_from_spec(_found)
_found.loader.exec_module(bundle_filter)

Q = "PyQt6/Qt6/"
NEEDED = {
    "/w/QtWebEngineWidgets.abi3.so": ["libQt6WebEngineWidgets.so.6"],
    "/w/libQt6WebEngineWidgets.so.6": ["libQt6Core.so.6"],
    "/w/libQt6Core.so.6": ["libicuuc.so.73"],
    "/w/libqxcb.so": ["libQt6XcbQpa.so.6"],
    "/w/libqgtk3.so": ["libgtk-3.so.0"],
    "/w/libgtk-3.so.0": ["libgdk-3.so.0"],
    "/cache/llama-server": ["libllama.so.0", "libstdc++.so.6"],
}
BINARIES = [
    ("PyQt6/QtWebEngineWidgets.abi3.so", "/w/QtWebEngineWidgets.abi3.so", "EXTENSION"),
    (Q + "lib/libQt6WebEngineWidgets.so.6", "/w/libQt6WebEngineWidgets.so.6", "BINARY"),
    (Q + "lib/libQt6Core.so.6", "/w/libQt6Core.so.6", "BINARY"),
    (Q + "lib/libicuuc.so.73", "/w/libicuuc.so.73", "BINARY"),
    (Q + "lib/libQt6Quick3D.so.6", "/w/libQt6Quick3D.so.6", "BINARY"),
    (Q + "lib/libQt6XcbQpa.so.6", "/w/libQt6XcbQpa.so.6", "BINARY"),
    (Q + "plugins/platforms/libqxcb.so", "/w/libqxcb.so", "BINARY"),
    (Q + "plugins/platformthemes/libqgtk3.so", "/w/libqgtk3.so", "BINARY"),
    ("libgtk-3.so.0", "/w/libgtk-3.so.0", "BINARY"),
    ("libgdk-3.so.0", "/w/libgdk-3.so.0", "BINARY"),
    ("libpython3.11.so.1.0", "/w/libpython3.11.so.1.0", "BINARY"),
    (Q + "libexec/QtWebEngineProcess", "/w/QtWebEngineProcess", "BINARY"),
    ("llama-server", "/cache/llama-server", "BINARY"),
    ("libllama.so.0", "/cache/libllama.so.0", "BINARY"),
    ("libggml-cpu-haswell.so", "/cache/libggml-cpu-haswell.so", "BINARY"),
    ("libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "BINARY"),
    ("libexpat.so.1", "/usr/lib/x86_64-linux-gnu/libexpat.so.1", "BINARY"),
]
KEEP = {"/cache/llama-server", "/cache/libllama.so.0", "/cache/libggml-cpu-haswell.so"}


def _needed(source: str) -> list[str]:
    return NEEDED.get(source, [])


def _filter() -> tuple[set[str], set[str]]:
    kept, dropped = bundle_filter.filter_binaries(BINARIES, KEEP, _needed)
    return {entry[0] for entry in kept}, set(dropped)


def test_libraries_nothing_reaches_are_dropped() -> None:
    kept, dropped = _filter()
    assert Q + "lib/libQt6Quick3D.so.6" in dropped
    assert {Q + "lib/libQt6Core.so.6", Q + "lib/libicuuc.so.73"} <= kept


def test_an_unused_plugin_goes_with_what_only_it_links() -> None:
    kept, dropped = _filter()
    assert {Q + "plugins/platformthemes/libqgtk3.so", "libgtk-3.so.0", "libgdk-3.so.0"} <= dropped
    assert {Q + "plugins/platforms/libqxcb.so", Q + "lib/libQt6XcbQpa.so.6"} <= kept


def test_roots_stay_even_when_nothing_links_them() -> None:
    kept, _ = _filter()
    # dlopen'ed at run time: libpython by the bootloader, CPU backends by llama-server.
    assert {"libpython3.11.so.1.0", "libggml-cpu-haswell.so", "llama-server"} <= kept
    assert Q + "libexec/QtWebEngineProcess" in kept


def test_libraries_left_to_the_system_go_even_when_linked() -> None:
    """libstdc++ and libexpat: the system's copies load (the bundle's glibc floor drops to 2.35)."""
    kept, dropped = _filter()
    assert {"libstdc++.so.6", "libexpat.so.1"} <= dropped
    assert "libstdc++.so.6" not in kept


def _qt_datas(qt: str, qml_module: str) -> list[tuple[str, str, str]]:
    """Qt's translations, resources and one QML module, under ``qt`` (PyQt6/Qt6/, PySide6/Qt/)."""
    return [
        (qt + "translations/qt_de.qm", "/w/qt_de.qm", "DATA"),
        (qt + "translations/qtwebengine_locales/de.pak", "/w/de.pak", "DATA"),
        (qt + "translations/qtwebengine_locales/en-US.pak", "/w/en-US.pak", "DATA"),
        (qt + "resources/qtwebengine_devtools_resources.pak", "/w/devtools.pak", "DATA"),
        (qt + "resources/qtwebengine_resources.pak", "/w/resources.pak", "DATA"),
        (qt + f"qml/{qml_module}/qmldir", "/w/qmldir", "DATA"),
    ]


def _qt_datas_kept(qt: str) -> set[str]:
    """Of ``_qt_datas(qt, ...)``, what stays: the en-US locale and the main resources."""
    return {
        qt + "translations/qtwebengine_locales/en-US.pak",
        qt + "resources/qtwebengine_resources.pak",
    }


def test_data_rules_and_symlinks_to_dropped_libraries() -> None:
    datas = [
        *_qt_datas(Q, "QtQuick3D"),
        ("libQt6Quick3D.so.6", Q + "lib/libQt6Quick3D.so.6", "SYMLINK"),
        ("libQt6Core.so.6", Q + "lib/libQt6Core.so.6", "SYMLINK"),
        ("ui_dist/index.html", "/r/ui_dist/index.html", "DATA"),
    ]
    _, dropped_binaries = bundle_filter.filter_binaries(BINARIES, KEEP, _needed)
    kept, _ = bundle_filter.filter_datas(datas, dropped_binaries)
    assert {entry[0] for entry in kept} == {
        *_qt_datas_kept(Q),
        "libQt6Core.so.6",
        "ui_dist/index.html",
    }


def test_data_rules_hold_for_pyside6_too() -> None:
    """PySide6 (what ships) keeps Qt in PySide6/Qt/, not PyQt6/Qt6/: the same files go."""
    p = "PySide6/Qt/"
    kept, _ = bundle_filter.filter_datas(_qt_datas(p, "QtQuick"), [])
    assert {entry[0] for entry in kept} == _qt_datas_kept(p)
