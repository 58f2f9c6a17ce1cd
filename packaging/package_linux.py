"""Build Hearth's Linux packages: portable llama-server, PyInstaller folder, .deb, .tar.zst.

Usage (normally through ``bash packaging/dev.sh package``, which sets up the
packaging venv and the Debian tools first)::

    python packaging/package_linux.py [--jobs N] [--force]

Each step is cached: the portable llama-server in the user cache like the
native one, the PyInstaller folder and the two archives in ``dist/`` under
a stamp of their inputs (the app's files, ui_dist, build.spec, pyproject,
packaging/linux, the llama-server build and the packaging venv's
packages). A second run with nothing changed takes seconds. Step times
go to ``dist/build-times.json``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "packaging"))

from build_llama_server import build as build_llama_server  # noqa: E402
from linux_deps import depends_field, link_report  # noqa: E402

from app import __version__  # noqa: E402
from app.runner.locate import build_key  # noqa: E402

DIST = ROOT / "dist"
WORK = ROOT / "build" / "package"
LINUX = ROOT / "packaging" / "linux"
PACKAGE = "hearth"
ARCH = "amd64"
CHANGELOG_DATE = "Fri, 04 Dec 2026 00:00:00 +0000"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
INPUTS = ["app", "ui_dist", "build.spec", "pyproject.toml", "packaging/linux"]
INPUTS += ["packaging/package_linux.py", "packaging/linux_deps.py"]


def say(message: str) -> None:
    print(f"\033[1m[package]\033[0m {message}", flush=True)


class Timer:
    """Seconds per step, for the terminal and for dist/build-times.json."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    def run(self, name: str, action, *args):  # type: ignore[no-untyped-def]
        say(f"{name} ...")
        started = time.monotonic()
        result = action(*args)
        self.steps[name] = round(time.monotonic() - started, 1)
        say(f"{name}: done in {self.steps[name]:.0f} s")
        return result


def inputs_digest(server_dir: Path) -> str:
    """A digest of everything the bundle is made from (see the module docstring)."""
    sha = hashlib.sha256()
    for name in INPUTS:
        base = ROOT / name
        paths = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                sha.update(str(path.relative_to(ROOT)).encode())
                sha.update(path.read_bytes())
    sha.update((server_dir / "build-info.json").read_bytes())
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True
    )
    sha.update(frozen.stdout.encode())
    return sha.hexdigest()[:16]


def stream(command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Run ``command`` with its output in ``log``, a progress line every few seconds."""
    say("$ " + " ".join(command) + f"  (log: {log})")
    last = 0.0
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            if time.monotonic() - last > 5:
                last = time.monotonic()
                print("    " + line.rstrip()[:150], flush=True)
    if process.wait() != 0:
        sys.stdout.write(log.read_text()[-4000:])
        raise SystemExit(f"{command[0]} failed with status {process.returncode} (log: {log})")


def pyinstaller(server_dir: Path, bundle: Path) -> None:
    env = dict(os.environ, HEARTH_LLAMA_SERVER_DIR=str(server_dir), HEARTH_PORTABLE="1")
    work = WORK / "pyinstaller"
    shutil.rmtree(bundle, ignore_errors=True)
    command = [sys.executable, "-m", "PyInstaller", "build.spec", "--noconfirm", "--clean"]
    command += ["--distpath", str(bundle.parent), "--workpath", str(work)]
    stream(command, WORK / "pyinstaller.log", env)


def icons(stage: Path) -> None:
    """hicolor icons at the usual sizes from the one 256 px source (ImageMagick)."""
    source = ROOT / "app" / "desktop" / "assets" / "hearth.png"
    for size in ICON_SIZES:
        folder = stage / "usr/share/icons/hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "hearth.png"
        if size == 256:
            shutil.copyfile(source, target)
        else:
            subprocess.run(
                ["convert", str(source), "-resize", f"{size}x{size}", "-strip", str(target)],
                check=True,
            )


def stage_deb(bundle: Path, stage: Path) -> None:
    """The .deb's tree: /opt/hearth, /usr/bin/hearth, menu entry, icons, metadata, docs."""
    shutil.rmtree(stage, ignore_errors=True)
    opt = stage / "opt" / PACKAGE
    opt.parent.mkdir(parents=True)
    shutil.copytree(bundle, opt, symlinks=True)
    # Qt WebEngine's zygote makes this (empty, 0700) folder at start when it
    # can: as root it could, and apt-get remove then left /opt/hearth behind.
    # Owned by the package, it goes with it.
    for resources in opt.glob("_internal/*/Qt*/resources"):
        (resources / "locales").mkdir(exist_ok=True)
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin" / PACKAGE).symlink_to(f"/opt/{PACKAGE}/{PACKAGE}")
    for folder, name in [("applications", "hearth.desktop"), ("metainfo", "hearth.metainfo.xml")]:
        (stage / "usr/share" / folder).mkdir(parents=True)
        shutil.copyfile(LINUX / name, stage / "usr/share" / folder / name)
    icons(stage)
    stage_package_docs(stage, PACKAGE)


def stage_package_docs(stage: Path, package: str) -> None:
    """What Debian policy wants of every package: copyright, changelog, lintian's overrides.

    Then the modes: 0755 for folders and programs, 0644 for everything else.
    """
    doc = stage / "usr/share/doc" / package
    doc.mkdir(parents=True)
    shutil.copyfile(LINUX / "copyright", doc / "copyright")
    changelog = (
        f"{package} ({__version__}) unstable; urgency=medium\n\n"
        "  * Built from the Hearth repository by packaging/package_linux.py.\n\n"
        f" -- Hearth contributors <hearth@localhost>  {CHANGELOG_DATE}\n"
    )
    with gzip.GzipFile(doc / "changelog.gz", "wb", mtime=0, compresslevel=9) as out:
        out.write(changelog.encode())
    overrides = stage / "usr/share/lintian/overrides"
    overrides.mkdir(parents=True)
    (overrides / package).write_text(
        (LINUX / "lintian-overrides").read_text().replace(f"{PACKAGE}:", f"{package}:")
    )
    for path in stage.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or is_program(path) else 0o644)


