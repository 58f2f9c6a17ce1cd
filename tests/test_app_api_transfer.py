"""Export (Hearth JSON, Markdown) and import (Hearth JSON, Open WebUI) over real HTTP."""

from __future__ import annotations

from tests.test_app_api_helpers import Api, api  # noqa: F401 - fixture

T0 = 1_717_000_000  # epoch seconds, as Open WebUI stores them


def sample_chat(api: Api) -> dict:  # noqa: F811
    reply = api.post(
        "/chats",
        json={
            "title": "Soup / recipes",
            "model": "gemma3:270m",
            "system": "You are a chef.",
            "options": {"temperature": 0.7},
            "pinned": True,
            "folder": "food",
            "messages": [
                {"role": "user", "content": "A soup, please."},
                {
                    "role": "assistant",
                    "content": "Try **leek** soup.",
                    "thinking": "Something seasonal.",
                    "stats": {"eval_count": 9, "eval_duration": 300_000_000},
                    "model": "gemma3:270m",
                },
                {"role": "assistant", "content": "Also", "done": False},
            ],
        },
    )
    assert reply.status_code == 201
    return reply.json()


def test_export_markdown(api: Api) -> None:  # noqa: F811
    chat = sample_chat(api)
    reply = api.get(f"/chats/{chat['id']}/export?format=md")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/markdown")
    assert 'filename="Soup--recipes.md"' in reply.headers["Content-Disposition"]
    text = reply.text
    assert text.startswith("# Soup / recipes\n")
    assert "## System\n\nYou are a chef." in text
    assert "## User\n\nA soup, please." in text
    assert "## Assistant (gemma3:270m)" in text and "Try **leek** soup." in text
    assert "Something seasonal." in text and "interrupted" in text
    assert text.index("## User") < text.index("## Assistant")
    assert api.get(f"/chats/{chat['id']}/export?format=pdf").status_code == 400
    assert api.get("/chats/nope/export").status_code == 404


def test_json_export_round_trip(api: Api) -> None:  # noqa: F811
    chat = sample_chat(api)
    exported = api.get(f"/chats/{chat['id']}/export?format=json")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    data = exported.json()
    assert data["format"] == "hearth-chat/1"

    # One export, and a list of exports, both import.
    reply = api.post("/chats/import", json=data)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["imported"] == 1 and len(result["ids"]) == 1 and result["skipped"] == []
    copy = api.get(f"/chats/{result['ids'][0]}").json()
    assert copy["id"] != chat["id"]
    for key in ("title", "model", "system", "options", "pinned", "folder", "created_at"):
        assert copy[key] == chat[key], key
    assert copy["messages"] == chat["messages"]  # ids, stats, thinking, done all kept

    many = api.post("/chats/import", json=[data, data]).json()
    assert many["imported"] == 2 and len(set(many["ids"])) == 2
    assert api.get("/chats").json()["total"] == 4

    newer = dict(data, format="hearth-chat/9")
    refused = api.post("/chats/import", json=newer)
    assert refused.status_code == 400 and "hearth-chat/9" in refused.json()["error"]


def open_webui_export() -> list[dict]:
    """Open WebUI's "export all chats" shape, with a regenerated answer (a branch)."""

    def node(mid, parent, children, role, content, offset, **extra):  # type: ignore[no-untyped-def]
        return {
            "id": mid,
            "parentId": parent,
            "childrenIds": children,
            "role": role,
            "content": content,
            "timestamp": T0 + offset,
            **extra,
        }

    u1 = node("u1", None, ["a1", "a2"], "user", "Name a river.", 0, models=["llama3:8b"])
    a1 = node("a1", "u1", ["u3"], "assistant", "The Nile.", 5, model="llama3:8b", done=True)
    u3 = node("u3", "a1", [], "user", "Abandoned branch", 6)
    a2 = node(
        "a2",
        "u1",
        ["u2"],
        "assistant",
        "The Danube.",
        7,
        model="llama3:8b",
        done=True,
        usage={"eval_count": 12, "eval_duration": 400_000_000, "response_token/s": 30},
    )
    u2 = node(
        "u2",
        "a2",
        ["a3"],
        "user",
        "Where does it end?",
        9,
        files=[{"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="}],
    )
    a3 = node("a3", "u2", [], "assistant", "In the Black Sea.", 11, model="llama3:8b")
    nodes = [u1, a1, u3, a2, u2, a3]
    branching = {
        "id": "7d9c2f1e-0000-4000-8000-000000000001",
        "user_id": "user-1",
        "title": "Rivers",
        "chat": {
            "id": "",
            "title": "Rivers",
            "models": ["llama3:8b"],
            "params": {"system": "Answer in one line.", "temperature": 0.3},
            "messages": nodes,  # every branch, flat: must NOT be used when history is there
            "history": {"messages": {n["id"]: n for n in nodes}, "currentId": "a3"},
            "tags": [],
            "timestamp": (T0 + 11) * 1000,
        },
        "created_at": T0,
        "updated_at": T0 + 11,
        "share_id": None,
        "archived": False,
        "pinned": True,
        "meta": {},
        "folder_id": None,
    }
    flat = {
        "id": "7d9c2f1e-0000-4000-8000-000000000002",
        "user_id": "user-1",
        "title": "Old flat chat",
        "chat": {
            "title": "Old flat chat",
            "messages": [
                {"id": "x1", "role": "user", "content": "hello", "timestamp": T0 - 100},
                {"id": "x2", "role": "assistant", "content": "hi!", "model": "phi3"},
                {"id": "x3", "role": "wizard", "content": "dropped"},
            ],
        },
        "created_at": T0 - 100,
        "updated_at": T0 - 50,
        "archived": True,
    }
    return [branching, flat, {"nonsense": True}, "not even an object"]


