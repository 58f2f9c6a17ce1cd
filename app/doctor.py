"""``hearth doctor``: everything needed to tell why Hearth does or does not work."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from app import __version__
from app.pins import LLAMA_CPP_PYTHON_VERSION
from app.runner.child_env import own_child_env
from app.runner.hardware import detect_hardware, disk_free
from app.runner.locate import LlamaServerNotFound, build_info, list_devices, locate_llama_server
from app.runner.rpc_workers import probe_workers
from app.settings import Settings


def version_check(binary: Path) -> tuple[str, str | None]:
    """(``--version`` line, None) when the binary starts, or ("", why it cannot).

    Run as the runner runs it (same environment, its folder as cwd), so a
    missing or mismatched shared library (a bundle whose libgomp or
    libggml-base went missing) shows here as the loader's own words, not
    later as a model that never loads.
    """
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=20,
            cwd=str(binary.parent),
            stdin=subprocess.DEVNULL,
            env=own_child_env(binary),
        )
    except subprocess.TimeoutExpired:
        return "", f"{binary} --version did not answer within 20 s"
    except OSError as error:
        return "", f"{binary} cannot be run: {error}"
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        tail = " | ".join(output.splitlines()[-3:]) or "no output"
        return "", f"{binary} --version failed with status {done.returncode}: {tail}"
    lines = output.splitlines()
    return (lines[-1] if lines else ""), None


def llama_server_info(settings: Settings) -> dict[str, Any]:
    """The llama-server Hearth would run: path, backend and its own ``--version`` line."""
    try:
        binary = locate_llama_server(settings)
    except LlamaServerNotFound as error:
        return {"found": False, "error": str(error)}
    info = build_info(binary)
    version, problem = version_check(binary)
    return {
        "found": True,
        "starts": problem is None,
        "error": problem,
        "path": str(binary),
        "backend": info.get("backend", "unknown"),
        "portable": info.get("portable"),
        "llama_cpp_python": info.get("llama_cpp_python"),
        "version": version,
        "devices": list_devices(binary),
    }


def doctor_report(settings: Settings, workers: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Everything ``hearth doctor`` says; ``workers``: check these ``hearth worker`` addresses."""
    hardware = detect_hardware()
    report = {
        "hearth": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "llama_cpp_pin": f"llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} (vendored llama.cpp)",
        "directories": {
            "data": str(settings.data_dir),
            "models": str(settings.models_dir),
            "cache": str(settings.cache_dir),
            "logs": str(settings.log_dir),
        },
        "llama_server": llama_server_info(settings),
        "child_watch": settings.child_watch,
        "hardware": hardware.as_dict(),
        "disk_free_models": disk_free(settings.models_dir),
    }
    if workers is not None:
        report["workers"] = [status.as_dict() for status in probe_workers(workers)]
    return report


def format_report(report: dict[str, Any]) -> str:
    gib = 2**30
    hw = report["hardware"]
    server = report["llama_server"]
    lines = [
        f"Hearth {report['hearth']} (Python {report['python']}, {report['platform']})",
        f"llama.cpp: {report['llama_cpp_pin']}",
        "",
        "Directories:",
        *(f"  {name:<7} {path}" for name, path in report["directories"].items()),
        "",
    ]
    if server["found"] and not server["starts"]:
        lines += [
            f"llama-server: CANNOT START. {server['error']}",
            "  Hearth cannot run models until this is fixed: reinstall Hearth, or rebuild with"
            " python packaging/build_llama_server.py --rebuild",
        ]
    elif server["found"]:
        lines += [
            f"llama-server: {server['path']}",
            f"  backend {server['backend']}, {server['version'] or 'version unknown'}",
            f"  devices: {'; '.join(server['devices']) or 'none (models run on the CPU)'}",
            f"  stopped if Hearth is killed by: {report['child_watch']}",
        ]
    else:
        lines += [f"llama-server: NOT FOUND. {server['error']}"]
    lines += [
        "",
        f"CPU: {hw['cpu_model']} ({hw['physical_cores']} cores, {hw['logical_cores']} threads;"
        f" {', '.join(hw['cpu_flags']) or 'no SIMD flags read'})",
        f"RAM: {hw['memory_total'] / gib:.1f} GiB total,"
        f" {hw['memory_available'] / gib:.1f} GiB free",
    ]
    if hw["gpus"]:
        for gpu in hw["gpus"]:
            memory = (
                f"{gpu['memory_total'] / gib:.1f} GiB"
                if gpu["memory_total"]
                else "memory not reported; shares system memory if integrated"
            )
            lines.append(f"GPU: {gpu['name']} ({memory})")
    else:
        lines.append("GPU: none detected (CPU inference)")
    lines.append(f"Disk free for models: {report['disk_free_models'] / gib:.1f} GiB")
    if "workers" in report:
        lines += ["", *format_workers(report["workers"])]
    return "\n".join(lines)


def format_workers(workers: list[dict[str, Any]]) -> list[str]:
    """One line per worker: reachable with its devices' free memory, or why not."""
    if not workers:
        return ["Workers: none (set them with --workers, HEARTH_WORKERS or Settings)"]
    mib = 2**20
    lines = ["Workers:"]
    for worker in workers:
        if worker["state"] == "ok":
            devices = "; ".join(
                f"device {d['index']}: {d['free'] // mib} MiB free of {d['total'] // mib} MiB"
                for d in worker["devices"]
            )
            lines.append(f"  {worker['address']}: reachable (RPC {worker['version']}); {devices}")
        else:
            lines.append(f"  {worker['address']}: {worker['state'].upper()}, {worker['detail']}")
    return lines
