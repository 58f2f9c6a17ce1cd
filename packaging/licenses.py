"""Write THIRD-PARTY-LICENSES: the licence text of everything a Hearth bundle ships.

Why: Hearth is MIT, but a frozen build carries the Python runtime, every
Python distribution it imports (Flask, PySide6, ...), Qt, and llama.cpp.
Their licences (BSD, MIT, Apache, LGPL-3) require their notices to travel
with the binaries, and the LGPL asks that users be told where Qt's and
PySide6's sources are, so the bundle ships one file with all of them.

Which distributions: in build.spec, the ones whose modules PyInstaller
collected (``modules_in_toc``); from the command line, the requirement tree
of the installed ``hearth`` with its ``desktop`` extra.

    python packaging/licenses.py --out build/THIRD-PARTY-LICENSES
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEXTS = HERE / "licence-texts"
OUR_DISTRIBUTION = "hearth"
LICENCE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|COPYRIGHT)", re.IGNORECASE)
QT_DISTRIBUTIONS = re.compile(r"^(pyside6|shiboken6)", re.IGNORECASE)
# llama.cpp's own licence and those of the code it compiles into llama-server
# (the web UI's vendored scripts are left out: the build turns the UI off;
# gguf-py is the Python ``gguf`` distribution, listed with the others).
LLAMA_CPP_SKIP = ("/tools/ui/", "/gguf-py/")

HEADER_ONLY_NOTE = """\
Compiled in as well, with their licences in their headers (vendor/ in the
llama.cpp source): stb_image (MIT or public domain), miniaudio (public
domain or MIT No Attribution), sheredom/subprocess.h (Unlicense), nlohmann
json (MIT, text above as LICENSE-jsonhpp)."""

QT_NOTICE = """\
Qt and PySide6 (Qt for Python)
==============================
The desktop window uses Qt 6, Qt WebEngine and PySide6, by The Qt Company
and the Qt Project, used under the GNU Lesser General Public License
version 3 (LGPL-3.0; its text and the GPL-3.0 it builds on follow). They
are shipped unmodified as separate shared libraries, which you may replace
with your own builds of the same versions (Qt {qt}, PySide6 {pyside}).
Their source code:
  Qt:       https://download.qt.io/official_releases/qt/
  PySide6:  https://code.qt.io/cgit/pyside/pyside-setup.git/
  Both are also at https://www.qt.io/download-open-source.
Qt WebEngine contains Chromium, whose third-party components and their
licences are listed at https://doc.qt.io/qt-6/qtwebengine-licensing.html.
"""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def modules_in_toc(toc: Iterable[tuple[str, ...]]) -> set[str]:
    """Top-level import names in a PyInstaller TOC (``analysis.pure``, ``.binaries``).

    Module entries are dotted names; binary and data entries are paths in the
    bundle (``PySide6/Qt/lib/libQt6Core.so.6``): both start with the package.
    """
    names: set[str] = set()
    for entry in toc:
        first = re.split(r"[./\\]", entry[0], maxsplit=1)[0]
        if first:
            names.add(first)
    return names


def distributions_for_modules(modules: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions that provide any of these top-level import names."""
    owners = metadata.packages_distributions()
    wanted = {name for module in modules for name in owners.get(module, [])}
    return _unique(d for d in metadata.distributions() if _name(d) in _normalised(wanted))


def requirement_closure(root: str = OUR_DISTRIBUTION, extras: Iterable[str] = ("desktop",)):
    """Every installed distribution ``root[extras]`` needs, directly or not (not root)."""
    found: dict[str, metadata.Distribution] = {}
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset(extras))]
    while pending:
        name, wanted_extras = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional or other-platform dependency that is not here
        key = _name(dist)
        if key in found and not wanted_extras:
            continue
        found[key] = dist
        for requirement in dist.requires or []:
            parsed = _parse_requirement(requirement, wanted_extras)
            if parsed is not None and _normalise(parsed[0]) not in found:
                pending.append(parsed)
    found.pop(_normalise(root), None)
    return _unique(found.values())


