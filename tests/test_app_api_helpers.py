"""Shared set-up for the /api/v1 tests: a real Hearth app under cheroot on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from app.chats import ChatStore
from app.server import HTTPServer
from app.settings import load_settings
from app.web import create_app
from app.web.app_api import register_app_api


@dataclass
class Api:
    url: str
    store: ChatStore
    home: Path
    app: object

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def patch(self, path: str, **kwargs: object) -> requests.Response:
        return requests.patch(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        return requests.delete(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


def build_app(home: Path):  # type: ignore[no-untyped-def]
    settings = load_settings({"HEARTH_HOME": str(home)})
    app = create_app(settings)
    store = register_app_api(app, settings, app.extensions["hearth"])
    return app, store


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    app, store = build_app(tmp_path)
    server = HTTPServer(app, "127.0.0.1", 0)
    server.start_in_thread()
    try:
        yield Api(server.url + "/api/v1", store, tmp_path, app)
    finally:
        server.stop()
        store.close()
