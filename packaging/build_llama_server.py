"""Build the bundled ``llama-server`` from the pinned llama-cpp-python sdist.

Why from that sdist: it vendors a tested llama.cpp, so one pin
(``app.pins.LLAMA_CPP_PYTHON_VERSION``) fixes the server's flags and API.
Only the ``llama-server`` and ``ggml-rpc-server`` targets are compiled (UI,
OpenSSL, tests, examples off; ggml's RPC backend on, so llama-server can
split a model across ``hearth worker`` machines and ``ggml-rpc-server`` is
what a worker runs), and the binaries with their shared libraries are
installed into the cache under ``<version>-<backend>-<variant>-rpc``. A
second run finds the build there and returns at once.

Usage: python packaging/build_llama_server.py [--backend cpu|cuda|vulkan|metal]
       [--portable] [--jobs N] [--print-path] [--rebuild] [--cmake-arg ARG ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.pins import LLAMA_CPP_PYTHON_SHA256, LLAMA_CPP_PYTHON_VERSION  # noqa: E402
from app.runner.hardware import detect_hardware  # noqa: E402
from app.runner.locate import RPC_SERVER, build_key, cached_binary  # noqa: E402
from app.settings import default_llama_server_cache  # noqa: E402

SIMPLE_INDEX = "https://pypi.org/simple/llama-cpp-python/"
BACKEND_FLAGS = {
    "cpu": [],
    "cuda": ["-DGGML_CUDA=ON"],
    "vulkan": ["-DGGML_VULKAN=ON"],
    "metal": ["-DGGML_METAL=ON"],
}
COMMON_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_CURL=OFF",
    # Every ELF file gets RUNPATH exactly "$ORIGIN", libraries included:
    # CMake's build RPATH (BUILD_RPATH_USE_ORIGIN) gave "$ORIGIN:" with a
    # stray empty entry, and none at all to libraries that link nothing of
    # ours (libggml-base), so those resolved libgomp from the system.
    "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON",
    "-DCMAKE_INSTALL_RPATH=$ORIGIN",
    "-DGGML_RPC=ON",
]
# What the cache folder of a build must hold: see app.runner.locate.
TARGETS = ["llama-server", RPC_SERVER]
# Portable: every x86 ISA level as a loadable CPU backend, picked at start-up.
PORTABLE_FLAGS = ["-DGGML_NATIVE=OFF", "-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON"]
NATIVE_FLAGS = ["-DGGML_NATIVE=ON"]


def say(message: str) -> None:
    print(f"[llama-server] {message}", flush=True)


def sdist_url_and_digest(version: str) -> tuple[str, str]:
    """Ask PyPI's simple index (PEP 691 JSON) where the sdist is.

    The digest we verify against is the pinned one, not the index's word.
    """
    request = urllib.request.Request(
        SIMPLE_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        index = json.load(reply)
    wanted = f"llama_cpp_python-{version}.tar.gz"
    for file in index["files"]:
        if file["filename"] == wanted:
            return file["url"], LLAMA_CPP_PYTHON_SHA256 or file["hashes"]["sha256"]
    raise SystemExit(f"PyPI lists no sdist for llama-cpp-python {version}")


def download_sdist(version: str, downloads: Path) -> Path:
    """Fetch the sdist once into ``downloads`` and verify its digest."""
    target = downloads / f"llama_cpp_python-{version}.tar.gz"
    if LLAMA_CPP_PYTHON_SHA256 and target.exists() and _sha256(target) == LLAMA_CPP_PYTHON_SHA256:
        return target  # already here and verified: no network needed
    url, digest = sdist_url_and_digest(version)
    downloads.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    say(f"downloading {url}")
    with urllib.request.urlopen(url, timeout=120) as reply, partial.open("wb") as out:
        total = int(reply.headers.get("Content-Length", 0))
        done, last = 0, 0.0
        while chunk := reply.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if time.monotonic() - last > 2:
                last = time.monotonic()
                say(f"  {done / 1e6:.0f} / {total / 1e6:.0f} MB")
    if _sha256(partial) != digest:
        partial.unlink()
        raise SystemExit("sdist digest mismatch: refusing to build from it")
    partial.replace(target)
    return target


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def extract_llama_cpp(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    source = next(into.glob("*/vendor/llama.cpp"))
    return source


def vulkan_headers_problem(source: Path, env: dict[str, str] | None = None) -> str | None:
    """Why the Vulkan backend of this llama.cpp cannot build here, or None.

    Checked before compiling because the failure otherwise comes minutes in,
    deep in ``ggml-vulkan.cpp``: this llama.cpp uses ``VK_EXT_layer_settings``
    unconditionally, which Debian 12's Vulkan headers (1.3.239) lack.
    """
    env = dict(os.environ if env is None else env)
    sdk = env.get("VULKAN_SDK")
    include_dirs = [Path(sdk) / "include"] if sdk else []
    include_dirs += [Path("/usr/include"), Path("/usr/local/include")]
    headers = [d / "vulkan" / "vulkan_core.h" for d in include_dirs]
    header = next((path for path in headers if path.is_file()), None)
    glslc = shutil.which("glslc", path=env.get("PATH")) or (
        shutil.which("glslc", path=str(Path(sdk) / "bin")) if sdk else None
    )
    if header is None or glslc is None:
        return (
            "the Vulkan backend needs the Vulkan headers and glslc: install the LunarG Vulkan"
            " SDK and set VULKAN_SDK (on Debian/Ubuntu: libvulkan-dev glslc)"
        )
    text = header.read_text(errors="replace")
    found = header_version(text)
    vulkan_source = source / "ggml" / "src" / "ggml-vulkan" / "ggml-vulkan.cpp"
    needs_layer_settings = vulkan_source.is_file() and "vk::LayerSettingEXT" in (
        vulkan_source.read_text(errors="replace")
    )
    if needs_layer_settings and "VK_EXT_layer_settings" not in text:
        return (
            f"the Vulkan headers at {header} ({found}) lack VK_EXT_layer_settings, which this"
            " llama.cpp uses: install newer headers (the LunarG Vulkan SDK) and set VULKAN_SDK"
            " (on Debian 12: bash packaging/vulkan_sdk_debian12.sh makes such a folder)"
        )
    return None


def cuda_architecture_problem(
    portable: bool, extra_flags: list[str], gpu_names: list[str] | None = None
) -> str | None:
    """Why a CUDA build would fail at configure time, or None.

    A native build compiles for the GPUs present (``native``), and CMake
    stops when it finds none, as on a build machine without a GPU. Saying
    so here, with the two ways out, beats CMake's message.
    """
    if portable or any(flag.startswith("-DCMAKE_CUDA_ARCHITECTURES=") for flag in extra_flags):
        return None
    if gpu_names is None:
        gpu_names = [gpu.name for gpu in detect_hardware().gpus if gpu.vendor == "nvidia"]
    if gpu_names:
        return None
    return (
        "no NVIDIA GPU is visible to build natively for: add --portable (every common GPU"
        " architecture) or name yours, e.g. --cmake-arg -DCMAKE_CUDA_ARCHITECTURES=90"
    )


CUDA_RUNTIME = re.compile(r"lib(cudart|cublas|cublasLt)\.so\.\d+")


def bundle_cuda_runtime(destination: Path) -> None:
    """Copy the CUDA runtime and cuBLAS the build linked into the build's folder.

    Why: the folder is meant to run as it is (the runner finds it in the
    cache; packaging ships it), and on a machine with only the NVIDIA
    driver there is no CUDA toolkit to resolve ``libcudart``/``libcublas``
    from. The driver itself (``libcuda``) is never copied: it must match
    the kernel module. Libraries are found with ``ldd``, so whatever the
    build linked (toolkit, or a cuBLAS named with --cmake-arg) is what ships.
    """
    for library in sorted(destination.glob("*.so*")):
        listing = subprocess.run(["ldd", str(library)], capture_output=True, text=True)
        for line in listing.stdout.splitlines():
            name, _, where = line.strip().partition(" => ")
            resolved = where.split(" (")[0].strip()
            if CUDA_RUNTIME.fullmatch(name) and resolved.startswith("/"):
                target = destination / name
                if not target.exists():
                    say(f"bundling {resolved}")
                    shutil.copy2(Path(resolved).resolve(), target)


def header_version(vulkan_core: str) -> str:
    """``1.4.309`` from the text of ``vulkan_core.h`` (older headers say only the patch)."""
    patch = re.search(r"#define VK_HEADER_VERSION (\d+)", vulkan_core)
    if patch is None:
        return "unknown version"
    complete = re.search(
        r"#define VK_HEADER_VERSION_COMPLETE VK_MAKE_API_VERSION\(\d+, (\d+), (\d+),", vulkan_core
    )
    major, minor = complete.groups() if complete else ("1", "3")
    return f"{major}.{minor}.{patch.group(1)}"


def run_logged(command: list[str], cwd: Path) -> None:
    say("$ " + " ".join(command))
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        tail = (tail + [line])[-40:]
        if line.startswith("[") and "%]" in line[:8]:
            print("  " + line.rstrip(), flush=True)
    if process.wait() != 0:
        sys.stdout.write("".join(tail))
        raise SystemExit(f"command failed with status {process.returncode}")


ORIGIN = "$ORIGIN"
# Runtime libraries from the toolchain that a portable build carries with it:
# the OpenMP runtime is GCC's, not glibc's, so a machine without GCC (or with
# another version) may lack it or have an older one.
TOOLCHAIN_RUNTIME = re.compile(r"libgomp\.so\.\d+")


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def runpath(path: Path) -> str | None:
    """The DT_RUNPATH (or, failing that, DT_RPATH) of an ELF file, as ``readelf -d`` shows it."""
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True)
    found = re.search(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dynamic.stdout)
    return found.group(1) if found else None


def runpath_problems(folder: Path) -> list[str]:
    """Each ELF file in ``folder`` whose RUNPATH is not exactly ``$ORIGIN``, with what it has.

    Why exactly: an empty entry (``$ORIGIN:``) means the current directory
    to the loader, and a missing one lets a library resolve its neighbours
    (libgomp, libggml-base) from the system instead of the folder.
    """
    if sys.platform != "linux" or shutil.which("readelf") is None:
        return []
    problems = []
    for path in sorted(folder.iterdir()):
        foreign = TOOLCHAIN_RUNTIME.fullmatch(path.name) or CUDA_RUNTIME.fullmatch(path.name)
        if foreign or not (path.is_file() and is_elf(path)):
            continue  # copied from the system as they are: they link only libc
        if (found := runpath(path)) != ORIGIN:
            problems.append(f"{path.name}: RUNPATH {found!r}, want {ORIGIN!r}")
    return problems


def bundle_toolchain_runtime(destination: Path) -> None:
    """Copy the OpenMP runtime the CPU backends link into the build's folder.

    With RUNPATH ``$ORIGIN`` the copy beside them is found first, so the
    folder runs on a machine with no (or an older) libgomp.
    """
    for library in sorted(destination.iterdir()):
        if not (library.is_file() and is_elf(library)):
            continue
        listing = subprocess.run(["ldd", str(library)], capture_output=True, text=True)
        for line in listing.stdout.splitlines():
            name, _, where = line.strip().partition(" => ")
            resolved = where.split(" (")[0].strip()
            target = destination / name
            wanted = TOOLCHAIN_RUNTIME.fullmatch(name) and resolved.startswith("/")
            if wanted and not target.exists():
                say(f"bundling {resolved}")
                shutil.copy2(Path(resolved).resolve(), target)
                if shutil.which("patchelf"):
                    subprocess.run(["patchelf", "--set-rpath", ORIGIN, str(target)], check=True)


def install(build_bin: Path, destination: Path) -> None:
    """Copy llama-server, the RPC server and the libraries they load into place, once each.

    A CMake build leaves ``libx.so -> libx.so.0 -> libx.so.0.25.3``; the
    loader asks for the soname (``libx.so.0``) or, for unversioned libraries
    and backend modules, the plain ``.so``. Only those names are kept, each
    as a real file, so the folder is relocatable and holds no duplicates.
    """
    staging = destination.with_name(destination.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    names = {item.name for item in build_bin.iterdir()}
    for item in build_bin.iterdir():
        name = item.name
        soname = re.fullmatch(r"(.+\.so)\.\d+", name)
        unversioned = name.endswith(".so") and not any(n.startswith(name + ".") for n in names)
        wanted = (
            name in {"llama-server", RPC_SERVER}
            or name in {"llama-server.exe", RPC_SERVER + ".exe"}
            or soname is not None
            or unversioned
            or item.suffix in {".dll", ".dylib"}
        )
        if wanted and item.is_file():
            shutil.copy2(item.resolve(), staging / name)
    if destination.exists():
        shutil.rmtree(destination)
    staging.rename(destination)


def build(
    backend: str,
    portable: bool,
    jobs: int,
    extra_flags: list[str] | None = None,
    rebuild: bool = False,
) -> Path:
    cache = default_llama_server_cache()
    key = build_key(backend, portable)
    found = cached_binary(cache, key)
    if found is not None and not rebuild:
        say(f"already built: {found}")
        return found
    extra_flags = list(extra_flags or [])
    if backend == "cuda" and (problem := cuda_architecture_problem(portable, extra_flags)):
        raise SystemExit(f"cannot build the cuda backend: {problem}")
    say(f"building llama-server {key} (this takes several minutes, once)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hearth-llama-") as work_text:
        work = Path(work_text)
        sdist = download_sdist(LLAMA_CPP_PYTHON_VERSION, cache / "downloads")
        source = extract_llama_cpp(sdist, work)
        if backend == "vulkan" and (problem := vulkan_headers_problem(source)):
            raise SystemExit(f"cannot build the vulkan backend: {problem}")
        build_dir = work / "build"
        flags = COMMON_FLAGS + BACKEND_FLAGS[backend]
        flags += PORTABLE_FLAGS if portable else NATIVE_FLAGS
        flags.append(f"-DLLAMA_BUILD_NUMBER={LLAMA_CPP_PYTHON_VERSION.replace('.', '')}")
        flags += extra_flags
        run_logged(["cmake", "-S", str(source), "-B", str(build_dir), *flags], work)
        run_logged(
            ["cmake", "--build", str(build_dir), "--target", *TARGETS, "-j", str(jobs)],
            work,
        )
        destination = cache / key
        install(build_dir / "bin", destination)
        if backend == "cuda":
            bundle_cuda_runtime(destination)
        if portable and sys.platform == "linux":
            bundle_toolchain_runtime(destination)
        if problems := runpath_problems(destination):
            raise SystemExit("wrong RUNPATH in the build:\n  " + "\n  ".join(problems))
        info = {
            "llama_cpp_python": LLAMA_CPP_PYTHON_VERSION,
            "backend": backend,
            "portable": portable,
            "flags": flags,
            "targets": TARGETS,
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (destination / "build-info.json").write_text(json.dumps(info, indent=2))
    binary = destination / "llama-server"
    say(f"built {binary} in {time.monotonic() - started:.0f} s")
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(BACKEND_FLAGS), default="cpu")
    parser.add_argument("--portable", action="store_true", help="build for distribution")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--print-path", action="store_true", help="print only the binary path")
    parser.add_argument(
        "--cmake-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more CMake argument, e.g. -DCMAKE_CUDA_ARCHITECTURES=90 (repeatable)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build even if one is cached")
    args = parser.parse_args(argv)
    if shutil.which("cmake") is None:
        raise SystemExit("cmake is required: apt-get install cmake g++ (or your OS's equivalent)")
    binary = build(args.backend, args.portable, args.jobs, args.cmake_arg, args.rebuild)
    if args.print_path:
        print(binary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
