"""What a one-folder Linux bundle needs from the system: Debian packages and glibc.

Why computed, not written down: PyInstaller collects some system libraries
and leaves others (glibc, libGL, the X11/xcb libraries Qt's xcb plugin
loads) to the system, and which ones changes with every Qt or Python
version. So every ELF file in the bundle is asked (``ldd``) what it links;
each library that resolves outside the bundle is mapped to the package
that owns it (``dpkg -S``), and glibc's minimum version comes from the
highest ``GLIBC_x.y`` symbol version any file in the bundle needs
(``objdump -T``). The result is the .deb's ``Depends``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

GLIBC_SYMBOL = re.compile(r"\bGLIBC_(\d+)\.(\d+)(?:\.(\d+))?\b")
# glibc's own libraries: their package (libc6) gets a version from the
# symbol scan; the rest are unversioned, as the bundle was built against
# what Debian 12 ships and any later release keeps the soname.
GLIBC_PACKAGE = "libc6"


@dataclass
class LinkReport:
    """The system side of a bundle's links."""

    packages: set[str] = field(default_factory=set)
    missing: dict[str, set[str]] = field(default_factory=dict)
    """Libraries nothing resolves (neither the bundle nor the system), with who wants them."""
    unowned: set[str] = field(default_factory=set)
    """System libraries no Debian package owns (installed by hand): not Depends material."""
    glibc: tuple[int, ...] = (0,)
    glibc_file: str = ""


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))


def _ldd(path: Path) -> list[tuple[str, str]]:
    """(soname, resolved path or "not found") for each library ``path`` needs."""
    done = subprocess.run(["ldd", str(path)], capture_output=True, text=True)
    pairs = []
    for line in done.stdout.splitlines():
        name, arrow, where = line.strip().partition(" => ")
        if arrow:
            pairs.append((name, where.split(" (")[0].strip()))
    return pairs


def _owner(paths: set[str]) -> dict[str, str]:
    """The Debian package owning each path (trying the /usr-merged twin too)."""
    owners: dict[str, str] = {}
    for path in sorted(paths):
        twins = [path, Path(path).resolve().as_posix()]
        twins += [
            p.replace("/usr/lib/", "/lib/", 1) if p.startswith("/usr/lib/") else "/usr" + p
            for p in list(twins)
        ]
        for candidate in dict.fromkeys(twins):
            done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if done.returncode == 0 and done.stdout:
                package = done.stdout.splitlines()[0].split(":")[0].strip()
                owners[path] = package.split(",")[0].strip()
                break
    return owners


def highest_glibc(files: list[Path]) -> tuple[tuple[int, ...], str]:
    """The highest GLIBC_x.y symbol version the files need, and one file that needs it."""
    best: tuple[int, ...] = (0,)
    where = ""
    for path in files:
        done = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True)
        for line in done.stdout.splitlines():
            if " UND " not in line and "*UND*" not in line:
                continue
            for match in GLIBC_SYMBOL.finditer(line):
                version = tuple(int(part) for part in match.groups() if part is not None)
                if version > best:
                    best, where = version, str(path)
    return best, where


def link_report(root: Path) -> LinkReport:
    """What the ELF files under ``root`` need from outside ``root``."""
    files = elf_files(root)
    inside_names = {path.name for path in files}
    root_text = str(root.resolve())
    report = LinkReport()
    outside: set[str] = set()
    for path in files:
        for name, where in _ldd(path):
            if name in inside_names:
                continue  # the bundle's own copy is what loads (RUNPATH or LD_LIBRARY_PATH)
            if where == "not found":
                report.missing.setdefault(name, set()).add(str(path.relative_to(root)))
            elif not Path(where).resolve().as_posix().startswith(root_text):
                outside.add(where)
    owners = _owner(outside)
    report.packages = set(owners.values())
    report.unowned = outside - set(owners)
    report.glibc, report.glibc_file = highest_glibc(files)
    return report


def depends_field(report: LinkReport) -> str:
    """``Depends:`` for the .deb: glibc with its minimum version, then the rest by name."""
    glibc = ".".join(str(part) for part in report.glibc)
    others = sorted(report.packages - {GLIBC_PACKAGE})
    return ", ".join([f"{GLIBC_PACKAGE} (>= {glibc})", *others])
