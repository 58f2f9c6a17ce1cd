"""Saved presets: a system prompt, options and optionally a model that a new chat starts from.

Like Open WebUI's and LM Studio's presets. A preset is a template, not a link:
a chat started from one copies its fields, so changing or deleting the preset
later leaves that chat as it was (and a chat's export stays complete without
the preset). Presets are therefore not part of a chat's export; they are
listed by ``GET /api/v1/presets`` in the shape ``POST`` takes back.

The checks mirror a chat's (``app.chats.validate``): the same fields, the
same types, plus a name that must be unique. Options are an object whose
known Ollama names are type-checked here, so a preset that would fail every
chat started from it is refused when it is saved, with the key named.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from app.chats.db import now, read, write
from app.chats.errors import Conflict, NotFound
from app.chats.store import ChatStore, new_id
from app.errors import BadRequest
from app.keep_alive import parse_keep_alive
from app.options import OPTION_TYPES, validate_options

MAX_NAME_LENGTH = 100
PRESET_COLUMNS = ("name", "model", "system", "options")
CHAT_ONLY_OPTIONS = ("keep_alive", "think")
"""Kept in a chat's options by the UI although they are request fields, not Ollama options."""


class PresetNotFound(NotFound):
    def __init__(self, preset_id: str) -> None:
        super().__init__(f"preset '{preset_id}' not found")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("preset.name must be a non-empty string")
    name = " ".join(value.split())
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"preset.name must be at most {MAX_NAME_LENGTH} characters")
    return name


def clean_options(value: Any, where: str = "preset.options") -> dict[str, Any]:
    """An options object: known Ollama names type-checked, ``keep_alive``/``think`` checked.

    Other keys pass through unchanged, as they do for a chat's options (the UI
    may keep its own there); ``null`` values are dropped ("use the default").
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    options = {key: item for key, item in value.items() if item is not None}
    known = {key: item for key, item in options.items() if key in OPTION_TYPES}
    try:
        checked = validate_options(known)
    except BadRequest as error:
        raise BadRequest(f"{where}: {error}") from None
    if "keep_alive" in options:
        try:
            parse_keep_alive(options["keep_alive"])
        except BadRequest as error:
            raise BadRequest(f"{where}.keep_alive: {error}") from None
    think = options.get("think")
    if think is not None and not isinstance(think, bool | str):
        raise BadRequest(f"{where}.think must be true, false, a level such as 'high', or null")
    return {**options, **checked}


def clean_preset(raw: Any, *, partial: bool = False) -> dict[str, Any]:
    """Preset fields ready to store; ``partial`` (PATCH) keeps only the keys sent.

    Unknown keys (``id``, ``created_at``, a UI flag) are ignored, as for chats,
    so a preset as ``GET`` returned it can be sent back as it is.
    """
    if not isinstance(raw, dict):
        raise BadRequest("request body must be a JSON object")
    out: dict[str, Any] = {}
    if "name" in raw or not partial:
        out["name"] = _name(raw.get("name"))
    if "model" in raw:
        model = raw["model"]
        if model is not None and not isinstance(model, str):
            raise BadRequest("preset.model must be a string or null")
        out["model"] = (model or "").strip() or None
    if "system" in raw:
        system = raw["system"]
        if system is not None and not isinstance(system, str):
            raise BadRequest("preset.system must be a string or null")
        out["system"] = system or ""
    if "options" in raw:
        out["options"] = clean_options(raw["options"])
    return out


def _preset_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "model": row["model"],
        "system": row["system"],
        "options": json.loads(row["options"] or "{}"),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _taken(name: str) -> Conflict:
    return Conflict(f"a preset named '{name}' already exists: pick another name")


class PresetStore:
    """Presets in the chat database, through the chat store's per-thread connections."""

    def __init__(self, chats: ChatStore) -> None:
        self.chats = chats

    def list_presets(self) -> list[dict[str, Any]]:
        """Every preset, by name (case-insensitively): a menu's order."""
        conn = self.chats.connection()
        with read(conn):
            rows = conn.execute("SELECT * FROM presets ORDER BY name, pk").fetchall()
        return [_preset_dict(row) for row in rows]

    def get_preset(self, preset_id: str) -> dict[str, Any]:
        row = (
            self.chats.connection()
            .execute("SELECT * FROM presets WHERE id = ?", (preset_id,))
            .fetchone()
        )
        if row is None:
            raise PresetNotFound(preset_id)
        return _preset_dict(row)

    def create_preset(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new preset from validated ``fields`` (see :func:`clean_preset`)."""
        preset_id = new_id()
        stamp = now()
        try:
            with write(self.chats.connection()) as conn:
                conn.execute(
                    "INSERT INTO presets (id, name, model, system, options, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        preset_id,
                        fields["name"],
                        fields.get("model"),
                        fields.get("system") or "",
                        json.dumps(fields.get("options") or {}, ensure_ascii=False),
                        stamp,
                        stamp,
                    ),
                )
        except sqlite3.IntegrityError:
            raise _taken(fields["name"]) from None
        return self.get_preset(preset_id)

    def update_preset(self, preset_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change the given fields (a rename too); a name another preset has is a 409."""
        columns = [column for column in PRESET_COLUMNS if column in fields]
        values = [
            json.dumps(fields[c], ensure_ascii=False) if c == "options" else fields[c]
            for c in columns
        ]
        assignments = "".join(f"{column} = ?, " for column in columns)
        try:
            with write(self.chats.connection()) as conn:
                changed = conn.execute(
                    f"UPDATE presets SET {assignments}updated_at = ? WHERE id = ?",
                    [*values, now(), preset_id],
                ).rowcount
        except sqlite3.IntegrityError:
            raise _taken(fields["name"]) from None
        if not changed:
            raise PresetNotFound(preset_id)
        return self.get_preset(preset_id)

    def delete_preset(self, preset_id: str) -> None:
        with write(self.chats.connection()) as conn:
            if conn.execute("DELETE FROM presets WHERE id = ?", (preset_id,)).rowcount == 0:
                raise PresetNotFound(preset_id)
