"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

Kept as Python data next to the blueprint so a test can check that every
route Flask serves under ``/api/v1`` is described here.
"""

from __future__ import annotations

from typing import Any

from app import __version__
from app.chats.migrations import ROLES
from app.settings.stored import DEFAULTS, THEMES

_ERROR = {"$ref": "#/components/responses/Error"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ERROR for code in codes}


def _operation(
    summary: str,
    result: dict[str, Any],
    *,
    errors: tuple[int, ...] = (),
    body: dict[str, Any] | None = None,
    created: bool = False,
    **more: Any,
) -> dict[str, Any]:
    """One operation the way most of ``/api/v1``'s go: an optional JSON body, a JSON
    result (201 ``Created`` with ``created``) and the error statuses it can answer;
    ``more`` (description, parameters) comes after the summary.

    Why: chats, messages and presets are the same kind of resource, and each of their
    operations was spelled out in full; one shape keeps them alike.
    """
    operation: dict[str, Any] = {"summary": summary, **more}
    if body is not None:
        operation["requestBody"] = _body(body)
    status, description = ("201", "Created") if created else ("200", "OK")
    operation["responses"] = {status: _json(result, description), **_errors(*errors)}
    return operation


def _item(
    ids: list[dict[str, Any]],
    schema: str,
    fields: str,
    *,
    get: str | None = None,
    patch: str,
    delete: str,
    conflict: bool = True,
) -> dict[str, Any]:
    """The path of one stored item by id (a chat, a message, a preset), given the summaries
    of its operations: read it (when ``get``), change its ``fields`` (a 409 with
    ``conflict``: a stale version, a name taken), delete it (``Deleted``).

    Why: the app API answers the three alike (404 for an unknown id, 400 or 413 for a
    bad or large body), so one shape with their own words keeps them from drifting apart.
    """
    path: dict[str, Any] = {"parameters": ids}
    if get is not None:
        path["get"] = _operation(get, _ref(schema), errors=(404,))
    patch_errors = (400, 404, 409, 413) if conflict else (400, 404, 413)
    path["patch"] = _operation(patch, _ref(schema), errors=patch_errors, body=_ref(fields))
    path["delete"] = _operation(delete, _ref("Deleted"), errors=(404,))
    return path


def _extends(base: str, properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    """Schema ``base`` with ``properties`` besides (``allOf``), as a chat is its summary
    with messages, an export a chat with its tree, a preset its fields with id and times.
    """
    return {"allOf": [_ref(base), {"type": "object", "properties": properties, **more}]}


_CHAT_ID = {"name": "chat_id", "in": "path", "required": True, "schema": {"type": "string"}}
_MESSAGE_ID = {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PRESET_ID = {"name": "preset_id", "in": "path", "required": True, "schema": {"type": "string"}}
_NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    "Stats": {
        "type": "object",
        "description": "Timings of an answer, as Ollama reports them (durations in ns);"
        " other keys (done_reason, ...) are kept as sent.",
        "properties": {
            "eval_count": {"type": "integer"},
            "eval_duration": {"type": "integer"},
            "prompt_eval_count": {"type": "integer"},
            "prompt_eval_duration": {"type": "integer"},
            "total_duration": {"type": "integer"},
            "load_duration": {"type": "integer"},
            "tokens_per_second": {"type": "number"},
            "ttft_ms": {"type": "number"},
        },
        "additionalProperties": True,
    },
    "Message": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "Unique within its chat; generated if absent."},
            "role": {"type": "string", "enum": list(ROLES)},
            "content": {"type": "string"},
            "thinking": _NULLABLE_STRING,
            "images": {"type": ["array", "null"], "items": {"type": "string"}},
            "tool_calls": {"type": ["array", "null"], "items": {"type": "object"}},
            "stats": {"oneOf": [_ref("Stats"), {"type": "null"}]},
            "done": {
                "type": "boolean",
                "description": "false while an answer streams, or when it was cut off.",
            },
            "model": _NULLABLE_STRING,
            "created_at": {"type": "string", "format": "date-time"},
            "parent_id": {
                "type": ["string", "null"],
                "description": "The message this one follows; null for a first message."
                " On POST: leave it out to follow the shown branch's last message; name the"
                " old answer's (or old prompt's) parent to add a new version beside it"
                " (Regenerate, Edit). In a list (create, PATCH, import) a named parent must"
                " come earlier; a message without the key follows the one before it.",
            },
            "versions": {
                "allOf": [_ref("Versions")],
                "description": "Read only: in a chat's messages and in POST's answer.",
            },
        },
        "required": ["role"],
    },
    "Versions": {
        "type": "object",
        "description": "A message's versions: it and its siblings (the children of its"
        " parent), oldest first. The UI shows index + 1 of count.",
        "properties": {
            "index": {"type": "integer", "description": "0-based: ids[index] is this message."},
            "count": {"type": "integer"},
            "ids": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["index", "count", "ids"],
    },
    "MessagePatch": {
        "type": "object",
        "description": "Only the keys sent change (one cheap UPDATE; used while streaming).",
        "properties": {
            key: {"$ref": f"#/components/schemas/Message/properties/{key}"}
            for key in ("role", "content", "thinking", "images", "tool_calls", "stats", "done")
        }
        | {"model": _NULLABLE_STRING},
    },
    "ChatFields": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "model": _NULLABLE_STRING,
            "system": {"type": "string"},
            "options": {"type": "object", "description": "Ollama options for this chat."},
            "pinned": {"type": "boolean"},
            "archived": {"type": "boolean"},
            "folder": _NULLABLE_STRING,
            "version": {
                "type": "integer",
                "description": "PATCH only: the version this change is based on (or send"
                " If-Match with the ETag); a stale one is a 409. Leave it out to skip the check.",
            },
            "messages": {
                "type": "array",
                "items": _ref("Message"),
                "description": "On PATCH, replaces the whole tree (a plain list: one branch).",
            },
            "current_id": {
                "type": "string",
                "description": "Show another branch: any message of the chat (a version's"
                " id); the branch shown ends at its newest continuation. Raises version,"
                " not updated_at.",
            },
        },
    },
    "ChatSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "model": _NULLABLE_STRING,
            "system": {"type": "string"},
            "options": {"type": "object"},
            "pinned": {"type": "boolean"},
            "archived": {"type": "boolean"},
            "folder": _NULLABLE_STRING,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "message_count": {"type": "integer"},
            "version": {
                "type": "integer",
                "description": "Raised by every change to the chat or its messages; also the ETag.",
            },
        },
        "required": ["id", "title", "created_at", "updated_at"],
    },
    "Chat": _extends(
        "ChatSummary",
        {
            "messages": {
                "type": "array",
                "items": _ref("Message"),
                "description": "The branch shown, first message to current_id; other"
                " versions are named in each message's versions.ids.",
            },
            "current_id": {
                "type": ["string", "null"],
                "description": "The last message of the branch shown.",
            },
        },
    ),
    "ChatList": {
        "type": "object",
        "properties": {
            "chats": {"type": "array", "items": _ref("ChatSummary")},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next_offset": {"type": ["integer", "null"]},
        },
    },
    "HearthExport": _extends(
        "Chat",
        {
            "format": {"const": "hearth-chat/1"},
            "exported_at": {"type": "string", "format": "date-time"},
            "tree": {
                "type": "array",
                "items": _ref("Message"),
                "description": "Every version of every message with its parent_id,"
                " oldest first; import restores it (an export without it imports"
                " messages as one branch).",
            },
        },
    ),
    "ImportResult": {
        "type": "object",
        "properties": {
            "imported": {"type": "integer"},
            "ids": {"type": "array", "items": {"type": "string"}},
            "skipped": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"index": {"type": "integer"}, "error": {"type": "string"}},
                },
            },
        },
    },
    "Deleted": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "deleted": {"const": True}},
    },
    "PresetFields": {
        "type": "object",
        "description": "What a new chat starts from; a chat copies these fields, so a later"
        " change to the preset leaves it as it was. Unknown keys (id, created_at) are"
        " ignored, so a preset as GET returns it can be POSTed back (presets are not part"
        " of a chat's export).",
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "Required on POST; unique, without regard to case (else 409).",
            },
            "model": {**_NULLABLE_STRING, "description": "null: the chat keeps its model."},
            "system": {"type": "string", "description": "The chat's system prompt."},
            "options": {
                "type": "object",
                "description": "As a chat's options: Ollama option names are type-checked"
                " (a bad one is a 400 naming it); keep_alive and think as in /api/chat.",
            },
        },
    },
    "Preset": _extends(
        "PresetFields",
        {
            "id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        required=["id", "name", "system", "options", "created_at", "updated_at"],
    ),
    "Settings": {
        "type": "object",
        "additionalProperties": False,
        "description": "PATCH changes only the keys sent; null resets a key to its default;"
        " an unknown key or a bad value is a 400 naming the key.",
        "properties": {
            "theme": {"type": "string", "enum": list(THEMES), "default": DEFAULTS["theme"]},
            "default_model": {"type": ["string", "null"], "default": None},
            "default_system_prompt": {"type": "string", "default": ""},
            "default_options": {"type": "object", "default": {}},
            "catalogue_registry": {
                "type": ["string", "null"],
                "description": "host[:port] the Discover view pulls library models from;"
                " null is registry.ollama.ai.",
                "default": None,
            },
            "keep_alive": {
                "type": ["number", "string"],
                "description": "Seconds, or a Go duration such as 5m; negative keeps models"
                " loaded. Becomes the server's default at once.",
                "default": DEFAULTS["keep_alive"],
            },
            "pull_concurrency": {
                "type": "integer",
                "minimum": 1,
                "maximum": 16,
                "default": DEFAULTS["pull_concurrency"],
                "description": "Ranged requests at once per blob; used by the next pull.",
            },
            "models_dir": {
                "type": ["string", "null"],
                "description": "Absolute path. Stored only: takes effect when Hearth restarts.",
                "default": None,
            },
            "ollama_port": {
                "type": ["integer", "null"],
                "minimum": 1024,
                "maximum": 65535,
                "description": "Serve the Ollama API at Ollama's own paths on this port too"
                " (e.g. 11434); null is off. Takes effect when Hearth restarts.",
                "default": None,
            },
            "window": {"type": "object", "description": "Desktop window size and position."},
            "workers": {
                "type": ["array", "null"],
                "items": {"type": "string", "pattern": "^[^:]+:[0-9]{1,5}$"},
                "description": "hearth worker addresses (host:port) whose devices take part of"
                " each model; checked before every load, used from the next one. null: those"
                " given by --workers or HEARTH_WORKERS. llama.cpp's RPC is unauthenticated:"
                " trusted networks only.",
                "default": None,
            },
        },
    },
    "System": {
        "type": "object",
        "properties": {
            "versions": {"type": "object"},
            "directories": {"type": "object"},
            "llama_server": {"type": "object"},
            "hardware": {"type": "object"},
            "disk_free_models": {"type": "integer", "description": "Bytes free in models dir."},
            "loaded_models": {
                "type": "array",
                "items": {"type": "object"},
                "description": "As /api/ps, with Hearth's workers, workers_left_out and devices"
                " (per device: model_bytes, kv_bytes, compute_bytes) for a split model.",
            },
            "pulls": {"type": "array", "items": {"type": "object"}},
            "workers": {
                "type": "object",
                "description": "configured: the worker list in use; workers: per worker, in_use"
                " (by a loaded model) or what a check found now (state ok, busy, down, refused,"
                " bad; devices with free and total bytes).",
            },
            "defaults": {
                "type": "object",
                "description": "Sampling options and num_ctx used when neither the request"
                " nor the model's Modelfile sets them; num_ctx null: chosen per model from"
                " free memory.",
            },
        },
    },
}


def _paths() -> dict[str, Any]:
    bool_query = {"type": "string", "enum": ["true", "false"]}
    return {
        "/api/v1/chats": {
            "get": _operation(
                "List chats, newest update first",
                _ref("ChatList"),
                errors=(400,),
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Every word must appear in the title or a message.",
                    },
                    {"name": "archived", "in": "query", "schema": bool_query},
                    {"name": "pinned", "in": "query", "schema": bool_query},
                    {
                        "name": "folder",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Exact folder; empty for chats in no folder.",
                    },
                ],
            ),
            "post": _operation(
                "Create a chat (every field optional)",
                _ref("Chat"),
                errors=(400, 413),
                body=_ref("ChatFields"),
                created=True,
            ),
        },
        "/api/v1/chats/import": {
            "post": _operation(
                "Import Hearth exports, or an Open WebUI or ChatGPT chat export",
                _ref("ImportResult"),
                errors=(400, 413),
                body={"oneOf": [{"type": "object"}, {"type": "array"}]},
                description="Accepts one Hearth export, a list of them, or Open WebUI's"
                " export (a list of {id, title, chat: {history, messages}, ...}); Open"
                " WebUI's active branch (currentId back to the root) is imported, or"
                " ChatGPT's conversations.json (a list of {title, mapping, current_node, ...}),"
                " whose shown branch is imported as text. Items not understood are listed in"
                " skipped. Bodies up to 128 MiB.",
            ),
        },
        "/api/v1/chats/{chat_id}": _item(
            [_CHAT_ID],
            "Chat",
            "ChatFields",
            get="One chat with its messages",
            patch="Change fields; messages replaces the list; a stale version is a 409",
            delete="Delete a chat and its messages",
        ),
        "/api/v1/chats/{chat_id}/export": {
            "parameters": [_CHAT_ID],
            "get": {
                "summary": "Download a chat as Hearth JSON or Markdown",
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["json", "md"], "default": "json"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The export, as an attachment",
                        "content": {
                            "application/json": {"schema": _ref("HearthExport")},
                            "text/markdown": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(400, 404),
                },
            },
        },
        "/api/v1/chats/{chat_id}/messages": {
            "parameters": [_CHAT_ID],
            "post": _operation(
                "Add one message: after the shown branch, or a new version",
                _ref("Message"),
                errors=(400, 404, 409, 413),
                body=_ref("Message"),
                created=True,
            ),
        },
        "/api/v1/chats/{chat_id}/messages/{message_id}": _item(
            [_CHAT_ID, _MESSAGE_ID],
            "Message",
            "MessagePatch",
            patch="Update one message (saves a streaming answer as it grows)",
            delete="Delete one message (what followed it moves up to its parent)",
            conflict=False,
        ),
        "/api/v1/presets": {
            "get": _operation(
                "Saved presets, by name",
                {
                    "type": "object",
                    "properties": {"presets": {"type": "array", "items": _ref("Preset")}},
                },
            ),
            "post": _operation(
                "Save a preset (name required)",
                _ref("Preset"),
                errors=(400, 409, 413),
                body=_ref("PresetFields"),
                created=True,
            ),
        },
        "/api/v1/presets/{preset_id}": _item(
            [_PRESET_ID],
            "Preset",
            "PresetFields",
            get="One preset",
            patch="Change fields (rename, too); a name already taken is a 409",
            delete="Delete a preset (chats started from it keep their settings)",
        ),
        "/api/v1/settings": {
            "get": _operation("App settings, defaults filled in", _ref("Settings")),
            "patch": _operation(
                "Change app settings",
                _ref("Settings"),
                errors=(400, 413),
                body=_ref("Settings"),
                description="models_dir and ollama_port take effect on restart.",
            ),
        },
        "/api/v1/system": {
            "get": _operation(
                "Versions, directories, hardware, loaded models and pulls", _ref("System")
            ),
        },
        "/api/v1/catalogue": {
            "get": _operation(
                "Popular library models shipped with Hearth, with memory-fit hints",
                {"type": "object"},
                description="Works offline. Each tag has fit: fits, tight or too_large,"
                " from its download size plus a KV-cache margin against RAM or the largest GPU.",
                parameters=[
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "capability", "in": "query", "schema": {"type": "string"}},
                ],
            ),
        },
        "/api/v1/logs/llama-server": {
            "get": _operation(
                "The end of a model's llama-server log (up to 256 KiB)",
                {
                    "type": "object",
                    "properties": {
                        "model": {"type": "string"},
                        "path": {"type": "string"},
                        "text": {"type": "string"},
                    },
                },
                errors=(400, 404),
                description="For the error a person sees when a model fails to start or"
                " stops while answering; text is empty when the model never ran.",
                parameters=[
                    {"name": "model", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
            ),
        },
        "/api/v1/documents/extract": {
            "post": {
                "summary": "The text of an attached document (text, Markdown, code or PDF)",
                "description": "The file is the raw body (with ?name=) or the file field of a"
                " multipart form, at most 32 MiB; nothing is written to disk. tokens is"
                " counted by ?model= when that model is loaded, else estimated at 4"
                " characters a token (tokens_estimated). 413: too large; 415: not text;"
                " 400: a damaged, encrypted or empty file.",
                "parameters": [
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                    {"name": "model", "in": "query", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        },
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "kind": {"enum": ["text", "markdown", "code", "pdf"]},
                                "language": {"type": "string"},
                                "text": {"type": "string"},
                                "chars": {"type": "integer"},
                                "pages": {"type": "integer"},
                                "tokens": {"type": "integer"},
                                "tokens_estimated": {"type": "boolean"},
                            },
                        }
                    ),
                    **_errors(400, 413, 415),
                },
            },
        },
        "/api/v1/openapi.json": {
            "get": _operation("This document", {"type": "object"}),
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hearth app API",
            "version": __version__,
            "description": "Chats, messages, presets, settings and system information for"
            " Hearth's UI and desktop shell."
            ' Errors are JSON {"error": "..."} with an HTTP status;'
            " request bodies are limited to 32 MiB (413).",
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": _json(_ref("Error"), "Error")},
        },
    }