def is_program(path: Path) -> bool:
    """Whether a staged file keeps its execute bit.

    PyInstaller copies shared libraries with the mode they had (0755 from most
    distributions); Debian policy 10.9 wants them 0644, and the loader needs no
    execute bit to map them (lintian: shared-library-is-executable).
    """
    name = path.name
    is_library = name.endswith(".so") or ".so." in name
    return os.access(path, os.X_OK) and not is_library


def tree_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root``; a symlink (PyInstaller makes dozens to
    Qt's libraries) is not a second copy of what it points at."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


APP_DESCRIPTION = (
    "private, offline chat with local language models\n"
    " Hearth is one desktop program: an Ollama-compatible model server driving\n"
    " llama.cpp's llama-server on the CPU, a model store in Ollama's layout and\n"
    " a chat window. This package carries its own Python, Qt and llama-server\n"
    " under /opt/hearth.\n"
)


def control(stage: Path, depends: str, package: str = PACKAGE, description: str = "") -> str:
    """DEBIAN/control for the staged tree (its size counted from the files)."""
    return (
        f"Package: {package}\n"
        f"Version: {__version__}\n"
        f"Architecture: {ARCH}\n"
        "Maintainer: Hearth contributors <hearth@localhost>\n"
        f"Installed-Size: {tree_bytes(stage) // 1024}\n"
        f"Depends: {depends}\n"
        "Section: utils\n"
        "Priority: optional\n"
        f"Description: {description or APP_DESCRIPTION}"
    )


def make_deb(bundle: Path, deb: Path) -> dict[str, object]:
    stage = WORK / "deb"
    stage_deb(bundle, stage)
    report = link_report(stage / "opt" / PACKAGE)
    if report.missing:
        wanted = "; ".join(
            f"{name} (by {', '.join(sorted(by)[:2])})"
            for name, by in sorted(report.missing.items())
        )
        say(f"warning: libraries found neither in the bundle nor here: {wanted}")
    depends = depends_field(report)
    say(f"Depends: {depends}")
    say(f"highest glibc symbol: GLIBC_{'.'.join(map(str, report.glibc))} ({report.glibc_file})")
    (stage / "DEBIAN").mkdir()
    (stage / "DEBIAN" / "control").write_text(control(stage, depends))
    deb.unlink(missing_ok=True)
    subprocess.run(
        [
            "dpkg-deb",
            "--root-owner-group",
            "-Zxz",
            "-z6",
            "--build",
            str(stage),
            str(deb),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {
        "depends": depends,
        "glibc": ".".join(map(str, report.glibc)),
        "glibc_file": report.glibc_file,
        "missing": sorted(report.missing),
        "unowned": sorted(report.unowned),
    }


ENGINE_SUMMARY = {
    "cuda": "NVIDIA GPUs (CUDA)",
    "vulkan": "GPUs through Vulkan (AMD, Intel, NVIDIA)",
}


def engine_package(backend: str) -> str:
    return f"{PACKAGE}-engine-{backend}"


def make_engine_deb(build_dir: Path, deb: Path) -> str:
    """A GPU engine as its own .deb: the build folder under /opt/hearth/engines/<key>/.

    The installed app takes it over its bundled CPU build when it sees a
    device (app.runner.locate); removing the package falls back to the CPU
    build. Only the libraries the system must give (the GPU driver's, such
    as libcuda, are left to the driver) become Depends, beside the Hearth
    of the same version, whose llama.cpp pin the engine shares.
    """
    info = json.loads((build_dir / "build-info.json").read_text())
    backend = str(info.get("backend", "unknown"))
    package = engine_package(backend)
    stage = WORK / f"engine-{backend}"
    shutil.rmtree(stage, ignore_errors=True)
    target = stage / "opt" / PACKAGE / "engines" / build_dir.name
    target.parent.mkdir(parents=True)
    shutil.copytree(build_dir, target, symlinks=True)
    stage_package_docs(stage, package)
    report = link_report(target)
    if report.missing:
        say(f"left to the system's driver: {', '.join(sorted(report.missing))}")
    depends = f"{PACKAGE} (= {__version__})"
    if report.glibc > (0,):
        depends += ", " + depends_field(report)
    summary = ENGINE_SUMMARY.get(backend, f"the {backend} backend")
    description = (
        f"Hearth's llama-server engine for {summary}\n"
        " A llama.cpp llama-server build of the same pinned llama.cpp as Hearth's\n"
        " own CPU build. Hearth runs models with it when it sees a device, and on\n"
        " its CPU build otherwise.\n"
    )
    (stage / "DEBIAN").mkdir()
    (stage / "DEBIAN" / "control").write_text(control(stage, depends, package, description))
    deb.unlink(missing_ok=True)
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--build", str(stage), str(deb)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return depends


def lintian(deb: Path) -> None:
    if shutil.which("lintian") is None:
        say("lintian is not installed: not checked (apt-get install lintian)")
        return
    done = subprocess.run(
        ["lintian", "--no-tag-display-limit", str(deb)], capture_output=True, text=True
    )
    output = (done.stdout + done.stderr).strip()
    errors = [line for line in output.splitlines() if line.startswith("E:")]
    warnings = [line for line in output.splitlines() if line.startswith("W:")]
    say(f"lintian: {len(errors)} errors, {len(warnings)} warnings")
    (WORK / "lintian.txt").write_text(output + "\n")
    if errors:
        print("\n".join(errors))
        raise SystemExit(f"lintian found errors in {deb.name}")


def make_tar(bundle: Path, tarball: Path) -> None:
    """``hearth/`` as a .tar.zst: unpack anywhere, run ``hearth/hearth``."""
    partial = tarball.with_suffix(".part")
    with partial.open("wb") as out:
        tar = subprocess.Popen(
            [
                "tar",
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-C",
                str(bundle.parent),
                "-cf",
                "-",
                bundle.name,
            ],
            stdout=subprocess.PIPE,
        )
        subprocess.run(
            ["zstd", "-q", "-12", "-T0", "--long=27"], stdin=tar.stdout, stdout=out, check=True
        )
        if tar.wait() != 0:
            raise SystemExit("tar failed")
    partial.replace(tarball)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--force", action="store_true", help="rebuild the bundle and archives")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument(
        "--engine",
        choices=sorted(ENGINE_SUMMARY),
        help="build only a GPU engine package (a portable build of this backend)",
    )
    engine.add_argument(
        "--engine-dir", type=Path, help="package this llama-server build folder as an engine"
    )
    args = parser.parse_args(argv)
    timer = Timer()
    DIST.mkdir(exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if args.engine or args.engine_dir:
        build_dir = args.engine_dir
        if build_dir is None:
            binary = timer.run(
                f"portable {args.engine} llama-server",
                build_llama_server,
                args.engine,
                True,
                args.jobs,
            )
            build_dir = binary.parent
        backend = json.loads((build_dir / "build-info.json").read_text()).get("backend")
        deb = DIST / f"{engine_package(str(backend))}_{__version__}_{ARCH}.deb"
        depends = timer.run(".deb", make_engine_deb, build_dir.resolve(), deb)
        say(f"Depends: {depends}")
        timer.run("lintian", lintian, deb)
        say(f"built {deb.name} {deb.stat().st_size / 2**20:.0f} MiB")
        return 0
    binary = timer.run("portable llama-server", build_llama_server, "cpu", True, args.jobs)
    server_dir = binary.parent
    assert server_dir.name == build_key("cpu", True), server_dir
    digest = inputs_digest(server_dir)
    bundle = WORK / "bundle" / PACKAGE
    deb = DIST / f"{PACKAGE}_{__version__}_{ARCH}.deb"
    tarball = DIST / f"{PACKAGE}-{__version__}-linux-x86_64.tar.zst"
    stamp = DIST / "package-inputs.json"
    recorded = json.loads(stamp.read_text()) if stamp.is_file() else {}
    fresh = recorded.get("digest") == digest and deb.is_file() and tarball.is_file()
    if fresh and not args.force:
        say(f"up to date (inputs {digest}): {deb.name}, {tarball.name}")
        return 0
    timer.run("PyInstaller one-folder build", pyinstaller, server_dir, bundle)
    info = timer.run(".deb", make_deb, bundle, deb)
    timer.run("lintian", lintian, deb)
    timer.run(".tar.zst", make_tar, bundle, tarball)
    sizes = {
        "bundle_bytes": tree_bytes(bundle),
        "deb_bytes": deb.stat().st_size,
        "tar_zst_bytes": tarball.stat().st_size,
    }
    record = {"digest": digest, **info, **sizes, "seconds": timer.steps}
    (DIST / "build-times.json").write_text(json.dumps(timer.steps, indent=2) + "\n")
    stamp.write_text(json.dumps(record, indent=2) + "\n")
    mib = 2**20
    say(
        f"built in {time.monotonic() - started:.0f} s:"
        f" {deb.name} {sizes['deb_bytes'] / mib:.0f} MiB,"
        f" {tarball.name} {sizes['tar_zst_bytes'] / mib:.0f} MiB,"
        f" bundle {sizes['bundle_bytes'] / mib:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
