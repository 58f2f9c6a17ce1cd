"""The rooms' dependency rules, read from the source (``bench/import_graph.py``).

Why a test: a crossing is one import line, easy to add and hard to see in a
review; once ``app.models`` and ``app.runner`` import each other again, the
``spec: Any`` dodges and the repeated start/stop sequences come back.
"""

from __future__ import annotations

import ast
import importlib
import inspect

from app.errors import HearthException
from bench.import_graph import APP, imports_of, module_edges, module_name, room_of

NEUTRAL = {
    "errors",
    "spec",
    "chat_templates",
    "gofmt",
    "api_types",
    "options",
    "keep_alive",
    "json_fields",
}
"""Plain types and rules every room shares: they import no room."""
NO_UI = {"models", "runner", "chats", "settings", *NEUTRAL}
UI_PACKAGES = {"flask", "werkzeug", "webview", "PySide6", "PyQt6"}


def crossings(source: str, dest: str) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in module_edges().items()
        if room_of(module) == source
        for target in targets
        if room_of(target) == dest
    )


def test_models_import_nothing_from_the_runner() -> None:
    assert crossings("models", "runner") == []


def test_the_runner_imports_nothing_from_models() -> None:
    """Plain types it needs (``RunSpec``, ``ModelName``, template kinds) are in neutral modules."""
    assert crossings("runner", "models") == []


def test_neutral_modules_import_no_room() -> None:
    for module, targets in module_edges().items():
        if room_of(module) in NEUTRAL:
            assert {room_of(t) for t in targets} <= NEUTRAL, module


def test_only_the_front_ends_make_a_hearth() -> None:
    """The facade sits above the rooms: nothing below it imports it."""
    users = {room_of(m) for m, targets in module_edges().items() if "app.hearth" in targets}
    assert users <= {"cli", "web", "desktop"}


def test_openai_requests_are_translated_at_the_web_edge() -> None:
    """Below the edge there is one request shape, Ollama's (``app.web.openai`` converts)."""
    users = {m for m, targets in module_edges().items() if any("openai" in t for t in targets)}
    assert {room_of(m) for m in users} <= {"web"}
    assert [m for m in module_edges() if "openai" in m and room_of(m) != "web"] == []


def test_rooms_below_the_edge_import_no_ui_or_web_framework() -> None:
    for path in sorted(APP.rglob("*.py")):
        if room_of(module_name(path)) not in NO_UI:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & UI_PACKAGES, path
        assert not {room_of(t) for t in imports_of(path)} & {"web", "desktop"}, path


def test_every_public_error_derives_from_the_one_root() -> None:
    """``except HearthException`` catches whatever Hearth raises on purpose."""
    strays = []
    for path in sorted(APP.rglob("*.py")):
        name = module_name(path)
        if name.startswith("app.desktop") or name == "app.__main__":
            continue  # the window's modules need a display toolkit to import
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or cls_name.startswith("_"):
                continue
            if issubclass(cls, BaseException) and not issubclass(cls, HearthException):
                strays.append(f"{name}.{cls_name}")
    assert strays == []
