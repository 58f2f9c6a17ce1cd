"""The package import graph of ``app/``, read from the source with ``ast`` (nothing imported).

Why: the house rule (design.md) is that dependencies point one way; this
prints which room imports which, so a change that adds a crossing shows.
``tests/test_layering.py`` asserts the rules on the same graph.

Run: ``python bench/import_graph.py`` (each room and the rooms it imports), or with
``--modules`` (each crossing and the modules that make it).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def room_of(module: str) -> str:
    """``app.models.store`` -> ``models``; a top-level module (``app.cli``) is its own room."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "app"


def module_name(path: Path) -> str:
    relative = path.relative_to(APP.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every ``app.*`` module a file imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "app":  # ``from app import x``: x may be a room
                found.update(f"app.{alias.name}" for alias in node.names)
            elif node.module.startswith("app."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("app."))
    return found


def module_edges() -> dict[str, set[str]]:
    """module -> the ``app`` modules it imports."""
    return {module_name(path): imports_of(path) for path in sorted(APP.rglob("*.py"))}


def room_edges() -> dict[tuple[str, str], set[str]]:
    """(from room, to room) -> the importing modules (crossings between rooms only)."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for module, targets in module_edges().items():
        for target in targets:
            source, dest = room_of(module), room_of(target)
            if source != dest and target not in ("app.__version__",):
                edges[(source, dest)].add(module)
    return edges


def main() -> int:
    """Rooms and what each imports; ``--modules``: each crossing with the modules that make it."""
    edges = room_edges()
    if "--modules" in sys.argv[1:]:
        for (source, dest), modules in sorted(edges.items()):
            names = ", ".join(sorted(m.removeprefix("app.") for m in modules))
            print(f"{source:>9} -> {dest:<14} {names}")
        return 0
    rooms: dict[str, list[str]] = defaultdict(list)
    for source, dest in sorted(edges):
        rooms[source].append(dest)
    for source, dests in sorted(rooms.items()):
        print(f"{source:>9} -> {', '.join(dests)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
