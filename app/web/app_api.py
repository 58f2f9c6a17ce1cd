"""Hearth's own app API under ``/api/v1``: chats, messages, settings, system info.

Parse, validate, serialize: storage lives in :class:`app.chats.ChatStore` and
the checks in ``app.chats.validate`` / ``app.settings.stored``, so the CLI
and the desktop shell reach the same code. Documented in OpenAPI 3.1 at
``/api/v1/openapi.json`` (see ``app.web.openapi``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app.chats import ChatStore
from app.chats.transfer import (
    content_disposition,
    export_filename,
    export_json,
    export_markdown,
    parse_import,
)
from app.chats.validate import MESSAGE_PATCH_KEYS, clean_chat, clean_message
from app.doctor import doctor_report
from app.errors import BadRequest
from app.hearth import Hearth
from app.keep_alive import parse_keep_alive
from app.models.catalogue import catalogue_with_hints
from app.runner.translate import OLLAMA_SAMPLING_DEFAULTS
from app.settings import Settings
from app.settings import stored as prefs
from app.web.handlers import hearth
from app.web.json_body import json_body, read_json
from app.web.openapi import openapi_document
from app.web.presets_api import register_presets_api

app_api = Blueprint("app_api", __name__)
MAX_IMPORT_BODY = 128 * 2**20
"""Exports from other apps carry images inline, so imports get more room."""
MAX_LIMIT = 200
MAX_INT_ARG = 2**63 - 1
DEFAULT_LIMIT = 50
DOCTOR_TTL_SECONDS = 30.0
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def register_app_api(
    app: Flask, settings: Settings, manager: Hearth, store: ChatStore | None = None
) -> ChatStore:
    """Open the chat database (migrating it) and serve ``/api/v1`` on ``app``.

    Returns the store (``manager.chats`` unless one is given; ``Hearth.close()``
    closes that one at shutdown). The stored
    ``keep_alive`` and ``pull_concurrency`` settings reach the manager right away. Calling it
    again on the same app returns the store already there.
    """
    if app_api.name in app.blueprints:
        return app.extensions["hearth_chats"]
    store = store or manager.chats
    app.extensions["hearth_chats"] = store
    app.extensions["hearth_doctor_cache"] = _DoctorCache(settings)
    app.register_blueprint(app_api, url_prefix="/api/v1")
    register_presets_api(app, store)
    _apply_live_settings(manager, prefs.effective(store.get_settings()))
    return store


def chats() -> ChatStore:
    return current_app.extensions["hearth_chats"]


def _apply_live_settings(manager: Any, current: dict[str, Any]) -> None:
    """Settings the running manager uses at once: the default keep_alive, pull parts, workers."""
    if hasattr(manager, "default_keep_alive"):
        manager.default_keep_alive = parse_keep_alive(current["keep_alive"])
    if hasattr(manager, "pulls"):
        manager.pulls.parts = current["pull_concurrency"]
    if hasattr(manager, "set_workers"):
        manager.set_workers(current["workers"])


# -- request parsing -----------------------------------------------------------
def _int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < low:
        raise BadRequest(f"{name} must be at least {low}")
    if value > MAX_INT_ARG:  # SQLite integers are 64-bit: a bigger one is an OverflowError
        raise BadRequest(f"{name} must be at most {MAX_INT_ARG}")
    return min(value, high) if high is not None else value


def _bool_arg(name: str) -> bool | None:
    text = request.args.get(name)
    if text is None or text == "":
        return None
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise BadRequest(f"{name} must be true or false")


# -- chats -------------------------------------------------------------------
@app_api.get("/chats")
def list_chats() -> Response:
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0)
    found, total = chats().list_chats(
        limit=limit,
        offset=offset,
        query=request.args.get("q") or None,
        archived=_bool_arg("archived"),
        pinned=_bool_arg("pinned"),
        folder=request.args.get("folder"),
    )
    after = offset + len(found)
    return jsonify(
        chats=found,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=after if after < total else None,
    )


@app_api.post("/chats")
def create_chat() -> tuple[Response, int]:
    return jsonify(chats().create_chat(clean_chat(json_body()))), 201


@app_api.post("/chats/import")
def import_chats() -> Response:
    valid, skipped = parse_import(read_json(MAX_IMPORT_BODY))
    if not valid:
        reason = skipped[0]["error"] if skipped else "the upload holds no chats"
        raise BadRequest(f"nothing imported: {reason}")
    ids = chats().import_chats(valid)
    return jsonify(imported=len(ids), ids=ids, skipped=skipped)


def _with_etag(chat: dict[str, Any]) -> Response:
    response = jsonify(chat)
    response.set_etag(str(chat["version"]))
    return response


def _expected_version(body: dict[str, Any]) -> int | None:
    """The chat version a PATCH was based on: ``version`` in the body, or ``If-Match``.

    Neither: ``None``, and the PATCH applies as it always did (older clients).
    """
    value = body.get("version")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest("version must be an integer (the chat's version you last read)")
        return value
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    tag = header.removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise BadRequest("If-Match must be the chat's ETag, as GET returned it")
    return int(tag)


@app_api.get("/chats/<chat_id>")
def get_chat(chat_id: str) -> Response:
    return _with_etag(chats().get_chat(chat_id))


@app_api.patch("/chats/<chat_id>")
def update_chat(chat_id: str) -> Response:
    body = json_body()
    expected = _expected_version(body)
    return _with_etag(chats().update_chat(chat_id, clean_chat(body, partial=True), expected))


@app_api.delete("/chats/<chat_id>")
def delete_chat(chat_id: str) -> Response:
    chats().delete_chat(chat_id)
    return jsonify(id=chat_id, deleted=True)


@app_api.get("/chats/<chat_id>/export")
def export_chat(chat_id: str) -> Response:
    kind = request.args.get("format", "json")
    if kind not in ("json", "md"):
        raise BadRequest("format must be json or md")
    chat = chats().get_chat(chat_id, whole_tree=kind == "json")
    if kind == "md":
        response = Response(export_markdown(chat), mimetype="text/markdown")
    else:
        response = jsonify(export_json(chat))
    response.headers["Content-Disposition"] = content_disposition(export_filename(chat, kind))
    return response


# -- messages ----------------------------------------------------------------
@app_api.post("/chats/<chat_id>/messages")
def add_message(chat_id: str) -> tuple[Response, int]:
    message = clean_message(json_body())
    return jsonify(chats().add_message(chat_id, message)), 201


@app_api.patch("/chats/<chat_id>/messages/<message_id>")
def update_message(chat_id: str, message_id: str) -> Response:
    body = json_body()
    fields = clean_message({k: v for k, v in body.items() if k in MESSAGE_PATCH_KEYS}, partial=True)
    return jsonify(chats().update_message(chat_id, message_id, fields))


@app_api.delete("/chats/<chat_id>/messages/<message_id>")
def delete_message(chat_id: str, message_id: str) -> Response:
    chats().delete_message(chat_id, message_id)
    return jsonify(id=message_id, deleted=True)


# -- settings ----------------------------------------------------------------
@app_api.get("/settings")
def get_settings() -> Response:
    return jsonify(prefs.effective(chats().get_settings()))


def _own_ports() -> frozenset[int]:
    """The main server's port: the configured one and the one this request came in on."""
    settings: Settings = current_app.config["HEARTH_SETTINGS"]
    ports = {settings.port}
    with contextlib.suppress(KeyError, ValueError):
        ports.add(int(request.environ["SERVER_PORT"]))
    return frozenset(port for port in ports if port)


