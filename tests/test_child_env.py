"""Children that are not Hearth's must not get a frozen bundle's ``LD_LIBRARY_PATH``.

The frozen case is reproduced by setting ``sys.frozen`` and the two
variables as PyInstaller's bootloader sets them; ``xdg-open`` is a
stand-in script on PATH (the real one would open a file manager) that
writes down the environment it was given.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from app.desktop.shell import open_folder
from app.runner.child_env import foreign_child_env, own_child_env
from tests.waiting import wait_until

BUNDLE = "/opt/hearth/_internal"


def test_foreign_children_get_the_users_path_back() -> None:
    frozen = {"LD_LIBRARY_PATH": BUNDLE, "LD_LIBRARY_PATH_ORIG": "/usr/local/cuda/lib64", "A": "1"}
    env = foreign_child_env(frozen, frozen=True)
    assert env["LD_LIBRARY_PATH"] == "/usr/local/cuda/lib64"
    assert "LD_LIBRARY_PATH_ORIG" not in env and env["A"] == "1"


def test_foreign_children_get_none_when_the_user_had_none() -> None:
    env = foreign_child_env({"LD_LIBRARY_PATH": BUNDLE}, frozen=True)
    assert "LD_LIBRARY_PATH" not in env


def test_llama_server_gets_its_folder_then_the_users_path() -> None:
    frozen = {"LD_LIBRARY_PATH": BUNDLE, "LD_LIBRARY_PATH_ORIG": "/usr/local/cuda/lib64"}
    env = own_child_env(Path("/opt/gpu/llama-server"), frozen, frozen=True)
    assert env["LD_LIBRARY_PATH"] == "/opt/gpu:/usr/local/cuda/lib64"
    bundled = own_child_env(Path(BUNDLE) / "llama-server", {"LD_LIBRARY_PATH": BUNDLE}, True)
    assert bundled["LD_LIBRARY_PATH"] == BUNDLE


def test_not_frozen_changes_nothing() -> None:
    env = {"LD_LIBRARY_PATH": "/mine", "LD_LIBRARY_PATH_ORIG": "/other"}
    assert foreign_child_env(env, frozen=False) == env
    assert own_child_env(Path("/x/llama-server"), env, frozen=False) == env


@pytest.mark.skipif(sys.platform != "linux", reason="LD_LIBRARY_PATH is a Linux loader variable")
def test_open_folder_does_not_leak_the_bundle_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "env.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "xdg-open"
    stand_in.write_text(f'#!/bin/sh\nenv > "{record}.part" && mv "{record}.part" "{record}"\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("LD_LIBRARY_PATH", BUNDLE)
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/home/user/lib")
    monkeypatch.setattr("sys.frozen", True, raising=False)
    open_folder(tmp_path / "models")
    wait_until(record.exists, "the stand-in xdg-open to run", timeout=20)
    lines = record.read_text().splitlines()
    assert "LD_LIBRARY_PATH=/home/user/lib" in lines
    assert not any(line.startswith("LD_LIBRARY_PATH_ORIG=") for line in lines)
