"""AMD and Intel GPUs under Linux, from the kernel's DRM interfaces.

Two facts: which GPUs there are (``drm_gpus``, from sysfs), for ``hearth
doctor`` and the system API; and how much GPU memory a process holds
(``device_memory_of``, from fdinfo), for ``/api/ps``.

Why fdinfo: ``/api/ps`` reports ``size_vram`` per loaded model. On NVIDIA that comes
from ``nvidia-smi``; a Vulkan llama-server on an AMD or Intel GPU has no
such tool, and llama-server itself logs its device buffers only at debug
verbosity. Linux's DRM drivers (amdgpu, xe, i915 and others) describe each
open GPU file in ``/proc/<pid>/fdinfo/<fd>`` (the kernel's "DRM client usage
stats"): ``drm-driver``, ``drm-client-id``, and per memory region
``drm-resident-<region>``/``drm-total-<region>`` (older amdgpu:
``drm-memory-<region>``), each a number with an optional KiB/MiB unit.

Only device-local regions count as VRAM: ``vram*`` (amdgpu, xe) and
``local*`` (i915 on discrete cards). System-memory regions (``system*``,
``gtt``, ``cpu``, ``stolen*``) are RAM the GPU maps; they are already in
the process's resident size. One client can sit behind several fds (a
``dup``), so each ``(drm-pdev, drm-client-id)`` is counted once.

Checked here against the kernel's documented format only: this machine has
no DRM GPU, so the tests feed fdinfo texts and sysfs files written in that
format. Elsewhere, and where the files cannot be read, there is no GPU and
the answer is 0, as for a CPU-only runner.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_UNITS = {"": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
_DEVICE_REGIONS = ("vram", "local")
_MEMORY_KINDS = ("drm-resident-", "drm-memory-")
"""Resident first: ``drm-total`` counts buffers that may be evicted to RAM."""


def parse_fdinfo(text: str) -> tuple[tuple[str, str], int] | None:
    """(client key, device-local bytes) of one DRM fdinfo text; None if it is not a DRM file."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "drm-driver" not in fields:
        return None
    client = (fields.get("drm-pdev", ""), fields.get("drm-client-id", ""))
    for prefix in _MEMORY_KINDS:
        amounts = [
            _bytes(value)
            for key, value in fields.items()
            if key.startswith(prefix) and key[len(prefix) :].startswith(_DEVICE_REGIONS)
        ]
        if amounts:
            return client, sum(amounts)
    return client, 0


def _bytes(value: str) -> int:
    number, _, unit = value.partition(" ")
    try:
        return int(number) * _UNITS.get(unit.strip(), 0)
    except ValueError:
        return 0


def device_memory_of(pid: int, proc: Path = Path("/proc")) -> int:
    """Bytes of device-local GPU memory ``pid`` holds, summed over its DRM clients.

    Only fds that point into ``/dev/dri`` are read, so a server's sockets and
    model files cost one ``readlink`` each.
    """
    clients: dict[tuple[str, str], int] = {}
    try:
        fds = os.listdir(proc / str(pid) / "fd")
    except OSError:
        return 0
    for fd in fds:
        with contextlib.suppress(OSError):
            if not os.readlink(proc / str(pid) / "fd" / fd).startswith("/dev/dri/"):
                continue
            parsed = parse_fdinfo((proc / str(pid) / "fdinfo" / fd).read_text(errors="replace"))
            if parsed is not None:
                (pdev, client_id), amount = parsed
                key = (pdev, client_id or f"fd {fd}")  # no client id: each fd on its own
                clients[key] = max(clients.get(key, 0), amount)
    return sum(clients.values())


_VENDORS = {"0x1002": ("amd", "AMD"), "0x8086": ("intel", "Intel")}
"""PCI vendors listed here. NVIDIA comes from ``nvidia-smi``; virtual display
adapters (QEMU, virtio, VMware) are not GPUs llama.cpp can use."""


def drm_gpus(sys_root: Path = Path("/sys")) -> list[tuple[str, str, int, int | None]]:
    """(name, vendor, VRAM bytes, free VRAM bytes) of each AMD or Intel GPU.

    VRAM is read where the driver reports it (amdgpu's ``mem_info_vram_*``);
    elsewhere, as for integrated GPUs that share system memory, it is 0 and
    free is None.
    """
    found: dict[str, tuple[str, str, int, int | None]] = {}
    try:
        cards = sorted(os.listdir(sys_root / "class" / "drm"))
    except OSError:
        return []
    for card in cards:
        if not card.startswith("card") or not card[4:].isdigit():
            continue  # connectors (card0-HDMI-A-1) and render nodes
        device = sys_root / "class" / "drm" / card / "device"
        with contextlib.suppress(OSError):
            vendor_id = (device / "vendor").read_text().strip().lower()
            if vendor_id not in _VENDORS:
                continue
            vendor, label = _VENDORS[vendor_id]
            device_id = (device / "device").read_text().strip().lower().removeprefix("0x")
            total = _read_int(device / "mem_info_vram_total")
            used = _read_int(device / "mem_info_vram_used")
            name = f"{label} GPU ({vendor_id.removeprefix('0x')}:{device_id})"
            free = total - used if total and used is not None else None
            found[os.path.realpath(device)] = (name, vendor, total or 0, free)
    return list(found.values())


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
