"""Flask app factory: one app, blueprints per API, no business logic here."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.hearth import Hearth
from app.settings import Settings
from app.web.access import Verifier
from app.web.app_api import register_app_api
from app.web.documents_api import documents_api
from app.web.errors import register_error_handlers
from app.web.guard import install_guard
from app.web.ollama_api import ollama_api
from app.web.openai.routes import openai_api
from app.web.request_log import RequestLog
from app.web.ui import register_ui


def _base_app(
    settings: Settings,
    hearth: Hearth | None,
    verifier: Verifier | None,
    model_api_prefix: str,
) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["HEARTH_SETTINGS"] = settings
    app.extensions["hearth"] = hearth or Hearth(settings)
    provider = cast(DefaultJSONProvider, app.json)
    provider.sort_keys = False  # keep Ollama's field order
    provider.compact = True
    register_error_handlers(app)
    install_guard(
        app, list(settings.allowed_hosts), list(settings.origins), verifier, model_api_prefix
    )
    app.wsgi_app = RequestLog(app.wsgi_app)  # type: ignore[method-assign]
    return app


def create_app(
    settings: Settings,
    hearth: Hearth | None = None,
    verifier: Verifier | None = None,
    ui_dist: Path | None = None,
) -> Flask:
    """Build the Flask app on ``hearth`` (shared with the CLI and the desktop shell).

    The caller that made ``hearth`` starts and closes it; without one, the app
    makes its own (tests, a WSGI host) and it lives as long as the process.
    """
    app = _base_app(settings, hearth, verifier, model_api_prefix="/ollama/")
    register_app_api(app, settings, app.extensions["hearth"])
    app.register_blueprint(documents_api, url_prefix="/api/v1/documents")
    app.register_blueprint(ollama_api, url_prefix="/ollama")
    app.register_blueprint(openai_api, url_prefix="/ollama/v1")
    register_ui(app, ui_dist)
    return app


def create_ollama_app(
    settings: Settings, hearth: Hearth, verifier: Verifier | None = None
) -> Flask:
    """The opt-in drop-in listener: the same API at Ollama's own paths (``/api/...``).

    Editors and tools that expect Ollama on 127.0.0.1:11434 then use Hearth's
    models, under the same Host, Origin and token rules.
    """
    app = _base_app(settings, hearth, verifier, model_api_prefix="/")
    app.register_blueprint(ollama_api, url_prefix="")
    app.register_blueprint(openai_api, url_prefix="/v1")
    return app