def licence_files(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """(file name, text) of each licence file the distribution installed."""
    texts: list[tuple[str, str]] = []
    for file in dist.files or []:
        parts = file.parts
        in_metadata = any(part.endswith((".dist-info", ".egg-info")) for part in parts)
        if not in_metadata or not LICENCE_FILE.match(parts[-1]):
            continue
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            texts.append((parts[-1], path.read_text(encoding="utf-8", errors="replace")))
    return texts


def declared_licence(dist: metadata.Distribution) -> str:
    """What the distribution's metadata says its licence is (expression, field, classifiers)."""
    meta = dist.metadata
    said = meta.get("License-Expression") or ""
    field = (meta.get("License") or "").strip()
    if not said and field and "\n" not in field and len(field) < 200:
        said = field
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    return "; ".join(x for x in [said, *classifiers] if x) or "not stated"


def distribution_section(dist: metadata.Distribution) -> str:
    """One distribution's heading, declared licence, home page and licence texts."""
    name, version = dist.metadata["Name"], dist.version
    home = dist.metadata.get("Home-page") or next(
        (u.split(",", 1)[1].strip() for u in dist.metadata.get_all("Project-URL") or []), ""
    )
    lines = [f"{name} {version}", "=" * len(f"{name} {version}"), ""]
    lines.append(f"Licence: {declared_licence(dist)}")
    if home:
        lines.append(f"Home: {home}")
    texts = licence_files(dist)
    if not texts:
        if QT_DISTRIBUTIONS.match(name):
            lines.append("No licence file ships in this wheel: see Qt and PySide6 below.")
        else:
            lines.append(
                "No licence file ships in this distribution; its metadata is quoted above."
            )
    for file_name, text in texts:
        lines += ["", f"--- {file_name} ---", text.rstrip()]
    return "\n".join(lines) + "\n"


def llama_cpp_texts(sdist: Path) -> list[tuple[str, str]]:
    """(path in the sdist, text) of llama-cpp-python's and llama.cpp's licence files."""
    texts: list[tuple[str, str]] = []
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            name = member.name
            if not member.isfile() or not LICENCE_FILE.match(name.rsplit("/", 1)[-1]):
                continue
            if any(skip in name for skip in LLAMA_CPP_SKIP) or name.endswith(".cmake"):
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                texts.append((name.split("/", 1)[-1], handle.read().decode("utf-8", "replace")))
    return sorted(texts)


def default_sdist() -> Path:
    """The llama-cpp-python sdist packaging/build_llama_server.py downloaded and built."""
    sys.path.insert(0, str(HERE.parent))
    from app.pins import LLAMA_CPP_PYTHON_VERSION
    from app.settings import default_llama_server_cache

    return (
        default_llama_server_cache()
        / "downloads"
        / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
    )


def python_licence() -> str | None:
    """The Python runtime's own LICENSE (the bundle carries libpython), where it is installed."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (
        Path(sys.base_prefix) / "lib" / version / "LICENSE.txt",
        Path(sys.base_prefix) / "LICENSE.txt",
        Path("/usr/lib") / version / "LICENSE.txt",
    ):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8", errors="replace")
    return None


def render(dists: Iterable[metadata.Distribution], sdist: Path | None) -> str:
    """The whole THIRD-PARTY-LICENSES text."""
    dists = sorted(_unique(dists), key=lambda d: _name(d))
    parts = [
        "Third-party software in Hearth\n"
        "==============================\n\n"
        "Hearth itself is MIT-licensed. This file holds the licences of everything\n"
        "else this build ships: the Python runtime, Python distributions, llama.cpp,\n"
        "and Qt with PySide6.\n"
    ]
    python_text = python_licence()
    heading = f"Python {sys.version.split()[0]}"
    parts.append(
        f"{heading}\n{'=' * len(heading)}\n\n"
        + (
            python_text.rstrip()
            if python_text
            else "Licence: PSF-2.0, https://docs.python.org/3/license.html"
        )
        + "\n"
    )
    parts += [distribution_section(dist) for dist in dists]
    if sdist is not None:
        heading = "llama.cpp (llama-server, ggml-rpc-server)"
        section = [heading, "=" * len(heading), "", f"From {sdist.name}."]
        for name, text in llama_cpp_texts(sdist):
            section += ["", f"--- {name} ---", text.rstrip()]
        section += ["", HEADER_ONLY_NOTE]
        parts.append("\n".join(section) + "\n")
    if any(QT_DISTRIBUTIONS.match(d.metadata["Name"]) for d in dists):
        parts.append(QT_NOTICE.format(qt=_qt_version(), pyside=_version("PySide6_Essentials")))
        for file_name in ("LGPL-3.0.txt", "GPL-3.0.txt"):
            parts.append(f"--- {file_name} ---\n" + (TEXTS / file_name).read_text().rstrip() + "\n")
    return "\n\n".join(parts)


def _qt_version() -> str:
    try:
        from PySide6 import QtCore  # the Qt the wheel carries, same as PySide6's

        return str(QtCore.qVersion())
    except ImportError:
        return _version("PySide6_Essentials")


def _parse_requirement(text: str, extras: frozenset[str]) -> tuple[str, frozenset[str]] | None:
    """(name, extras) of a Requires-Dist line that applies here with ``extras``, else None."""
    from packaging.requirements import Requirement

    requirement = Requirement(text)
    if requirement.marker is not None:
        environments = [{"extra": e} for e in extras] or [{"extra": ""}]
        if not any(requirement.marker.evaluate(env) for env in environments):
            return None
    return requirement.name, frozenset(requirement.extras)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _normalised(names: Iterable[str]) -> set[str]:
    return {_normalise(n) for n in names}


def _name(dist: metadata.Distribution) -> str:
    return _normalise(dist.metadata["Name"])


def _unique(dists: Iterable[metadata.Distribution]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    for dist in dists:
        if _name(dist) != OUR_DISTRIBUTION:
            seen.setdefault(_name(dist), dist)
    return list(seen.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--sdist", type=Path, help="llama-cpp-python sdist (default: the cached one)"
    )
    args = parser.parse_args(argv)
    sdist = args.sdist or default_sdist()
    if not sdist.is_file():
        raise SystemExit(f"no {sdist}: run python packaging/build_llama_server.py first")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(requirement_closure(), sdist), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
