"""packaging/linux_deps.py: the .deb's Depends from what the bundle links.

The report is made up for the field's rules; the symbol scan runs on the
real llama-server build the suite uses.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_found = importlib.util.spec_from_file_location(
    "linux_deps", Path(__file__).resolve().parent.parent / "packaging" / "linux_deps.py"
)
assert _found is not None and _found.loader is not None
linux_deps = importlib.util.module_from_spec(_found)
sys.modules.setdefault("linux_deps", linux_deps)  # its dataclass looks itself up there
_found.loader.exec_module(linux_deps)


def test_libstdcxx_left_to_the_system_gets_a_lowest_gcc() -> None:
    report = linux_deps.LinkReport(
        packages={"libc6", "libstdc++6", "libexpat1"}, glibc=(2, 35), glibcxx=30
    )
    assert linux_deps.depends_field(report) == "libc6 (>= 2.35), libexpat1, libstdc++6 (>= 12)"
    report.glibcxx = 27  # between two releases' versions: the later release
    assert "libstdc++6 (>= 10)" in linux_deps.depends_field(report)
    report.glibcxx = 0  # the bundle carries its own libstdc++: nothing to ask of the system
    assert linux_deps.depends_field(report).endswith("libstdc++6")
    report.glibcxx = 99
    with pytest.raises(SystemExit, match="GLIBCXX_3.4.99"):
        linux_deps.depends_field(report)


def test_symbol_scan_of_the_real_build(llama_server_binary: Path) -> None:
    files = sorted(p for p in llama_server_binary.parent.iterdir() if linux_deps.is_elf(p))
    glibc, where = linux_deps.highest_glibc(files)
    assert (2, 17) <= glibc < (3,) and where
    assert linux_deps.highest_glibcxx(files) >= 21  # C++11 or later, from the system
    carried = files + [llama_server_binary.parent / "libstdc++.so.6"]
    assert linux_deps.highest_glibcxx(carried) == 0
