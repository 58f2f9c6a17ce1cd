"""AMD and Intel GPUs under Linux: listed from sysfs, and size_vram from DRM fdinfo.

This machine has no DRM GPU, so the fdinfo texts below are written in the
format the kernel documents (Documentation/gpu/drm-usage-stats.rst) with the
keys each driver prints, and the /proc and /sys trees are stand-in folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.runner.drm import device_memory_of, drm_gpus, parse_fdinfo
from app.runner.scheduler import runner_memory

AMDGPU = """pos:\t0
flags:\t02100002
mnt_id:\t24
ino:\t1091
drm-driver:\tamdgpu
drm-client-id:\t53
drm-pdev:\t0000:03:00.0
pasid:\t32773
drm-total-cpu:\t0
drm-resident-cpu:\t0
drm-total-gtt:\t2392 KiB
drm-resident-gtt:\t2392 KiB
drm-total-vram:\t270000 KiB
drm-shared-vram:\t0
drm-resident-vram:\t264772 KiB
drm-purgeable-vram:\t0
drm-memory-vram:\t264772 KiB
drm-memory-gtt: \t2392 KiB
amd-requested-vram:\t270000 KiB
drm-engine-gfx:\t1064617 ns
"""

AMDGPU_OLD_KERNEL = """pos:\t0
flags:\t02100002
drm-driver:\tamdgpu
drm-client-id:\t7
drm-pdev:\t0000:0a:00.0
drm-memory-vram:\t524288 KiB
drm-memory-gtt: \t8192 KiB
drm-memory-cpu: \t0 KiB
"""

XE = """drm-driver:\txe
drm-client-id:\t4
drm-pdev:\t0000:03:00.0
drm-total-system0:\t0
drm-resident-system0:\t0
drm-total-gtt0:\t4 KiB
drm-resident-gtt0:\t4 KiB
drm-total-vram0:\t1057 MiB
drm-resident-vram0:\t1057 MiB
drm-total-stolen:\t0
drm-resident-stolen:\t0
drm-cycles-rcs:\t28257900
"""

I915_INTEGRATED = """drm-driver:\ti915
drm-client-id:\t39
drm-pdev:\t0000:00:02.0
drm-total-system0:\t6044 KiB
drm-resident-system0:\t6044 KiB
drm-total-stolen-system0:\t0
drm-engine-render:\t346249 ns
"""

NOT_DRM = "pos:\t0\nflags:\t02\nmnt_id:\t24\nino:\t77\n"


def test_device_local_regions_count_and_system_memory_does_not() -> None:
    assert parse_fdinfo(AMDGPU) == (("0000:03:00.0", "53"), 264772 * 1024), "resident, not total"
    assert parse_fdinfo(AMDGPU_OLD_KERNEL) == (("0000:0a:00.0", "7"), 512 * 2**20)
    assert parse_fdinfo(XE) == (("0000:03:00.0", "4"), 1057 * 2**20)
    assert parse_fdinfo(I915_INTEGRATED) == (("0000:00:02.0", "39"), 0), "shared RAM is not VRAM"
    assert parse_fdinfo(NOT_DRM) is None


def stand_in_proc(tmp_path: Path, pid: int, fds: dict[str, tuple[str, str]]) -> Path:
    """A /proc/<pid> with ``fd`` links and ``fdinfo`` texts: {fd: (link target, fdinfo)}."""
    proc = tmp_path / "proc"
    (proc / str(pid) / "fd").mkdir(parents=True)
    (proc / str(pid) / "fdinfo").mkdir()
    for fd, (target, info) in fds.items():
        os.symlink(target, proc / str(pid) / "fd" / fd)
        (proc / str(pid) / "fdinfo" / fd).write_text(info)
    return proc


def test_a_process_sums_its_gpu_clients_once_each(tmp_path: Path) -> None:
    second_gpu = XE.replace("0000:03:00.0", "0000:04:00.0")
    proc = stand_in_proc(
        tmp_path,
        4242,
        {
            "3": ("/dev/dri/renderD128", AMDGPU),
            "4": ("/dev/dri/renderD128", AMDGPU),  # the same client, dup'ed: once
            "5": ("/dev/dri/renderD129", second_gpu),
            "6": ("socket:[12345]", XE),  # not a GPU file: never read as one
            "7": ("/models/blobs/sha256-abc", NOT_DRM),
        },
    )
    assert device_memory_of(4242, proc) == 264772 * 1024 + 1057 * 2**20
    assert device_memory_of(999, proc) == 0, "a pid that is gone"


def test_runner_memory_uses_nvidia_first_then_drm(tmp_path: Path) -> None:
    class Server:
        pid = os.getpid()

        def memory(self) -> int:
            return 100

    # This test process holds no GPU file: CPU-only, as a real CPU runner.
    assert runner_memory(Server(), {}) == (100, 0)  # type: ignore[arg-type]
    assert runner_memory(Server(), {os.getpid(): 50}) == (150, 50)  # type: ignore[arg-type]


def stand_in_sys(tmp_path: Path, cards: dict[str, dict[str, str]]) -> Path:
    """A /sys with ``class/drm/<card>`` linked to device folders holding ``files``."""
    sys_root = tmp_path / "sys"
    (sys_root / "class" / "drm").mkdir(parents=True)
    for n, (card, files) in enumerate(cards.items()):
        device = sys_root / "devices" / f"pci0000:00/0000:0{n}:00.0"
        device.mkdir(parents=True)
        for name, text in files.items():
            (device / name).write_text(text + "\n")
        (sys_root / "class" / "drm" / card).mkdir()
        os.symlink(device, sys_root / "class" / "drm" / card / "device")
    return sys_root


def test_amd_and_intel_gpus_are_listed_and_virtual_adapters_are_not(tmp_path: Path) -> None:
    sys_root = stand_in_sys(
        tmp_path,
        {
            "card0": {
                "vendor": "0x1002",
                "device": "0x73bf",
                "mem_info_vram_total": str(16 * 2**30),
                "mem_info_vram_used": str(2**30),
            },
            "card1": {"vendor": "0x8086", "device": "0x46a6"},  # integrated: no VRAM figures
            "card2": {"vendor": "0x1234", "device": "0x1111"},  # QEMU's display adapter
            "card3": {"vendor": "0x10de", "device": "0x2684"},  # NVIDIA: nvidia-smi lists it
            "card0-HDMI-A-1": {"vendor": "0x1002", "device": "0x73bf"},  # a connector
            "renderD128": {"vendor": "0x1002", "device": "0x73bf"},
        },
    )
    assert drm_gpus(sys_root) == [
        ("AMD GPU (1002:73bf)", "amd", 16 * 2**30, 15 * 2**30),
        ("Intel GPU (8086:46a6)", "intel", 0, None),
    ]
    assert drm_gpus(tmp_path / "no-sys") == []


def test_doctor_names_a_gpu_without_memory_figures(tmp_path: Path) -> None:
    from app.doctor import doctor_report, format_report
    from app.settings import load_settings

    report = doctor_report(load_settings({"HEARTH_HOME": str(tmp_path)}))
    report["hardware"]["gpus"] = [
        {"name": "AMD GPU (1002:73bf)", "vendor": "amd", "memory_total": 16 * 2**30},
        {"name": "Intel GPU (8086:46a6)", "vendor": "intel", "memory_total": 0},
    ]
    text = format_report(report)
    assert "GPU: AMD GPU (1002:73bf) (16.0 GiB)" in text
    assert "GPU: Intel GPU (8086:46a6) (memory not reported" in text
