"""The Windows installer script builds: makensis (Debian's nsis) from a stand-in folder.

The real input is PyInstaller's Windows one-folder build, which cannot be
made on Linux; the stand-in folder holds the files the script names
(hearth.exe, hearth-cli.exe, _internal/) with dummy contents. What is
checked is the script itself: makensis compiles it with warnings as
errors, and the result is a Windows installer that carries every file.
Installing it needs Windows (the release workflow's windows job does that).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "packaging" / "windows" / "hearth.nsi"


def makensis() -> str:
    found = shutil.which("makensis")
    if found is None:
        if os.geteuid() == 0:
            pytest.fail(
                "makensis is missing: apt-get install nsis (bash packaging/dev.sh test does)"
            )
        pytest.skip("makensis is missing and installing it needs root: sudo apt-get install nsis")
    return found


def stand_in_build(root: Path) -> Path:
    """A folder shaped like build.spec's Windows output, with dummy files."""
    folder = root / "hearth"
    (folder / "_internal").mkdir(parents=True)
    for name in ("hearth.exe", "hearth-cli.exe", "_internal/llama-server.exe"):
        (folder / name).write_bytes(b"MZ stand-in for " + name.encode())
    (folder / "_internal" / "THIRD-PARTY-LICENSES").write_text("stand-in\n")
    return folder


def test_nsis_installer_builds(tmp_path: Path) -> None:
    source = stand_in_build(tmp_path)
    out = tmp_path / "Hearth-0.1.0-setup.exe"
    result = subprocess.run(
        [
            makensis(),
            "-V2",
            "-WX",  # warnings are errors: the script must be clean
            f"-DSOURCE_DIR={source}",
            "-DVERSION=0.1.0",
            f"-DOUT_FILE={out}",
            str(SCRIPT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = out.read_bytes()
    assert data[:2] == b"MZ" and b"Nullsoft" in data
    # The stand-in files are inside (solid LZMA hides their bytes, so the
    # listing makensis prints at -V3 is what names them).
    listing = subprocess.run(
        [makensis(), "-V4", f"-DSOURCE_DIR={source}", "-DVERSION=0.1.0",
         f"-DOUT_FILE={tmp_path / 'again.exe'}", str(SCRIPT)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    for name in ("hearth.exe", "hearth-cli.exe", "llama-server.exe", "THIRD-PARTY-LICENSES"):
        assert f'File: "{name}"' in listing, f"{name} is not in the installer"


def test_nsis_script_needs_its_inputs(tmp_path: Path) -> None:
    """Without SOURCE_DIR the build stops with the reason, not with an empty installer."""
    result = subprocess.run(
        [makensis(), "-V2", "-DVERSION=0.1.0", f"-DOUT_FILE={tmp_path / 'x.exe'}", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "SOURCE_DIR" in result.stdout + result.stderr
    assert not (tmp_path / "x.exe").exists()
