"""Finding the ``llama-server`` binary Hearth drives.

Search order: ``HEARTH_LLAMA_SERVER`` (via settings), next to a frozen
executable, the build cache, then ``PATH``. When none exists the error says
exactly which command builds one.

Among cached builds, a GPU build (CUDA, Vulkan, Metal) is taken only when
it sees a device (``llama-server --list-devices`` names one); otherwise the
CPU build is. A GPU build with no device to use runs on the CPU anyway, so
the choice costs nothing when it is wrong, but the CPU build starts faster
and is the one the tests and the bench were measured with.

A frozen app (the installed bundle) always carries a CPU build beside its
executable. GPU engines come separately, because each one is hundreds of
megabytes that most machines cannot use: a build folder in
``<bundle>/engines/<build key>/`` (what an engine package installs, e.g.
``/opt/hearth/engines/``) or in the user's build cache (what
``packaging/build_llama_server.py --backend cuda`` writes). The frozen app
takes such an engine before its own CPU build when the engine sees a
device, and falls back to the CPU build otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from app.pins import LLAMA_CPP_PYTHON_VERSION
from app.runner.child_env import own_child_env
from app.runner.errors import LlamaServerNotFound
from app.settings import Settings, default_llama_server_cache

BUILD_COMMAND = "python packaging/build_llama_server.py"
RPC_SERVER = "ggml-rpc-server"
"""llama.cpp's RPC server (tools/rpc), built beside llama-server: what ``hearth worker`` runs."""


def build_key(backend: str = "cpu", portable: bool = False) -> str:
    """The cache folder name for one build: llama.cpp pin + backend + variant + recipe.

    The ``-rpc`` suffix names the recipe with ggml's RPC backend and
    ``ggml-rpc-server``: a folder built before it (no suffix) lacks both,
    so it is not taken, and a new build goes beside it instead of over it.
    """
    variant = "portable" if portable else "native"
    return f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}-{backend}-{variant}-rpc"


def cached_binary(cache: Path, key: str) -> Path | None:
    """The build's llama-server when its folder is complete (both binaries and the build record)."""
    folder = cache / key
    complete = all((folder / name).is_file() for name in ("llama-server", RPC_SERVER))
    return folder / "llama-server" if complete and (folder / "build-info.json").is_file() else None


def list_devices(binary: Path) -> list[str]:
    """The devices a llama-server build can run models on, as it names them.

    ``--list-devices`` prints "Available devices:" and one line per GPU
    (``Vulkan0: NVIDIA H200 (143771 MiB, 142000 MiB free)``), or ``(none)``.
    A build that cannot even start lists none. Cached per binary and
    modification time: the answer only changes with the build or a driver.
    """
    try:
        stamp = binary.stat().st_mtime_ns
    except OSError:
        return []
    return list(_list_devices(str(binary), stamp))


@lru_cache(maxsize=16)
def _list_devices(binary: str, stamp: int) -> tuple[str, ...]:
    try:
        done = subprocess.run(
            [binary, "--list-devices"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=str(Path(binary).parent),
            stdin=subprocess.DEVNULL,
            env=own_child_env(Path(binary)),
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    lines = (done.stdout + done.stderr).splitlines()
    stripped = [line.strip() for line in lines]
    if done.returncode != 0 or "Available devices:" not in stripped:
        return ()
    start = stripped.index("Available devices:") + 1
    tail = zip(lines[start:], stripped[start:], strict=True)
    listed = [text for line, text in tail if line.startswith((" ", "\t"))]
    return tuple(device for device in listed if device and device != "(none)")


ENGINES_DIR = "engines"
"""The folder beside a frozen executable where separately installed GPU engines go."""


def _bundle_dirs() -> list[Path]:
    """Where a frozen app's own files are: the executable's folder and PyInstaller's."""
    if not getattr(sys, "frozen", False):
        return []
    executable_dir = Path(sys.executable).resolve().parent
    bundle = Path(getattr(sys, "_MEIPASS", executable_dir))
    return list(dict.fromkeys([executable_dir, bundle]))


def _bundled_server() -> Path | None:
    """The CPU llama-server a frozen app ships beside its executable."""
    name = "llama-server.exe" if sys.platform == "win32" else "llama-server"
    return next((d / name for d in _bundle_dirs() if (d / name).is_file()), None)


def _build_folders(settings: Settings) -> list[Path]:
    """Folders holding build-key sub-folders: installed engines first, then the caches."""
    engines = [folder / ENGINES_DIR for folder in _bundle_dirs()]
    caches = [settings.llama_server_cache, default_llama_server_cache()]
    return list(dict.fromkeys(engines + caches))


def _cache_candidates(settings: Settings) -> tuple[list[Path], list[Path], list[Path]]:
    """Cached builds in three groups, best first.

    GPU builds that see a device, CPU builds, the GPU builds that see none.
    """
    with_device: list[Path] = []
    cpu: list[Path] = []
    without_device: list[Path] = []
    for cache in _build_folders(settings):
        for backend in ("cuda", "vulkan", "metal", "cpu"):
            for portable in (False, True):
                binary = cached_binary(cache, build_key(backend, portable))
                if binary is None:
                    continue
                if backend == "cpu":
                    cpu.append(binary)
                elif list_devices(binary):
                    with_device.append(binary)
                else:
                    without_device.append(binary)
    return with_device, cpu, without_device


def locate_llama_server(settings: Settings) -> Path:
    """Return the llama-server to run, or raise with the command that builds one."""
    if settings.llama_server is not None:
        if settings.llama_server.is_file():
            return settings.llama_server
        raise LlamaServerNotFound(
            f"HEARTH_LLAMA_SERVER points at {settings.llama_server}, which does not exist"
        )
    with_device, cpu, without_device = _cache_candidates(settings)
    bundled = _bundled_server()
    ranked = with_device + ([bundled] if bundled else []) + cpu + without_device
    if ranked:
        return ranked[0]
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise LlamaServerNotFound(
        f"llama-server was not found. Build it once with: {BUILD_COMMAND} "
        "(or set HEARTH_LLAMA_SERVER to an existing llama-server binary)"
    )


def locate_rpc_server(settings: Settings) -> Path:
    """The ``ggml-rpc-server`` built beside the llama-server Hearth runs (one build, one pin).

    Beside it, not searched for on its own: the worker and the main Hearth
    must speak the same RPC protocol, which ships identical builds.
    """
    server = locate_llama_server(settings)
    name = RPC_SERVER + (".exe" if sys.platform == "win32" else "")
    binary = server.parent / name
    if not binary.is_file():
        raise LlamaServerNotFound(
            f"{server} has no {name} beside it (a build from before workers existed?)."
            f" Build both once with: {BUILD_COMMAND}"
        )
    return binary


def build_info(binary: Path) -> dict[str, object]:
    """What the build recorded about itself, or a guess for foreign binaries."""
    info_file = binary.parent / "build-info.json"
    if info_file.is_file():
        return json.loads(info_file.read_text())
    return {"backend": "unknown", "llama_cpp_python": None}
