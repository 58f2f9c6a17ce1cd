"""Checking chat and message fields from a request (or an import) before they are stored.

Clients send what the UI has in hand, so read-only or unknown keys (``id`` of a
chat, ``updated_at``, a UI-only flag) are ignored rather than refused; a known
key with the wrong type is a 400 that names the key.
"""

from __future__ import annotations

from typing import Any

from app.chats.db import parse_time
from app.chats.migrations import ROLES
from app.errors import BadRequest

DEFAULT_TITLE = "New chat"
MAX_ID_LENGTH = 128
STAT_NUMBERS = (
    "eval_count",
    "eval_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "total_duration",
    "load_duration",
    "tokens_per_second",
    "ttft_ms",
)
MESSAGE_PATCH_KEYS = (
    "role",
    "content",
    "thinking",
    "images",
    "tool_calls",
    "stats",
    "done",
    "model",
)


def _text(where: str, value: Any, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        kind = "a string or null" if nullable else "a string"
        raise BadRequest(f"{where} must be {kind}")
    return value


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{where} must be true or false")
    return value


def _list_of(where: str, value: Any, kind: type, what: str) -> list[Any] | None:
    """A list whose items are all ``kind``, or None for null or an empty list.

    Images and tool calls are both optional lists on a message: an empty one
    is stored as null, so the two read back the same.
    """
    if value is not None and not (
        isinstance(value, list) and all(isinstance(item, kind) for item in value)
    ):
        raise BadRequest(f"{where} must be a list of {what}")
    return value or None


def _time(where: str, value: Any) -> str:
    parsed = parse_time(value)
    if parsed is None:
        raise BadRequest(f"{where} must be an RFC 3339 timestamp")
    return parsed


def message_id(value: Any, where: str = "message id") -> str:
    """Ids are strings; the UI may hold numeric ones, which are kept as text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRequest(f"{where} must be a string")
    text = str(value)
    if not text or len(text) > MAX_ID_LENGTH:
        raise BadRequest(f"{where} must be 1 to {MAX_ID_LENGTH} characters")
    return text


def clean_stats(value: Any, where: str = "stats") -> dict[str, Any] | None:
    """Known timing counters must be numbers; other keys (``done_reason``...) pass through."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    stats = dict(value)
    for key in STAT_NUMBERS:
        number = stats.get(key)
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            raise BadRequest(f"{where}.{key} must be a number")
    count, duration = stats.get("eval_count"), stats.get("eval_duration")
    if stats.get("tokens_per_second") is None and count and duration:
        stats["tokens_per_second"] = round(count / (duration / 1e9), 2)
    return stats


def clean_message(raw: Any, where: str = "message", *, partial: bool = False) -> dict[str, Any]:
    """A message ready to store; with ``partial`` only the keys present are returned."""
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} must be an object")
    out: dict[str, Any] = {}
    if not partial or "role" in raw:
        role = raw.get("role")
        if role not in ROLES:
            raise BadRequest(f"{where}.role must be one of {', '.join(ROLES)}")
        out["role"] = role
    if "content" in raw or not partial:
        out["content"] = _text(f"{where}.content", raw.get("content"), nullable=True) or ""
    if "thinking" in raw:
        out["thinking"] = _text(f"{where}.thinking", raw["thinking"], nullable=True)
    if "images" in raw:
        out["images"] = _list_of(f"{where}.images", raw["images"], str, "base64 strings")
    if "tool_calls" in raw:
        out["tool_calls"] = _list_of(f"{where}.tool_calls", raw["tool_calls"], dict, "objects")
    if "stats" in raw:
        out["stats"] = clean_stats(raw["stats"], f"{where}.stats")
    if "done" in raw:
        done = raw["done"]
        out["done"] = True if done is None else _flag(f"{where}.done", done)
    elif not partial:
        out["done"] = True
    if "model" in raw:
        out["model"] = _text(f"{where}.model", raw["model"], nullable=True)
    if not partial:
        if raw.get("id") is not None:
            out["id"] = message_id(raw["id"], f"{where}.id")
        if "parent_id" in raw:  # absent: after the one before; null: a first message
            parent = raw["parent_id"]
            out["parent_id"] = None if parent is None else message_id(parent, f"{where}.parent_id")
        if raw.get("created_at") is not None:
            out["created_at"] = _time(f"{where}.created_at", raw["created_at"])
    return out


def clean_messages(value: Any, where: str = "messages") -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadRequest(f"{where} must be a list")
    messages = [clean_message(item, f"{where}[{index}]") for index, item in enumerate(value)]
    seen: set[str] = set()
    for index, message in enumerate(messages):
        parent = message.get("parent_id")
        if parent is not None and parent not in seen:
            # Parents before children: the order every export writes, and no cycles.
            raise BadRequest(f"{where}[{index}].parent_id names no earlier message of the list")
        if "id" in message:
            if message["id"] in seen:
                raise BadRequest(f"{where}[{index}].id is used twice")
            seen.add(message["id"])
    return messages


def clean_chat(raw: Any, *, partial: bool = False, where: str = "chat") -> dict[str, Any]:
    """Chat fields ready to store; ``partial`` (PATCH) keeps only the keys sent."""
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} must be a JSON object")
    out: dict[str, Any] = {}
    if "title" in raw or not partial:
        title = _text(f"{where}.title", raw.get("title"), nullable=True)
        out["title"] = title if title is not None and title.strip() else DEFAULT_TITLE
    if "model" in raw:
        out["model"] = _text(f"{where}.model", raw["model"], nullable=True) or None
    if "system" in raw:
        out["system"] = _text(f"{where}.system", raw["system"], nullable=True) or ""
    if "options" in raw:
        options = raw["options"]
        if options is not None and not isinstance(options, dict):
            raise BadRequest(f"{where}.options must be an object")
        out["options"] = options or {}
    for key in ("pinned", "archived"):
        if key in raw:
            out[key] = False if raw[key] is None else _flag(f"{where}.{key}", raw[key])
    if "folder" in raw:
        out["folder"] = _text(f"{where}.folder", raw["folder"], nullable=True) or None
    if "messages" in raw:
        out["messages"] = clean_messages(raw["messages"] or [], f"{where}.messages")
    if raw.get("current_id") is not None:
        current = message_id(raw["current_id"], f"{where}.current_id")
        if "messages" in out and current not in {m.get("id") for m in out["messages"]}:
            raise BadRequest(f"{where}.current_id names no message of {where}.messages")
        out["current_id"] = current
    if not partial:
        for key in ("created_at", "updated_at"):
            if raw.get(key) is not None:
                out[key] = _time(f"{where}.{key}", raw[key])
    return out
