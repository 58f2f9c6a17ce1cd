"""Versions of answers and prompts (issue 18 item 3) over real HTTP and a real SQLite file.

Regenerate and Edit add a sibling instead of deleting: the chat keeps every
version, shows one branch as ``messages`` (so older clients read a plain
conversation), switches branch with ``PATCH current_id``, and keeps the whole
tree through export and import. A database written before the tree existed
(schema 3) opens with each message following the one before it.
"""

from __future__ import annotations

import time
from pathlib import Path

from app.chats import ChatStore
from app.chats.db import connect, migrate
from tests.test_app_api_helpers import Api, api  # noqa: F401 - fixture


def new_chat(api: Api, *contents: str) -> str:  # noqa: F811
    """A chat of alternating user/assistant messages, posted one by one as the UI does."""
    chat = api.post("/chats", json={"title": "Versions"}).json()
    for number, content in enumerate(contents):
        role = "user" if number % 2 == 0 else "assistant"
        reply = api.post(f"/chats/{chat['id']}/messages", json={"role": role, "content": content})
        assert reply.status_code == 201, reply.text
    return chat["id"]


def shown(api: Api, chat_id: str) -> list[str]:  # noqa: F811
    return [m["content"] for m in api.get(f"/chats/{chat_id}").json()["messages"]]


def add(api: Api, chat_id: str, **message: object) -> dict:  # noqa: F811
    reply = api.post(f"/chats/{chat_id}/messages", json=message)
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_regenerate_keeps_the_old_answer(api: Api) -> None:  # noqa: F811
    chat_id = new_chat(api, "Name a colour.", "Red.")
    first = api.get(f"/chats/{chat_id}").json()
    prompt, old = first["messages"]
    assert old["parent_id"] == prompt["id"] and prompt["parent_id"] is None
    assert old["versions"] == {"index": 0, "count": 1, "ids": [old["id"]]}
    assert first["current_id"] == old["id"]

    new = add(api, chat_id, role="assistant", content="Blue.", parent_id=prompt["id"])
    assert new["parent_id"] == prompt["id"]
    assert new["versions"] == {"index": 1, "count": 2, "ids": [old["id"], new["id"]]}
    chat = api.get(f"/chats/{chat_id}").json()
    assert [m["content"] for m in chat["messages"]] == ["Name a colour.", "Blue."]
    assert chat["messages"][1]["versions"]["index"] == 1 and chat["current_id"] == new["id"]

    # Back to version 1: the branch changes, the chat does not move in the list.
    time.sleep(0.01)
    back = api.patch(
        f"/chats/{chat_id}", json={"current_id": old["id"], "version": chat["version"]}
    )
    assert back.status_code == 200, back.text
    body = back.json()
    assert [m["content"] for m in body["messages"]] == ["Name a colour.", "Red."]
    assert body["messages"][1]["versions"] == {
        "index": 0,
        "count": 2,
        "ids": [old["id"], new["id"]],
    }
    assert body["version"] == chat["version"] + 1 and body["updated_at"] == chat["updated_at"]
    assert back.headers["ETag"] == f'"{body["version"]}"'
    # A window still at the old version is told so, and nothing changes.
    stale = api.patch(
        f"/chats/{chat_id}", json={"current_id": new["id"], "version": chat["version"]}
    )
    assert stale.status_code == 409 and "reload" in stale.json()["error"]
    assert shown(api, chat_id) == ["Name a colour.", "Red."]
    # A reload (a fresh GET) shows the branch chosen last.
    assert api.get(f"/chats/{chat_id}").json()["current_id"] == old["id"]


