"""/api/v1 settings, system and openapi.json over real HTTP."""

from __future__ import annotations

import json
import re

from tests.test_app_api_helpers import Api, api, build_app  # noqa: F401 - fixture


def test_settings_defaults_patch_and_persist(api: Api) -> None:  # noqa: F811
    defaults = api.get("/settings").json()
    assert defaults == {
        "theme": "system",
        "default_model": None,
        "default_system_prompt": "",
        "default_options": {},
        "keep_alive": "5m",
        "pull_concurrency": 16,
        "models_dir": None,
        "ollama_port": None,
        "window": {},
        "workers": None,
        "catalogue_registry": None,
    }
    change = {
        "theme": "dark",
        "default_model": "gemma3:270m",
        "default_options": {"temperature": 0.4, "num_ctx": 4096},
        "keep_alive": "1h",
        "pull_concurrency": 8,
        "models_dir": str(api.home / "elsewhere"),
        "ollama_port": 11434,
        "window": {"width": 1200, "height": 800, "x": 10, "y": 20, "maximized": False},
    }
    reply = api.patch("/settings", json=change)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {**defaults, **change}
    assert api.get("/settings").json() == {**defaults, **change}
    # The stored keep_alive is the server's default from now on.
    manager = api.app.extensions["hearth"]  # type: ignore[attr-defined]
    assert manager.default_keep_alive == 3600.0
    assert manager.pulls.parts == 8  # the next pull uses 8 ranged requests per blob

    # null resets one key; the rest stay.
    after = api.patch("/settings", json={"theme": None, "keep_alive": 60}).json()
    assert after["theme"] == "system" and after["keep_alive"] == 60
    assert after["default_model"] == "gemma3:270m"

    # A restart (a new app on the same home) reads them back.
    app, store = build_app(api.home)
    try:
        with app.test_client() as client:
            assert client.get("/api/v1/settings").get_json()["default_model"] == "gemma3:270m"
        assert app.extensions["hearth"].default_keep_alive == 60.0
        assert app.extensions["hearth"].pulls.parts == 8
    finally:
        store.close()


def test_settings_validation(api: Api) -> None:  # noqa: F811
    before = api.get("/settings").json()
    cases = [
        ({"colour": "red"}, "colour"),
        ({"theme": "blue"}, "theme"),
        ({"default_model": 3}, "default_model"),
        ({"default_options": {"temperature": "hot"}}, "temperature"),
        ({"default_options": []}, "default_options"),
        ({"keep_alive": "5 minutes"}, "keep_alive"),
        ({"keep_alive": True}, "keep_alive"),
        ({"pull_concurrency": 0}, "pull_concurrency"),
        ({"pull_concurrency": 17}, "pull_concurrency"),
        ({"pull_concurrency": 2.5}, "pull_concurrency"),
        ({"models_dir": "relative/dir"}, "models_dir"),
        ({"ollama_port": 80}, "ollama_port"),
        ({"ollama_port": "11434"}, "ollama_port"),
        ({"window": "big"}, "window"),
        ({"theme": "dark", "pull_concurrency": -1}, "pull_concurrency"),
    ]
    for body, word in cases:
        reply = api.patch("/settings", json=body)
        assert reply.status_code == 400, body
        assert word in reply.json()["error"], (body, reply.json())
    assert api.patch("/settings", json=["theme"]).status_code == 400
    assert api.get("/settings").json() == before  # a bad PATCH changes nothing


def test_system_shape(api: Api) -> None:  # noqa: F811
    reply = api.get("/system")
    assert reply.status_code == 200
    info = reply.json()
    assert set(info) >= {
        "versions",
        "directories",
        "hardware",
        "disk_free_models",
        "loaded_models",
        "pulls",
        "llama_server",
    }
    assert info["versions"]["hearth"] and "llama-cpp-python" in info["versions"]["llama_cpp"]
    assert "backend" in info["versions"]
    assert info["directories"]["models"] == str(api.home / "models")
    assert info["directories"]["database"] == str(api.home / "hearth.db")
    hardware = info["hardware"]
    assert hardware["logical_cores"] >= 1 and hardware["memory_total"] > 0
    assert isinstance(hardware["gpus"], list)
    assert info["disk_free_models"] > 0
    assert info["loaded_models"] == [] and info["pulls"] == []
    # What an unset option comes to, for the chat settings panel.
    assert info["defaults"]["options"]["temperature"] == 0.8
    # No HEARTH_CONTEXT_LENGTH: num_ctx is chosen per model from free memory at load.
    assert info["defaults"]["num_ctx"] is None


def test_openapi_lists_every_route(api: Api) -> None:  # noqa: F811
    reply = api.get("/openapi.json")
    assert reply.status_code == 200
    doc = json.loads(reply.text)
    assert doc["openapi"].startswith("3.1")
    served = set()
    for rule in api.app.url_map.iter_rules():  # type: ignore[attr-defined]
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    assert len(served) >= 14
    assert served == documented
    # Every $ref points at something that exists.
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node = doc
        for part in ref.split("/"):
            node = node[part]
    # Path parameters are declared.
    for path, item in doc["paths"].items():
        for name in re.findall(r"{(\w+)}", path):
            assert any(p["name"] == name for p in item.get("parameters", [])), path


def test_unknown_v1_path_is_json_404(api: Api) -> None:  # noqa: F811
    reply = api.get("/nope")
    assert reply.status_code == 404 and reply.json()["error"]
