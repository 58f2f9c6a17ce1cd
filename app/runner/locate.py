"""Finding the ``llama-server`` binary Hearth drives.

Search order: ``HEARTH_LLAMA_SERVER`` (via settings), next to a frozen
executable, the build cache, then ``PATH``. When none exists the error says
exactly which command builds one.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from app.pins import LLAMA_CPP_PYTHON_VERSION
from app.settings import Settings, default_llama_server_cache

BUILD_COMMAND = "python packaging/build_llama_server.py"


class LlamaServerNotFound(RuntimeError):
    """No llama-server binary could be found anywhere we look."""


def build_key(backend: str = "cpu", portable: bool = False) -> str:
    """The cache folder name for one build: llama.cpp pin + backend + variant."""
    variant = "portable" if portable else "native"
    return f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}-{backend}-{variant}"


def cached_binary(cache: Path, key: str) -> Path | None:
    binary = cache / key / "llama-server"
    return binary if binary.is_file() and (cache / key / "build-info.json").is_file() else None


def _cache_candidates(settings: Settings) -> list[Path]:
    found: list[Path] = []
    for cache in dict.fromkeys([settings.llama_server_cache, default_llama_server_cache()]):
        for backend in ("cuda", "vulkan", "metal", "cpu"):
            for portable in (False, True):
                binary = cached_binary(cache, build_key(backend, portable))
                if binary is not None:
                    found.append(binary)
    return found


def locate_llama_server(settings: Settings) -> Path:
    """Return the llama-server to run, or raise with the command that builds one."""
    if settings.llama_server is not None:
        if settings.llama_server.is_file():
            return settings.llama_server
        raise LlamaServerNotFound(
            f"HEARTH_LLAMA_SERVER points at {settings.llama_server}, which does not exist"
        )
    if getattr(sys, "frozen", False):
        name = "llama-server.exe" if sys.platform == "win32" else "llama-server"
        bundle = Path(getattr(sys, "_MEIPASS", Path(sys.executable).resolve().parent))
        for folder in (Path(sys.executable).resolve().parent, bundle):
            if (folder / name).is_file():
                return folder / name
    cached = _cache_candidates(settings)
    if cached:
        return cached[0]
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise LlamaServerNotFound(
        f"llama-server was not found. Build it once with: {BUILD_COMMAND} "
        "(or set HEARTH_LLAMA_SERVER to an existing llama-server binary)"
    )


def build_info(binary: Path) -> dict[str, object]:
    """What the build recorded about itself, or a guess for foreign binaries."""
    info_file = binary.parent / "build-info.json"
    if info_file.is_file():
        return json.loads(info_file.read_text())
    return {"backend": "unknown", "llama_cpp_python": None}
