"""Export chats (Hearth JSON, Markdown) and import them (Hearth JSON, Open WebUI, ChatGPT).

Hearth's JSON export is the chat object as ``GET /api/v1/chats/<id>`` returns
it plus ``"format": "hearth-chat/1"``, so an export is also readable by any
client of the API: ``messages`` is the branch shown. It adds ``tree``, every
version of every message with its ``parent_id``, which import restores
(``current_id`` says which branch was shown); an export without ``tree``
(older Hearth) imports as the plain list it is.

Imports are liberal: an item that cannot be understood is skipped with a
reason, the rest are imported, and the caller is told which.

Presets (``app.chats.presets``) are not part of an export: a chat started from
one holds a copy of its system prompt and options, so the chat's export is
complete without it, and ``GET /api/v1/presets`` already gives them in the
shape ``POST`` takes back.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from app.chats.db import now, parse_time
from app.chats.migrations import ROLES
from app.chats.validate import clean_chat, clean_message, clean_stats
from app.errors import BadRequest
from app.options import validate_options

log = logging.getLogger(__name__)
FORMAT = "hearth-chat/1"
MAX_BRANCH = 100_000
_DATA_URL = re.compile(r"^data:image/[\w.+-]+;base64,(.*)$", re.DOTALL)
_ROLE_ALIASES = {"function": "tool", "developer": "system"}


# -- export ---------------------------------------------------------------
def export_json(chat: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "exported_at": now(), **chat}


def export_markdown(chat: dict[str, Any]) -> str:
    """A readable transcript: the title as heading, then one section per message."""
    lines = [f"# {chat['title'] or 'Untitled chat'}", ""]
    facts = [f"Model: {chat['model']}"] if chat.get("model") else []
    facts += [f"Created: {chat['created_at']}", f"Updated: {chat['updated_at']}"]
    lines += ["_" + " · ".join(facts) + "_", ""]
    if chat.get("system"):
        lines += ["## System", "", chat["system"], ""]
    for message in chat.get("messages", []):
        heading = message["role"].capitalize()
        if message.get("model") and message["role"] == "assistant":
            heading += f" ({message['model']})"
        lines += [f"## {heading}", ""]
        if message.get("thinking"):
            lines += [
                "<details><summary>Thinking</summary>",
                "",
                message["thinking"],
                "",
                "</details>",
                "",
            ]
        lines += [message.get("content") or "", ""]
        if message.get("done") is False:
            lines += ["_(this answer was interrupted)_", ""]
    return "\n".join(lines).rstrip() + "\n"


def export_filename(chat: dict[str, Any], extension: str) -> str:
    stem = re.sub(r"[^\w\- ]+", "", chat.get("title") or "").strip().replace(" ", "-")[:60]
    return f"{stem or 'chat'}.{extension}"


def content_disposition(filename: str) -> str:
    """An ``attachment`` header value that survives any title (RFC 6266).

    Why both forms: HTTP header values are Latin-1 on the wire, so a
    Cyrillic or CJK title cannot go in ``filename=``; browsers use the
    UTF-8 ``filename*=`` form and older clients fall back to the ASCII one.
    """
    stem, _, extension = filename.rpartition(".")
    ascii_stem = stem.encode("ascii", "ignore").decode().strip("-") or "chat"
    ascii_name = f"{ascii_stem}.{extension}"
    if ascii_name == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


# -- import ---------------------------------------------------------------
def import_items(data: Any) -> list[Any]:
    """The list of chat-like objects in an upload, whatever its outer shape."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("chats"), list):
            return data["chats"]
        return [data]
    raise BadRequest("import expects a JSON object or a list of chats")


