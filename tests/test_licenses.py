"""packaging/licenses.py finds the licence texts a bundle must ship.

Real installed distributions and the real llama-cpp-python sdist the
llama-server build downloaded; nothing is faked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packaging"))

import licenses  # noqa: E402


def test_flask_licence_text_is_found() -> None:
    dists = licenses.distributions_for_modules(["flask"])
    assert [d.metadata["Name"].lower() for d in dists] == ["flask"]
    text = licenses.render(dists, None)
    assert "Flask 3." in text and "BSD-3-Clause" in text
    # The text of Flask's own LICENSE.txt, not only its name.
    assert "Copyright 2010 Pallets" in text and "Redistribution and use in source" in text


def test_pyside6_gets_the_lgpl_and_qt_source_offer() -> None:
    pytest.importorskip("PySide6", reason="install the desktop extra: pip install -e .[desktop]")
    dists = licenses.distributions_for_modules(["PySide6", "shiboken6"])
    names = {d.metadata["Name"].lower() for d in dists}
    assert {"pyside6_essentials", "shiboken6"} <= names
    text = licenses.render(dists, None)
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text
    assert "GNU GENERAL PUBLIC LICENSE" in text  # the GPL-3 the LGPL-3 builds on
    assert "https://download.qt.io/official_releases/qt/" in text
    assert "PyQt" not in text


def test_modules_are_read_from_pyinstaller_tocs() -> None:
    toc = [
        ("flask.app", "/venv/flask/app.py", "PYMODULE"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "/venv/PySide6/Qt/lib/libQt6Core.so.6", "BINARY"),
        ("PySide6.QtCore", "/venv/PySide6/QtCore.abi3.so", "EXTENSION"),
    ]
    assert licenses.modules_in_toc(toc) == {"flask", "PySide6"}


def test_requirement_closure_of_hearth() -> None:
    names = {d.metadata["Name"].lower() for d in licenses.requirement_closure()}
    # Direct and indirect dependencies; Hearth itself is not third-party.
    assert {"flask", "werkzeug", "cheroot", "pypdf"} <= names
    assert "hearth" not in names


def test_llama_cpp_licences_come_from_the_built_sdist(llama_server_binary: Path) -> None:
    sdist = licenses.default_sdist()
    assert sdist.is_file(), f"the llama-server build keeps its sdist at {sdist}"
    names = dict(licenses.llama_cpp_texts(sdist))
    assert (
        "vendor/llama.cpp/LICENSE" in names and "MIT License" in names["vendor/llama.cpp/LICENSE"]
    )
    assert "vendor/llama.cpp/vendor/cpp-httplib/LICENSE" in names
    assert not any("/tools/ui/" in name for name in names)


def test_command_line_writes_one_file(tmp_path: Path, llama_server_binary: Path) -> None:
    out = tmp_path / "THIRD-PARTY-LICENSES"
    assert licenses.main(["--out", str(out)]) == 0
    text = out.read_text()
    assert "Flask " in text and "llama.cpp (llama-server" in text and "Python 3." in text
