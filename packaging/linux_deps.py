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
GLIBCXX_SYMBOL = re.compile(r"\bGLIBCXX_3\.4\.(\d+)\b")
LIBSTDCXX_PACKAGE = "libstdc++6"
# The GCC release that first shipped each libstdc++ symbol version: a bundle
# that leaves libstdc++ to the system (bundle_filter.LEFT_TO_SYSTEM) needs one
# at least that new, or the loader stops at the first missing symbol.
GLIBCXX_GCC = {30: 12, 29: 11, 28: 10, 26: 9, 25: 8, 24: 7, 22: 6, 21: 5}
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
    glibcxx: int = 0
    """N of the highest GLIBCXX_3.4.N symbol version the bundle needs (0: none)."""


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


def _undefined_lines(path: Path) -> list[str]:
    """``objdump -T`` lines of the symbols ``path`` takes from other libraries."""
    done = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if " UND " in line or "*UND*" in line]


def highest_glibc(files: list[Path]) -> tuple[tuple[int, ...], str]:
    """The highest GLIBC_x.y symbol version the files need, and one file that needs it."""
    best: tuple[int, ...] = (0,)
    where = ""
    for path in files:
        for line in _undefined_lines(path):
            for match in GLIBC_SYMBOL.finditer(line):
                version = tuple(int(part) for part in match.groups() if part is not None)
                if version > best:
                    best, where = version, str(path)
    return best, where


def highest_glibcxx(files: list[Path]) -> int:
    """N of the highest GLIBCXX_3.4.N the files need from a libstdc++ outside them."""
    if any(path.name.startswith("libstdc++.so") for path in files):
        return 0  # the bundle carries its own
    found = [
        int(match.group(1))
        for path in files
        for line in _undefined_lines(path)
        for match in GLIBCXX_SYMBOL.finditer(line)
    ]
    return max(found, default=0)


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
    report.glibcxx = highest_glibcxx(files)
    return report


def depends_field(report: LinkReport) -> str:
    """``Depends:`` for the .deb: glibc and libstdc++ with lowest versions, the rest by name."""
    glibc = ".".join(str(part) for part in report.glibc)
    gcc = next((gcc for n, gcc in sorted(GLIBCXX_GCC.items()) if n >= report.glibcxx), None)
    if report.glibcxx and gcc is None:
        raise SystemExit(f"GLIBCXX_3.4.{report.glibcxx}: add its GCC release to GLIBCXX_GCC")
    others = [
        f"{name} (>= {gcc})" if name == LIBSTDCXX_PACKAGE and report.glibcxx and gcc else name
        for name in sorted(report.packages - {GLIBC_PACKAGE})
    ]
    return ", ".join([f"{GLIBC_PACKAGE} (>= {glibc})", *others])