def test_edit_keeps_the_old_prompt_and_its_answer(api: Api) -> None:  # noqa: F811
    chat_id = new_chat(api, "Hi.", "Hello!", "Name a fruit.", "A pear.")
    u1, a1, u2, a2 = api.get(f"/chats/{chat_id}").json()["messages"]

    # Edit the second prompt: a new user message beside it, then its own answer.
    edited = add(api, chat_id, role="user", content="Name a vegetable.", parent_id=a1["id"])
    assert edited["versions"]["ids"] == [u2["id"], edited["id"]]
    answer = add(api, chat_id, role="assistant", content="A leek.")  # follows the shown branch
    assert answer["parent_id"] == edited["id"]
    assert shown(api, chat_id) == ["Hi.", "Hello!", "Name a vegetable.", "A leek."]

    # Switching to the old prompt shows the old prompt with its old answer.
    body = api.patch(f"/chats/{chat_id}", json={"current_id": u2["id"]}).json()
    assert [m["content"] for m in body["messages"]] == ["Hi.", "Hello!", "Name a fruit.", "A pear."]
    assert body["current_id"] == a2["id"]  # the leaf under the version chosen
    assert body["messages"][2]["versions"] == {
        "index": 0,
        "count": 2,
        "ids": [u2["id"], edited["id"]],
    }
    assert [m["versions"]["count"] for m in body["messages"]] == [1, 1, 2, 1]

    # Editing the very first prompt starts a second root.
    root = add(api, chat_id, role="user", content="Good morning.", parent_id=None)
    assert root["parent_id"] is None and root["versions"]["ids"] == [u1["id"], root["id"]]
    assert shown(api, chat_id) == ["Good morning."]
    body = api.patch(f"/chats/{chat_id}", json={"current_id": u1["id"]}).json()
    # Back to the first root: its continuation as last seen (the fruit branch, chosen
    # above), not merely the newest (the vegetable one).
    assert [m["content"] for m in body["messages"]] == ["Hi.", "Hello!", "Name a fruit.", "A pear."]
    assert body["current_id"] == a2["id"]
    body = api.patch(f"/chats/{chat_id}", json={"current_id": edited["id"]}).json()
    assert body["current_id"] == answer["id"]
    assert (
        api.patch(f"/chats/{chat_id}", json={"current_id": u1["id"]}).json()["current_id"]
        == (answer["id"])
    )

    # Every version is still searchable, shown or not.
    for word in ("pear", "leek", "vegetable", "fruit", "morning"):
        assert api.get(f"/chats?q={word}").json()["total"] == 1, word
    listed = api.get("/chats").json()["chats"][0]
    assert listed["message_count"] == 7


def test_switching_shows_the_continuation_last_seen(api: Api) -> None:  # noqa: F811
    chat_id = new_chat(api, "Q", "A1")
    q, a1 = api.get(f"/chats/{chat_id}").json()["messages"]
    a2 = add(api, chat_id, role="assistant", content="A2", parent_id=q["id"])
    assert a2["versions"]["count"] == 2
    add(api, chat_id, role="user", content="Q2 after A2")
    # From the root down: q's last seen child is a2, whose only child is the follow-up.
    body = api.patch(f"/chats/{chat_id}", json={"current_id": q["id"]}).json()
    assert [m["content"] for m in body["messages"]] == ["Q", "A2", "Q2 after A2"]
    # Version 1 has no follow-up yet: it ends there; then it gets one.
    body = api.patch(f"/chats/{chat_id}", json={"current_id": a1["id"]}).json()
    assert body["current_id"] == a1["id"]
    add(api, chat_id, role="user", content="Q2 after A1")
    assert shown(api, chat_id) == ["Q", "A1", "Q2 after A1"]
    # Each version comes back with its own continuation, and the root with the last seen.
    body = api.patch(f"/chats/{chat_id}", json={"current_id": a2["id"]}).json()
    assert [m["content"] for m in body["messages"]] == ["Q", "A2", "Q2 after A2"]
    assert shown(api, chat_id) == ["Q", "A2", "Q2 after A2"]  # stored, not just answered
    body = api.patch(f"/chats/{chat_id}", json={"current_id": a1["id"]}).json()
    assert [m["content"] for m in body["messages"]] == ["Q", "A1", "Q2 after A1"]
    body = api.patch(f"/chats/{chat_id}", json={"current_id": q["id"]}).json()
    assert [m["content"] for m in body["messages"]] == ["Q", "A1", "Q2 after A1"]


