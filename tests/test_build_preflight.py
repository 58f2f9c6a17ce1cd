"""The llama-server build's checks before compiling a GPU backend.

The CUDA check is given the GPU list instead of asking ``nvidia-smi``, so
it is tested the same on machines with and without a GPU.

The Vulkan headers here are stand-in files written by the test (a header
of each version cannot be installed side by side on one machine); the
check itself and the pinned llama.cpp's real requirement are what is tested.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packaging"))

from build_llama_server import (  # noqa: E402
    cuda_architecture_problem,
    header_version,
    vulkan_headers_problem,
)


def sdk(tmp_path: Path, header_version: int, layer_settings: bool) -> dict[str, str]:
    """A stand-in Vulkan SDK folder: vulkan_core.h and an executable glslc."""
    root = tmp_path / f"sdk-{header_version}"
    (root / "include" / "vulkan").mkdir(parents=True)
    (root / "bin").mkdir()
    text = f"#define VK_HEADER_VERSION {header_version}\n"
    if layer_settings:
        text += "#define VK_EXT_layer_settings 1\n"
    (root / "include" / "vulkan" / "vulkan_core.h").write_text(text)
    glslc = root / "bin" / "glslc"
    glslc.write_text("#!/bin/sh\n")
    glslc.chmod(glslc.stat().st_mode | stat.S_IXUSR)
    return {"VULKAN_SDK": str(root), "PATH": os.defpath}


def llama_source(tmp_path: Path, uses_layer_settings: bool) -> Path:
    source = tmp_path / "llama.cpp"
    vulkan = source / "ggml" / "src" / "ggml-vulkan"
    vulkan.mkdir(parents=True)
    code = "std::vector<vk::LayerSettingEXT> settings;" if uses_layer_settings else "int x;"
    (vulkan / "ggml-vulkan.cpp").write_text(code)
    return source


def test_old_headers_are_refused_before_compiling(tmp_path: Path) -> None:
    problem = vulkan_headers_problem(llama_source(tmp_path, True), sdk(tmp_path, 239, False))
    assert problem is not None
    assert "VK_EXT_layer_settings" in problem and "1.3.239" in problem and "VULKAN_SDK" in problem


def test_headers_with_layer_settings_pass(tmp_path: Path) -> None:
    assert vulkan_headers_problem(llama_source(tmp_path, True), sdk(tmp_path, 275, True)) is None


def test_a_llama_cpp_without_that_need_passes_old_headers(tmp_path: Path) -> None:
    assert vulkan_headers_problem(llama_source(tmp_path, False), sdk(tmp_path, 239, False)) is None


def test_missing_glslc_is_named(tmp_path: Path) -> None:
    env = sdk(tmp_path, 275, True)
    (Path(env["VULKAN_SDK"]) / "bin" / "glslc").unlink()
    env["PATH"] = str(tmp_path / "empty")
    problem = vulkan_headers_problem(llama_source(tmp_path, True), env)
    assert problem is not None and "glslc" in problem


def test_the_pinned_llama_cpp_really_needs_layer_settings() -> None:
    """The reason for the check, read from the pinned sdist the build downloaded."""
    import tarfile

    from app.pins import LLAMA_CPP_PYTHON_VERSION
    from app.settings import default_llama_server_cache

    sdist = (
        default_llama_server_cache()
        / "downloads"
        / (f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz")
    )
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/ggml-vulkan.cpp"))
        code = archive.extractfile(member).read().decode(errors="replace")  # type: ignore[union-attr]
    assert "vk::LayerSettingEXT" in code


def test_header_version_reads_major_and_minor() -> None:
    newer = (
        "#define VK_HEADER_VERSION 309\n"
        "#define VK_HEADER_VERSION_COMPLETE VK_MAKE_API_VERSION(0, 1, 4, VK_HEADER_VERSION)\n"
    )
    older = (
        "#define VK_HEADER_VERSION 239\n"
        "#define VK_HEADER_VERSION_COMPLETE VK_MAKE_API_VERSION(0, 1, 3, VK_HEADER_VERSION)\n"
    )
    assert header_version(newer) == "1.4.309"
    assert header_version(older) == "1.3.239"
    assert header_version("/* no version */") == "unknown version"


def test_native_cuda_build_with_no_gpu_names_the_ways_out() -> None:
    problem = cuda_architecture_problem(portable=False, extra_flags=[], gpu_names=[])
    assert problem is not None
    assert "--portable" in problem and "-DCMAKE_CUDA_ARCHITECTURES=" in problem


def test_cuda_build_passes_with_a_gpu_a_named_architecture_or_portable() -> None:
    gpu = ["GPU 0: NVIDIA H200 (UUID: GPU-0)"]
    assert cuda_architecture_problem(portable=False, extra_flags=[], gpu_names=gpu) is None
    named = ["-DCMAKE_CUDA_ARCHITECTURES=90"]
    assert cuda_architecture_problem(portable=False, extra_flags=named, gpu_names=[]) is None
    assert cuda_architecture_problem(portable=True, extra_flags=[], gpu_names=[]) is None
