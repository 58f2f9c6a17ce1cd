"""``/api/v1/presets``: saved presets (system prompt, options, model) that new chats start from.

Its own blueprint so the chat routes and the preset routes change apart;
registered by :func:`app.web.app_api.register_app_api` with the chat store,
whose database (and migrations) the presets share.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from app.chats import ChatStore
from app.chats.presets import PresetStore, clean_preset
from app.web.json_body import json_body

presets_api = Blueprint("presets_api", __name__)
MAX_BODY = 4 * 2**20
"""A system prompt is text: 4 MiB is far more than any, and bounds what we buffer."""


def register_presets_api(app: Flask, chats: ChatStore) -> None:
    """Serve the preset routes on ``app`` from ``chats``'s database (once per app)."""
    if presets_api.name in app.blueprints:
        return
    app.extensions["hearth_presets"] = PresetStore(chats)
    app.register_blueprint(presets_api, url_prefix="/api/v1/presets")


def _presets() -> PresetStore:
    return current_app.extensions["hearth_presets"]


def _fields(*, partial: bool) -> dict[str, Any]:
    return clean_preset(json_body(MAX_BODY), partial=partial)


@presets_api.get("")
def list_presets() -> Response:
    return jsonify(presets=_presets().list_presets())


@presets_api.post("")
def create_preset() -> tuple[Response, int]:
    return jsonify(_presets().create_preset(_fields(partial=False))), 201


@presets_api.get("/<preset_id>")
def get_preset(preset_id: str) -> Response:
    return jsonify(_presets().get_preset(preset_id))


@presets_api.patch("/<preset_id>")
def update_preset(preset_id: str) -> Response:
    return jsonify(_presets().update_preset(preset_id, _fields(partial=True)))


@presets_api.delete("/<preset_id>")
def delete_preset(preset_id: str) -> Response:
    _presets().delete_preset(preset_id)
    return jsonify(id=preset_id, deleted=True)