def test_bad_links_are_refused(api: Api) -> None:  # noqa: F811
    chat_id = new_chat(api, "Q", "A")
    unknown_parent = api.post(
        f"/chats/{chat_id}/messages", json={"role": "assistant", "parent_id": "nope"}
    )
    assert unknown_parent.status_code == 400 and "parent_id" in unknown_parent.json()["error"]
    unknown_current = api.patch(f"/chats/{chat_id}", json={"current_id": "nope"})
    assert unknown_current.status_code == 400 and "current_id" in unknown_current.json()["error"]
    later = api.post(
        "/chats",
        json={
            "messages": [
                {"id": "a", "role": "assistant", "parent_id": "q"},
                {"id": "q", "role": "user"},
            ]
        },
    )
    assert later.status_code == 400 and "earlier" in later.json()["error"]
    not_listed = api.post(
        "/chats", json={"messages": [{"id": "q", "role": "user"}], "current_id": "x"}
    )
    assert not_listed.status_code == 400 and "current_id" in not_listed.json()["error"]
    assert shown(api, chat_id) == ["Q", "A"]


def test_a_whole_tree_in_one_list(api: Api) -> None:  # noqa: F811
    reply = api.post(
        "/chats",
        json={
            "messages": [
                {"id": "q", "role": "user", "content": "Q"},
                {"id": "a1", "role": "assistant", "content": "A1"},
                {"id": "a2", "role": "assistant", "content": "A2", "parent_id": "q"},
            ],
            "current_id": "a1",
        },
    )
    assert reply.status_code == 201, reply.text
    chat = reply.json()
    assert [m["id"] for m in chat["messages"]] == ["q", "a1"]
    assert chat["messages"][1]["versions"]["ids"] == ["a1", "a2"]
    # A plain list (an older client's PATCH) replaces the tree by one branch.
    plain = api.patch(
        f"/chats/{chat['id']}", json={"messages": [{"role": "user"}, {"role": "assistant"}]}
    ).json()
    assert [m["versions"]["count"] for m in plain["messages"]] == [1, 1]
    assert plain["messages"][1]["parent_id"] == plain["messages"][0]["id"]
    assert plain["current_id"] == plain["messages"][1]["id"]


def test_delete_in_a_tree(api: Api) -> None:  # noqa: F811
    chat_id = new_chat(api, "Q", "A1", "Q2", "A3")
    q, a1, q2, a3 = api.get(f"/chats/{chat_id}").json()["messages"]
    # In a plain chat deleting one message keeps what followed it, as before versions.
    assert api.delete(f"/chats/{chat_id}/messages/{q2['id']}").status_code == 200
    assert shown(api, chat_id) == ["Q", "A1", "A3"]
    a2 = add(api, chat_id, role="assistant", content="A2", parent_id=q["id"])
    assert shown(api, chat_id) == ["Q", "A2"]
    # Deleting the version shown shows its parent's other continuation.
    assert api.delete(f"/chats/{chat_id}/messages/{a2['id']}").status_code == 200
    chat = api.get(f"/chats/{chat_id}").json()
    assert [m["content"] for m in chat["messages"]] == ["Q", "A1", "A3"]
    assert chat["current_id"] == a3["id"] and chat["messages"][1]["id"] == a1["id"]
    assert api.delete(f"/chats/{chat_id}/messages/{a2['id']}").status_code == 404
    for message in (a3, a1, q):
        assert api.delete(f"/chats/{chat_id}/messages/{message['id']}").status_code == 200
    empty = api.get(f"/chats/{chat_id}").json()
    assert empty["messages"] == [] and empty["current_id"] is None
    assert add(api, chat_id, role="user", content="again")["parent_id"] is None


