"""/api/v1/presets over real HTTP, on a real SQLite file: CRUD, checks, names, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.chats import ChatStore
from app.chats.db import connect, migrate
from app.chats.migrations import LATEST, MIGRATIONS
from app.chats.presets import PresetStore
from tests.test_app_api_helpers import Api, api, build_app  # noqa: F401 - fixture

CODER = {
    "name": "Terse coder",
    "system": "You write Python. Answer with code only.",
    "options": {"temperature": 0.2, "num_ctx": 4096, "seed": 7, "keep_alive": "10m"},
    "model": "gemma3:270m",
}


def test_create_list_get_update_delete(api: Api) -> None:  # noqa: F811
    assert api.get("/presets").json() == {"presets": []}
    created = api.post("/presets", json=CODER)
    assert created.status_code == 201, created.text
    preset = created.json()
    assert {key: preset[key] for key in CODER} == CODER
    assert preset["id"] and preset["created_at"] == preset["updated_at"]

    second = api.post("/presets", json={"name": "  a   plain one "}).json()
    assert second["name"] == "a plain one"  # spaces tidied, as a menu shows it
    assert (second["system"], second["options"], second["model"]) == ("", {}, None)
    # Listed by name without regard to case: "a plain one" before "Terse coder".
    listed = api.get("/presets").json()["presets"]
    assert [p["name"] for p in listed] == ["a plain one", "Terse coder"]
    assert api.get(f"/presets/{preset['id']}").json() == preset

    renamed = api.patch(f"/presets/{preset['id']}", json={"name": "Coder"})
    assert renamed.status_code == 200, renamed.text
    after = renamed.json()
    assert after["name"] == "Coder"
    assert (after["system"], after["options"]) == (CODER["system"], CODER["options"])
    assert after["updated_at"] >= preset["updated_at"]
    changed = api.patch(
        f"/presets/{preset['id']}", json={"options": {"top_p": 0.5}, "model": None}
    ).json()
    assert changed["options"] == {"top_p": 0.5} and changed["model"] is None

    deleted = api.delete(f"/presets/{preset['id']}")
    assert deleted.json() == {"id": preset["id"], "deleted": True}
    assert [p["name"] for p in api.get("/presets").json()["presets"]] == ["a plain one"]
    for method in (api.get, api.patch, api.delete):
        missing = method(f"/presets/{preset['id']}", json={"name": "x"})
        assert missing.status_code == 404 and "not found" in missing.json()["error"]


def test_a_preset_as_listed_can_be_sent_back(api: Api) -> None:  # noqa: F811
    """Read-only keys (id, timestamps) are ignored: GET's shape is POST's too."""
    original = api.post("/presets", json=CODER).json()
    api.delete(f"/presets/{original['id']}")
    again = api.post("/presets", json=original)
    assert again.status_code == 201, again.text
    assert {k: again.json()[k] for k in CODER} == CODER
    assert again.json()["id"] != original["id"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "preset.name must be a non-empty string"),
        ({"name": "   "}, "preset.name must be a non-empty string"),
        ({"name": 5}, "preset.name must be a non-empty string"),
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"name": "p", "system": ["no"]}, "preset.system must be a string or null"),
        ({"name": "p", "model": 3}, "preset.model must be a string or null"),
        ({"name": "p", "options": [1]}, "preset.options must be an object"),
        (
            {"name": "p", "options": {"temperature": "hot"}},
            'preset.options: option "temperature" must be of type float',
        ),
        (
            {"name": "p", "options": {"num_ctx": 1.5}},
            'preset.options: option "num_ctx" must be of type integer',
        ),
        ({"name": "p", "options": {"keep_alive": "soon"}}, "preset.options.keep_alive"),
        ({"name": "p", "options": {"think": 3}}, "preset.options.think must be true, false"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: Api,  # noqa: F811
    body: dict[str, Any],
    words: str,
) -> None:
    reply = api.post("/presets", json=body)
    assert reply.status_code == 400, reply.text
    assert words in reply.json()["error"]
    assert api.get("/presets").json() == {"presets": []}


def test_bad_bodies_and_patches(api: Api) -> None:  # noqa: F811
    for raw in ("[1, 2]", "not json", '"text"'):
        reply = api.post("/presets", data=raw, headers={"Content-Type": "application/json"})
        assert reply.status_code == 400, reply.text
    preset = api.post("/presets", json=CODER).json()
    bad = api.patch(f"/presets/{preset['id']}", json={"options": {"seed": "x"}})
    assert bad.status_code == 400 and '"seed"' in bad.json()["error"]
    assert api.patch(f"/presets/{preset['id']}", json={"name": ""}).status_code == 400
    assert api.get(f"/presets/{preset['id']}").json() == preset  # nothing changed
    huge = api.post("/presets", json={"name": "big", "system": "x" * (5 * 2**20)})
    assert huge.status_code == 413


def test_duplicate_names_are_a_409(api: Api) -> None:  # noqa: F811
    first = api.post("/presets", json=CODER).json()
    for name in ("Terse coder", "terse CODER", " Terse   coder "):
        again = api.post("/presets", json={**CODER, "name": name})
        assert again.status_code == 409, (name, again.text)
        assert "already exists" in again.json()["error"]
    other = api.post("/presets", json={"name": "Storyteller"}).json()
    clash = api.patch(f"/presets/{other['id']}", json={"name": "TERSE coder"})
    assert (
        clash.status_code == 409
        and "Terse coder" not in api.get(f"/presets/{other['id']}").json()["name"]
    )
    # Renaming a preset to its own name (or its own name in other case) is fine.
    same = api.patch(f"/presets/{first['id']}", json={"name": "terse coder"})
    assert same.status_code == 200 and same.json()["name"] == "terse coder"
    assert len(api.get("/presets").json()["presets"]) == 2


def test_presets_survive_a_restart(api: Api) -> None:  # noqa: F811
    made = api.post("/presets", json=CODER).json()
    app, store = build_app(api.home)  # a new app on the same home: what a restart opens
    try:
        with app.test_client() as client:
            listed = client.get("/api/v1/presets").get_json()["presets"]
            assert listed == [made]
            assert client.post("/api/v1/presets", json=CODER).status_code == 409
    finally:
        store.close()


def test_an_older_database_gains_the_presets_table(tmp_path: Path) -> None:
    """A file at the migration before presets keeps its chats and can hold presets after."""
    (presets_migration,) = [m for m in MIGRATIONS if m.apply.__name__ == "_presets"]
    before = presets_migration.version - 1
    old = connect(tmp_path / "hearth.db")
    assert migrate(old, target=before) == before
    assert not old.execute("SELECT 1 FROM sqlite_master WHERE name = 'presets'").fetchone()
    old.close()
    store = ChatStore(tmp_path / "hearth.db")
    try:
        assert store.schema_version == LATEST
        made = PresetStore(store).create_preset({"name": "After migrating"})
        assert PresetStore(store).list_presets() == [made]
    finally:
        store.close()


def test_the_openapi_text_describes_presets(api: Api) -> None:  # noqa: F811
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/presets"]) == {"get", "post"}
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/presets/{preset_id}"])
    assert "409" in paths["/api/v1/presets"]["post"]["responses"]
