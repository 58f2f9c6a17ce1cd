"""GPU memory accounting for /api/ps, with a FAKE nvidia-smi (no GPU can be had here).

The fake is a shell script on PATH that prints what the real tool prints for
``--query-compute-apps=pid,used_memory --format=csv,noheader,nounits``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.runner import hardware
from app.runner.scheduler import runner_memory


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *query-compute-apps*) printf "4242, 1536\\n4242, 512\\n77, [N/A]\\n" ;;\n'
        "  *) exit 1 ;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return script


class FakeServer:
    def __init__(self, pid: int, resident: int) -> None:
        self.pid = pid
        self.resident = resident

    def memory(self) -> int:
        return self.resident


def test_memory_by_pid_sums_and_skips_unreadable_rows(fake_nvidia_smi: Path) -> None:
    assert hardware.nvidia_memory_by_pid() == {4242: 2048 * 2**20}


def test_no_nvidia_smi_means_no_gpu_memory(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert hardware.nvidia_memory_by_pid() == {}


def test_runner_memory_adds_vram(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.runner.scheduler as scheduler

    monkeypatch.setattr(scheduler, "unified_memory", lambda: False)
    on_gpu = {4242: 2 * 2**30}
    assert runner_memory(FakeServer(4242, 300 * 2**20), on_gpu) == (
        300 * 2**20 + 2 * 2**30,
        2 * 2**30,
    )
    assert runner_memory(FakeServer(5, 300 * 2**20), on_gpu) == (300 * 2**20, 0)  # CPU only
    monkeypatch.setattr(scheduler, "unified_memory", lambda: True)
    assert runner_memory(FakeServer(5, 300), {}) == (300, 300)  # Apple: shared memory
