"""The app settings, kept in the chat database: which keys exist, their defaults and checks.

A closed list on purpose: a typo in a key is a 400 rather than a setting that
silently does nothing. ``null`` resets a key to its default.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from app.errors import BadRequest
from app.keep_alive import parse_keep_alive
from app.models.pull import DEFAULT_PARTS
from app.options import validate_options
from app.runner.rpc_workers import WorkerAddressError, parse_workers
from app.settings.process import models_dir_problem

THEMES = ("light", "dark", "system")
MAX_WINDOW_JSON = 64 * 1024
DEFAULTS: dict[str, Any] = {
    "theme": "system",
    "default_model": None,
    "default_system_prompt": "",
    "default_options": {},
    "keep_alive": "5m",
    "pull_concurrency": DEFAULT_PARTS,
    "models_dir": None,
    "ollama_port": None,
    "window": {},
    "workers": None,
    "catalogue_registry": None,
}
RESTART_KEYS = ("models_dir", "ollama_port")
"""Stored at once but used only from the next start (the model store is opened at start-up)."""


def _theme(value: Any) -> str:
    if value not in THEMES:
        raise BadRequest(f"theme must be one of {', '.join(THEMES)}")
    return value


def _optional_text(key: str) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise BadRequest(f"{key} must be a string or null")
        return value

    return check


def _default_options(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest("default_options must be an object")
    try:
        return validate_options(value)
    except BadRequest as error:
        raise BadRequest(f"default_options: {error}") from None


def _keep_alive(value: Any) -> Any:
    try:
        parse_keep_alive(value)
    except BadRequest as error:
        raise BadRequest(f"keep_alive: {error}") from None
    return value


def _pull_concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise BadRequest("pull_concurrency must be an integer from 1 to 16")
    return value


def _models_dir(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("models_dir must be a directory path or null")
    if not Path(value).expanduser().is_absolute():
        raise BadRequest("models_dir must be an absolute path")
    return value


def _ollama_port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 65535:
        raise BadRequest("ollama_port must be a port number from 1024 to 65535, or null (off)")
    return value


def _workers(value: Any) -> list[str]:
    """``hearth worker`` addresses; ``null`` falls back to ``--workers``/``HEARTH_WORKERS``."""
    if not isinstance(value, list):
        raise BadRequest("workers must be a list of host:port addresses, or null")
    try:
        return list(parse_workers(value))
    except WorkerAddressError as error:
        raise BadRequest(f"workers: {error}") from None


_REGISTRY_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:[0-9]{1,5})?$")


def _catalogue_registry(value: Any) -> str:
    """Where catalogue pulls go; a host only, so a setting can never smuggle a path in."""
    if not isinstance(value, str) or not _REGISTRY_HOST.match(value):
        raise BadRequest("catalogue_registry must be a registry host such as example.com:5000")
    return value


def _window(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest("window must be an object")
    if len(json.dumps(value)) > MAX_WINDOW_JSON:
        raise BadRequest(f"window must be under {MAX_WINDOW_JSON // 1024} KiB of JSON")
    return value


CHECKS = {
    "theme": _theme,
    "default_model": _optional_text("default_model"),
    "default_system_prompt": _optional_text("default_system_prompt"),
    "default_options": _default_options,
    "keep_alive": _keep_alive,
    "pull_concurrency": _pull_concurrency,
    "models_dir": _models_dir,
    "ollama_port": _ollama_port,
    "window": _window,
    "workers": _workers,
    "catalogue_registry": _catalogue_registry,
}


def clean_patch(body: Any, own_ports: frozenset[int] = frozenset()) -> dict[str, Any]:
    """Validated changes; ``None`` values mean "back to the default".

    Beyond each value's shape, the restart-time keys are checked against the
    machine now, because a bad one would break the next start: ``models_dir``
    must be usable (see ``models_dir_problem``) and ``ollama_port`` must not be
    one of ``own_ports``, the ports Hearth's main server listens on.
    """
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    unknown = sorted(set(body) - set(DEFAULTS))
    if unknown:
        raise BadRequest(f"unknown setting(s): {', '.join(unknown)}")
    changes = {key: None if value is None else CHECKS[key](value) for key, value in body.items()}
    models_dir = changes.get("models_dir")
    if models_dir is not None:
        problem = models_dir_problem(Path(models_dir))
        if problem:
            raise BadRequest(f"models_dir {changes['models_dir']!r} cannot be used: {problem}")
    if changes.get("ollama_port") in own_ports:
        raise BadRequest(
            f"ollama_port {changes['ollama_port']} is Hearth's own port; pick another one"
            " (Ollama's usual port is 11434)"
        )
    return changes


def effective(stored: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with stored values (unknown stored keys, from a newer Hearth, dropped)."""
    return {key: stored.get(key, default) for key, default in DEFAULTS.items()}


def read_stored(database_path: Path) -> dict[str, Any]:
    """Stored settings, read without opening (or migrating) the chat store.

    Why: the models directory and the drop-in port are needed before the
    manager and the servers exist, which is before the chat store opens.
    A missing, foreign or unreadable file means "nothing stored".
    """
    if not database_path.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"{database_path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("SELECT key, value FROM settings").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    stored: dict[str, Any] = {}
    for key, text in rows:
        try:
            stored[key] = CHECKS[key](json.loads(text)) if key in CHECKS else None
        except (ValueError, BadRequest):
            continue  # an invalid stored value falls back to the default
    return {key: value for key, value in stored.items() if value is not None}
