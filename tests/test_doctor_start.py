"""``hearth doctor`` fails loudly when the llama-server it found cannot start.

The broken build is a copy of the real one with ``libggml-base.so.0``
removed: what an installer that lost a library, or a build whose RUNPATH
does not reach its neighbours, looks like to the loader.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _doctor(home: Path, server: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HEARTH_HOME=str(home), HEARTH_LLAMA_SERVER=str(server))
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "app", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(ROOT),
    )


@pytest.mark.skipif(sys.platform != "linux", reason="the broken copy relies on ELF sonames")
def test_doctor_fails_when_a_library_is_missing(tmp_path: Path, llama_server_binary: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(llama_server_binary.parent, broken)
    (broken / "libggml-base.so.0").unlink()
    done = _doctor(tmp_path / "home", broken / "llama-server")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "llama-server: CANNOT START" in done.stdout
    assert "libggml-base.so.0" in done.stdout + done.stderr
    assert "error: llama-server cannot start" in done.stderr

    report = json.loads(_doctor(tmp_path / "home", broken / "llama-server", "--json").stdout)
    server = report["llama_server"]
    assert server["found"] and not server["starts"] and "libggml-base" in server["error"]


def test_doctor_passes_with_the_real_build(tmp_path: Path, llama_server_binary: Path) -> None:
    done = _doctor(tmp_path / "home", llama_server_binary, "--json")
    assert done.returncode == 0, done.stderr
    server = json.loads(done.stdout)["llama_server"]
    assert server["starts"] and server["error"] is None and server["version"]