def parse_import(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Validated chats to store, and ``{"index", "error"}`` for each item skipped."""
    chats: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for index, item in enumerate(import_items(data)):
        try:
            chats.append(parse_item(item, f"item {index}"))
        except BadRequest as error:
            skipped.append({"index": index, "error": str(error)})
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            # A shape no check above foresaw: skip this chat, keep the others.
            log.warning("import: item %d skipped: %r", index, error)
            reason = f"item {index} could not be read ({type(error).__name__}: {error})"
            skipped.append({"index": index, "error": reason})
    return chats, skipped


def parse_item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise BadRequest(f"{where} is not a JSON object")
    marker = item.get("format")
    if isinstance(marker, str) and marker.startswith("hearth-chat/") and marker != FORMAT:
        raise BadRequest(f"{where} has format {marker!r}; this Hearth reads {FORMAT}")
    if isinstance(item.get("chat"), dict):
        return from_open_webui(item, where)
    if isinstance(item.get("mapping"), dict):
        return from_chatgpt(item, where)
    if marker == FORMAT or "messages" in item or "title" in item:
        if isinstance(item.get("tree"), list):
            return clean_chat({**item, "messages": item["tree"]}, where=where)
        return clean_chat(item, where=where)
    raise BadRequest(f"{where} is not a Hearth, Open WebUI or ChatGPT chat")


def from_open_webui(item: dict[str, Any], where: str) -> dict[str, Any]:
    """One chat of Open WebUI's "export all chats" file.

    Open WebUI keeps every branch (regenerated answers, edits) in
    ``history.messages`` and points ``currentId`` at the last message shown:
    following ``parentId`` from there gives the conversation the person saw.
    """
    chat = item["chat"]
    raw_messages = active_branch(chat)
    messages: list[dict[str, Any]] = []
    seen_ids: set[Any] = set()
    for number, raw in enumerate(raw_messages):
        converted = _open_webui_message(raw, f"{where}.messages[{number}]")
        if converted is not None:
            if converted.get("id") in seen_ids:
                converted.pop("id", None)  # a fresh id beats dropping the chat
            if converted.get("id") is not None:
                seen_ids.add(converted["id"])
            messages.append(converted)
    models = chat.get("models") if isinstance(chat.get("models"), list) else []
    model = next((m for m in models if isinstance(m, str) and m), None)
    if model is None:
        model = next((m.get("model") for m in reversed(messages) if m.get("model")), None)
    params = chat.get("params") if isinstance(chat.get("params"), dict) else {}
    system = chat.get("system") or params.get("system") or ""
    options = validate_options({k: v for k, v in params.items() if k != "system"}, lenient=True)
    created = parse_time(item.get("created_at")) or parse_time(chat.get("timestamp"))
    updated = parse_time(item.get("updated_at")) or created
    title = item.get("title") or chat.get("title")
    return clean_chat(
        {
            "title": title if isinstance(title, str) else None,
            "model": model,
            "system": system if isinstance(system, str) else "",
            "options": options,
            "pinned": bool(item.get("pinned")),
            "archived": bool(item.get("archived")),
            "messages": messages,
            "created_at": created,
            "updated_at": updated,
        },
        where=where,
    )


def from_chatgpt(item: dict[str, Any], where: str) -> dict[str, Any]:
    """One conversation of ChatGPT's data export (``conversations.json``).

    ChatGPT keeps every branch in ``mapping`` (node id to ``{message, parent,
    children}``) and points ``current_node`` at the last message shown: following
    ``parent`` from there gives the conversation the person saw. Text parts are
    kept; tool output, hidden system messages and non-text parts are left out.
    The chat gets no model (ChatGPT's are not local ones): the picker asks.
    """
    table = item["mapping"]
    current = _key(item.get("current_node"))
    if current is None or current not in table:
        leaves = [k for k, n in table.items() if isinstance(n, dict) and not n.get("children")]
        current = _key(leaves[-1]) if leaves else None
    branch = [
        node["message"]
        for _, node in _path_to_root(table, current, "parent")
        if isinstance(node, dict) and isinstance(node.get("message"), dict)
    ]
    messages: list[dict[str, Any]] = []
    for number, raw in enumerate(reversed(branch)):
        converted = _chatgpt_message(raw, f"{where}.mapping[{number}]")
        if converted is not None:
            messages.append(converted)
    if not messages:
        raise BadRequest(f"{where} (a ChatGPT conversation) has no text messages")
    created = parse_time(item.get("create_time"))
    title = item.get("title")
    return clean_chat(
        {
            "title": title if isinstance(title, str) else None,
            "messages": messages,
            "archived": bool(item.get("is_archived")),
            "created_at": created,
            "updated_at": parse_time(item.get("update_time")) or created,
        },
        where=where,
    )


def _chatgpt_message(raw: dict[str, Any], where: str) -> dict[str, Any] | None:
    author = raw.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    if role not in ("user", "assistant", "system"):
        return None  # "tool" output (browsing, code runs) is not a turn of the chat
    metadata = raw.get("metadata")
    if isinstance(metadata, dict) and metadata.get("is_visually_hidden_from_conversation"):
        return None
    content = raw.get("content")
    if not isinstance(content, dict):
        return None
    parts = [p for p in _list(content.get("parts")) if isinstance(p, str)]
    if not parts and isinstance(content.get("text"), str):
        parts = [content["text"]]
    text = "\n".join(parts).strip()
    if not text:
        return None
    return clean_message(
        {
            "role": role,
            "content": text,
            "created_at": parse_time(raw.get("create_time")),
        },
        where,
    )


def active_branch(chat: dict[str, Any]) -> list[Any]:
    history = chat.get("history")
    if isinstance(history, dict) and isinstance(history.get("messages"), dict):
        table = history["messages"]
        current = _key(history.get("currentId"))
        if current is None or current not in table:
            # No pointer: the newest leaf is what Open WebUI would show.
            leaves = [m for m in table.values() if isinstance(m, dict) and not m.get("childrenIds")]
            leaves.sort(key=lambda m: _number(m.get("timestamp")))
            current = _key(leaves[-1].get("id")) if leaves else None
        branch = [
            {"id": key, **node} if isinstance(node, dict) else node
            for key, node in _path_to_root(table, current, "parentId")
        ]
        if branch:
            return branch[::-1]
    messages = chat.get("messages")
    return messages if isinstance(messages, list) else []


def _path_to_root(table: dict[Any, Any], current: Any, parent_key: str) -> list[tuple[Any, Any]]:
    """(key, node) from ``current`` up by each node's ``parent_key``, leaf first.

    Why bounded: an export is the client's file, so a cycle or a chain
    longer than ``MAX_BRANCH`` ends the walk instead of hanging it.
    """
    path: list[tuple[Any, Any]] = []
    seen: set[Any] = set()
    while current is not None and current in table and current not in seen:
        if len(path) >= MAX_BRANCH:
            break
        seen.add(current)
        node = table[current]
        path.append((current, node))
        current = _key(node.get(parent_key)) if isinstance(node, dict) else None
    return path


def _key(value: Any) -> str | int | None:
    """A message id usable as a key of ``history.messages``; anything else is no id."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI-style parts
        parts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


def _images_of(raw: dict[str, Any]) -> list[str] | None:
    images = [i for i in _list(raw.get("images")) if isinstance(i, str)]
    for entry in _list(raw.get("files")):
        if isinstance(entry, dict) and entry.get("type") == "image":
            match = _DATA_URL.match(str(entry.get("url") or ""))
            if match:
                images.append(match.group(1))
    return images or None


def _open_webui_message(raw: Any, where: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    role = raw.get("role")
    if not isinstance(role, str):
        return None
    role = _ROLE_ALIASES.get(role, role)
    if role not in ROLES:
        return None
    usage = raw.get("usage") if isinstance(raw.get("usage"), dict) else raw.get("info")
    stats = None
    if isinstance(usage, dict):
        numbers = {k: v for k, v in usage.items() if isinstance(v, int | float)}
        stats = clean_stats(numbers, f"{where}.stats") or None
    message_id = raw.get("id")
    return clean_message(
        {
            "id": message_id if isinstance(message_id, str | int) and message_id != "" else None,
            "role": role,
            "content": _text_of(raw.get("content")),
            "images": _images_of(raw),
            "stats": stats,
            "done": raw.get("done") is not False,
            "model": raw.get("model") if isinstance(raw.get("model"), str) else None,
            "created_at": parse_time(raw.get("timestamp")),
        },
        where,
    )