def test_import_open_webui(api: Api) -> None:  # noqa: F811
    reply = api.post("/chats/import", json=open_webui_export())
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["imported"] == 2
    assert [s["index"] for s in result["skipped"]] == [2, 3]
    assert all(s["error"] for s in result["skipped"])

    rivers = api.get(f"/chats/{result['ids'][0]}").json()
    assert rivers["title"] == "Rivers" and rivers["model"] == "llama3:8b"
    assert rivers["pinned"] is True and rivers["archived"] is False
    assert rivers["system"] == "Answer in one line."
    assert rivers["options"] == {"temperature": 0.3}
    # The active branch only: u1 -> a2 (the regenerated answer) -> u2 -> a3.
    assert [m["id"] for m in rivers["messages"]] == ["u1", "a2", "u2", "a3"]
    assert [m["content"] for m in rivers["messages"]][1] == "The Danube."
    assert rivers["messages"][1]["stats"]["eval_count"] == 12
    assert rivers["messages"][1]["stats"]["tokens_per_second"] == 30.0
    assert rivers["messages"][2]["images"] == ["iVBORw0KGgo="]
    assert rivers["created_at"] == "2024-05-29T16:26:40.000Z"
    assert rivers["messages"][0]["created_at"] == rivers["created_at"]

    flat = api.get(f"/chats/{result['ids'][1]}").json()
    assert flat["archived"] is True and flat["model"] == "phi3"
    assert [m["content"] for m in flat["messages"]] == ["hello", "hi!"]

    # Imported chats sort by their own dates, behind new ones, and are searchable.
    listed = [c["id"] for c in api.get("/chats").json()["chats"]]
    assert listed == result["ids"]
    assert api.get("/chats?q=Danube").json()["chats"][0]["id"] == rivers["id"]
    assert api.get("/chats?q=Nile").json()["total"] == 0  # the abandoned branch


def test_import_rejects_nothing_usable(api: Api) -> None:  # noqa: F811
    for body in ([], [{"nonsense": 1}], 5):
        reply = api.post("/chats/import", json=body)
        assert reply.status_code == 400, body
        assert (
            "nothing imported" in reply.json()["error"] or "import expects" in reply.json()["error"]
        )
    assert api.get("/chats").json()["total"] == 0


def chatgpt_export() -> list[dict]:
    """Two conversations as ChatGPT's data export writes them (``conversations.json``)."""

    def node(key: str, parent: str | None, children: list[str], message: dict | None) -> dict:
        return {"id": key, "message": message, "parent": parent, "children": children}

    def said(key: str, role: str, text: str, **extra: object) -> dict:
        return {
            "id": key,
            "author": {"role": role},
            "create_time": T0 + len(key),
            "content": {"content_type": "text", "parts": [text]},
            **extra,
        }

    hidden = {"metadata": {"is_visually_hidden_from_conversation": True}}
    return [
        {
            "title": "Quince facts",
            "create_time": T0,
            "update_time": T0 + 100,
            "current_node": "a2",
            "mapping": {
                "root": node("root", None, ["sys"], None),
                "sys": node("sys", "root", ["u1"], said("sys", "system", "", **hidden)),
                "u1": node("u1", "sys", ["a1", "a2"], said("u1", "user", "What is a quince?")),
                "a1": node("a1", "u1", [], said("a1", "assistant", "An abandoned answer.")),
                "a2": node("a2", "u1", [], said("a2", "assistant", "A fruit like a pear.")),
            },
        },
        {"title": "Only a tool ran", "mapping": {"t": node("t", None, [], said("t", "tool", "x"))}},
    ]


def test_import_chatgpt(api: Api) -> None:  # noqa: F811
    """ChatGPT's export: the branch that was shown, as text; a chat with no text is skipped."""
    reply = api.post("/chats/import", json=chatgpt_export())
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["imported"] == 1
    assert [s["index"] for s in result["skipped"]] == [1]
    assert "no text messages" in result["skipped"][0]["error"]
    quince = api.get(f"/chats/{result['ids'][0]}").json()
    assert quince["title"] == "Quince facts" and quince["model"] is None
    assert [(m["role"], m["content"]) for m in quince["messages"]] == [
        ("user", "What is a quince?"),
        ("assistant", "A fruit like a pear."),
    ]
    assert quince["created_at"] == "2024-05-29T16:26:40.000Z"


def test_an_export_whose_parents_loop_is_read_once(api: Api) -> None:  # noqa: F811
    """A hand-edited or broken file whose parent pointers form a cycle ends the walk."""
    conversation = chatgpt_export()[0]
    mapping = conversation["mapping"]
    mapping["u1"]["parent"] = "a2"  # a2 -> u1 -> a2 -> ...
    reply = api.post("/chats/import", json=[conversation])
    assert reply.status_code == 200, reply.text
    chat = api.get(f"/chats/{reply.json()['ids'][0]}").json()
    assert [m["content"] for m in chat["messages"]] == ["What is a quince?", "A fruit like a pear."]