@app_api.patch("/settings")
def update_settings() -> Response:
    changes = prefs.clean_patch(json_body(), _own_ports())
    current = prefs.effective(chats().set_settings(changes))
    _apply_live_settings(hearth(), current)
    return jsonify(current)


# -- system ------------------------------------------------------------------
class _DoctorCache:
    """``doctor_report`` runs ``llama-server --version`` and probes GPUs: reuse it a while."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._report: dict[str, Any] | None = None
        self._at = 0.0

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._report is None or time.monotonic() - self._at > DOCTOR_TTL_SECONDS:
                self._report = doctor_report(self.settings)
                self._at = time.monotonic()
            return self._report


@app_api.get("/system")
def system() -> Response:
    report = current_app.extensions["hearth_doctor_cache"].get()
    manager = hearth()
    server = report["llama_server"]
    pulls: Any = getattr(manager, "pulls", None)
    settings: Settings = current_app.config["HEARTH_SETTINGS"]
    return jsonify(
        versions={
            "hearth": report["hearth"],
            "python": report["python"],
            "platform": report["platform"],
            "llama_cpp": report["llama_cpp_pin"],
            "llama_server": server.get("version") or None,
            "backend": server.get("backend"),
        },
        directories={**report["directories"], "database": str(settings.database_path)},
        llama_server=server,
        hardware=report["hardware"],
        disk_free_models=report["disk_free_models"],
        loaded_models=manager.ps(),
        workers=manager.workers() if hasattr(manager, "workers") else None,
        pulls=pulls.list() if callable(getattr(pulls, "list", None)) else [],
        # What a chat gets when it sets nothing (and the model's Modelfile neither):
        # the chat settings panel shows these beside its empty fields.
        defaults={"options": OLLAMA_SAMPLING_DEFAULTS, "num_ctx": settings.context_length},
    )


@app_api.get("/catalogue")
def catalogue() -> Response:
    """The shipped model catalogue, filtered by ``q``/``capability``, with fit hints."""
    report = current_app.extensions["hearth_doctor_cache"].get()
    installed = {str(m.get("name")) for m in hearth().list_models()}
    return jsonify(
        catalogue_with_hints(
            report["hardware"],
            registry=prefs.effective(chats().get_settings())["catalogue_registry"],
            query=request.args.get("q", "")[:200],
            capability=request.args.get("capability", "")[:40],
            installed=installed,
        )
    )


@app_api.get("/logs/llama-server")
def runner_log() -> Response:
    model = request.args.get("model", "")
    path, text = hearth().runner_log(model)
    return jsonify(model=model, path=path, text=text)


@app_api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