def test_export_and_import_keep_the_tree(api: Api) -> None:  # noqa: F811
    chat_id = new_chat(api, "Name a colour.", "Red.", "Why?", "Roses.")
    q, red, why, _roses = api.get(f"/chats/{chat_id}").json()["messages"]
    add(api, chat_id, role="assistant", content="Blue.", parent_id=q["id"])
    api.patch(f"/chats/{chat_id}", json={"current_id": why["id"]})
    original = api.get(f"/chats/{chat_id}").json()

    data = api.get(f"/chats/{chat_id}/export?format=json").json()
    assert data["format"] == "hearth-chat/1"
    assert [m["content"] for m in data["messages"]] == ["Name a colour.", "Red.", "Why?", "Roses."]
    assert [m["content"] for m in data["tree"]] == [
        "Name a colour.",
        "Red.",
        "Why?",
        "Roses.",
        "Blue.",
    ]
    assert data["tree"][4]["parent_id"] == q["id"]
    markdown = api.get(f"/chats/{chat_id}/export?format=md").text
    assert "Roses." in markdown and "Blue." not in markdown  # the transcript shown

    result = api.post("/chats/import", json=data).json()
    assert result["imported"] == 1, result
    copy = api.get(f"/chats/{result['ids'][0]}").json()
    assert copy["messages"] == original["messages"]  # ids, parents, versions, all kept
    assert copy["current_id"] == original["current_id"]
    switched = api.patch(
        f"/chats/{copy['id']}", json={"current_id": copy["messages"][1]["versions"]["ids"][1]}
    ).json()
    assert [m["content"] for m in switched["messages"]] == ["Name a colour.", "Blue."]
    assert red["versions"]["ids"] == [red["id"]]  # (as read before Blue was added)

    # An export from before versions: a plain list, no parent ids, no tree.
    old = {
        "format": "hearth-chat/1",
        "title": "Old",
        "messages": [
            {"id": "m1", "role": "user", "content": "one"},
            {"id": "m2", "role": "assistant", "content": "two"},
            {"id": "m3", "role": "user", "content": "three"},
        ],
    }
    imported = api.post("/chats/import", json=old).json()
    plain = api.get(f"/chats/{imported['ids'][0]}").json()
    assert [m["id"] for m in plain["messages"]] == ["m1", "m2", "m3"]
    assert [m["parent_id"] for m in plain["messages"]] == [None, "m1", "m2"]
    assert plain["current_id"] == "m3"


def test_a_schema_3_database_becomes_straight_branches(tmp_path: Path) -> None:
    path = tmp_path / "hearth.db"
    old = connect(path)
    assert migrate(old, target=3) == 3
    stamp = "2024-01-01T00:00:00.000Z"
    for pk, chat_id in ((1, "linear"), (2, "empty")):
        old.execute(
            "INSERT INTO chats (pk, id, title, created_at, updated_at) VALUES (?, ?, 't', ?, ?)",
            (pk, chat_id, stamp, stamp),
        )
    # Positions with a gap and a tie (a deleted message, two writers): order is kept.
    rows = [("m1", 0, "user", "apricot"), ("m2", 1, "assistant", "B"), ("m3", 3, "user", "C")]
    rows += [("m4", 3, "assistant", "D")]
    for message_id, position, role, content in rows:
        old.execute(
            "INSERT INTO messages (chat_pk, id, position, role, content, created_at)"
            " VALUES (1, ?, ?, ?, ?, ?)",
            (message_id, position, role, content, stamp),
        )
    old.close()

    store = ChatStore(path)
    try:
        chat = store.get_chat("linear")
        assert [m["id"] for m in chat["messages"]] == ["m1", "m2", "m3", "m4"]
        assert [m["parent_id"] for m in chat["messages"]] == [None, "m1", "m2", "m3"]
        assert chat["current_id"] == "m4" and chat["version"] == 1
        assert all(m["versions"]["count"] == 1 for m in chat["messages"])
        assert store.get_chat("empty")["current_id"] is None
        assert store.list_chats(query="apricot")[1] == 1
        # And it takes versions from now on.
        regenerated = store.add_message(
            "linear", {"role": "assistant", "content": "E", "parent_id": "m3"}
        )
        assert regenerated["versions"]["ids"] == ["m4", regenerated["id"]]
        assert [m["content"] for m in store.get_chat("linear")["messages"]][-1] == "E"
    finally:
        store.close()
