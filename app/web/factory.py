"""Flask app factory: one app, blueprints per API, no business logic here."""

from __future__ import annotations

from flask import Flask

from app.models.manager import ModelManager
from app.settings import Settings
from app.web.errors import register_error_handlers
from app.web.guard import install_guard
from app.web.ollama_api import ollama_api
from app.web.openai_api import openai_api


def create_app(settings: Settings, manager: ModelManager | None = None) -> Flask:
    """Build the Flask app; ``manager`` is shared with the CLI and the desktop shell."""
    app = Flask(__name__, static_folder=None)
    app.config["HEARTH_SETTINGS"] = settings
    app.extensions["hearth_manager"] = manager or ModelManager(settings)
    app.json.sort_keys = False  # keep Ollama's field order
    app.json.compact = True
    register_error_handlers(app)
    install_guard(app, list(settings.allowed_hosts), list(settings.origins))
    app.register_blueprint(ollama_api, url_prefix="/ollama")
    app.register_blueprint(openai_api, url_prefix="/ollama/v1")

    @app.get("/")
    def index() -> tuple[str, int, dict[str, str]]:
        return "Hearth is running", 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app
