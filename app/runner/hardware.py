"""What the machine offers: CPU cores, memory, GPUs and free disk.

Used to pick llama-server flags (threads, GPU layers) and by ``hearth doctor``
and the system API. Every probe is cheap and never raises: a missing tool
just means "not detected".
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import psutil

from app.runner.child_env import foreign_child_env
from app.runner.drm import drm_gpus


@dataclass(frozen=True)
class GPU:
    name: str
    vendor: str
    memory_total: int
    memory_free: int | None = None


@dataclass(frozen=True)
class Hardware:
    cpu_model: str
    physical_cores: int
    logical_cores: int
    memory_total: int
    memory_available: int
    gpus: list[GPU] = field(default_factory=list)
    cpu_flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return []
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            interesting = {"avx", "avx2", "avx512f", "fma", "f16c", "amx_tile"}
            return sorted(set(line.split(":", 1)[1].split()) & interesting)
    return []


def _nvidia_smi(query: str) -> list[str]:
    """Rows of ``nvidia-smi --query-...=FIELDS`` as CSV; none without the tool or a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            env=foreign_child_env(),
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.strip().splitlines()


def _nvidia_gpus() -> list[GPU]:
    gpus = []
    for line in _nvidia_smi("--query-gpu=name,memory.total,memory.free"):
        name, total, free = (part.strip() for part in line.split(","))
        gpus.append(GPU(name, "nvidia", int(total) * 2**20, int(free) * 2**20))
    return gpus


def nvidia_memory_by_pid() -> dict[int, int]:
    """Bytes of GPU memory each process holds on NVIDIA GPUs (empty without nvidia-smi).

    Why per process: ``/api/ps`` reports ``size_vram`` of each loaded model,
    and a llama-server's own allocation is what tells how much of the model
    was offloaded (``--fit`` decides the layer count at load time).
    """
    used: dict[int, int] = {}
    for line in _nvidia_smi("--query-compute-apps=pid,used_memory"):
        try:
            pid, mib = (int(part.strip()) for part in line.split(","))
        except ValueError:
            continue  # "[N/A]" on some drivers
        used[pid] = used.get(pid, 0) + mib * 2**20
    return used


def unified_memory() -> bool:
    """Apple silicon: the GPU uses the same memory as the CPU (all of a model is "VRAM")."""
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def _apple_gpu() -> list[GPU]:
    if not unified_memory():
        return []
    # Apple silicon shares memory between CPU and GPU.
    return [GPU("Apple GPU (Metal)", "apple", psutil.virtual_memory().total)]


@lru_cache(maxsize=1)
def _static() -> tuple[str, int, int, list[str]]:
    physical = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    return _cpu_model(), physical, os.cpu_count() or physical, _cpu_flags()


def detect_hardware() -> Hardware:
    cpu_model, physical, logical, flags = _static()
    memory = psutil.virtual_memory()
    return Hardware(
        cpu_model=cpu_model,
        physical_cores=physical,
        logical_cores=logical,
        memory_total=memory.total,
        memory_available=memory.available,
        gpus=_nvidia_gpus() + [GPU(*found) for found in drm_gpus()] + _apple_gpu(),
        cpu_flags=flags,
    )


def disk_free(path: Path) -> int:
    """Free bytes on the filesystem holding ``path`` (or its nearest parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free
