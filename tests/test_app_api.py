"""/api/v1 chats and messages over real HTTP (cheroot) and a real SQLite file."""

from __future__ import annotations

import time

import requests

from tests.test_app_api_helpers import Api, api  # noqa: F401 - fixture
from tests.threads import run_at_once


def make_chat(api: Api, **fields: object) -> dict:  # noqa: F811
    reply = api.post("/chats", json=fields)
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_chat_crud(api: Api) -> None:  # noqa: F811
    chat = make_chat(
        api,
        title="Trip plans",
        model="gemma3:270m",
        system="Be brief.",
        options={"temperature": 0.2, "keep_alive": "10m"},
        folder="travel",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Where to go?", "images": ["aGVsbG8="]},
            {
                "role": "assistant",
                "content": "Lisbon.",
                "thinking": "Warm, cheap.",
                "stats": {"eval_count": 20, "eval_duration": 500_000_000, "ttft_ms": 31.5},
                "done": True,
                "model": "gemma3:270m",
            },
        ],
    )
    assert len(chat["id"]) == 32 and chat["created_at"].endswith("Z")
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant"]
    assert chat["messages"][1]["images"] == ["aGVsbG8="]
    assert chat["messages"][2]["stats"]["tokens_per_second"] == 40.0
    assert chat["options"] == {"temperature": 0.2, "keep_alive": "10m"}

    fetched = api.get(f"/chats/{chat['id']}").json()
    assert fetched == chat

    time.sleep(0.01)
    patched = api.patch(f"/chats/{chat['id']}", json={"title": "Lisbon trip", "pinned": True})
    assert patched.status_code == 200
    body = patched.json()
    assert body["title"] == "Lisbon trip" and body["pinned"] is True
    assert body["updated_at"] > chat["updated_at"]
    assert body["messages"] == chat["messages"]

    replaced = api.patch(
        f"/chats/{chat['id']}", json={"messages": [{"role": "user", "content": "Only me"}]}
    ).json()
    assert [m["content"] for m in replaced["messages"]] == ["Only me"]

    empty = make_chat(api)
    assert empty["title"] == "New chat" and empty["messages"] == [] and empty["options"] == {}

    assert api.delete(f"/chats/{chat['id']}").json() == {"id": chat["id"], "deleted": True}
    missing = api.get(f"/chats/{chat['id']}")
    assert missing.status_code == 404 and "not found" in missing.json()["error"]
    assert api.delete(f"/chats/{chat['id']}").status_code == 404
    assert api.patch(f"/chats/{chat['id']}", json={"title": "x"}).status_code == 404


def test_validation_errors_are_json(api: Api) -> None:  # noqa: F811
    cases = [
        ({"title": 5}, "title"),
        ({"pinned": "yes"}, "pinned"),
        ({"options": []}, "options"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": 1}]}, "content"),
        ({"messages": [{"role": "user", "stats": {"eval_count": "many"}}]}, "eval_count"),
        ({"messages": [{"role": "user", "id": "a"}, {"role": "user", "id": "a"}]}, "twice"),
        ({"created_at": "yesterday"}, "created_at"),
    ]
    for body, word in cases:
        reply = api.post("/chats", json=body)
        assert reply.status_code == 400, body
        assert word in reply.json()["error"], (body, reply.json())
    bad_json = api.post("/chats", data=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "invalid JSON" in bad_json.json()["error"]
    assert api.post("/chats", json=[1]).status_code == 400
    assert api.get("/chats?limit=zero").status_code == 400
    assert api.get("/chats?limit=0").status_code == 400
    assert api.get("/chats?archived=maybe").status_code == 400
    wrong_method = api.delete("/chats")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]
    assert api.get("/chats").json()["total"] == 0  # nothing was written


def test_body_limit_is_413(api: Api) -> None:  # noqa: F811
    big = b'{"title": "' + b"x" * (33 * 2**20) + b'"}'
    reply = api.post("/chats", data=big, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and "MiB" in reply.json()["error"]
    assert api.get("/chats").json()["total"] == 0


def test_pagination_newest_first(api: Api) -> None:  # noqa: F811
    ids = [make_chat(api, title=f"chat {n}")["id"] for n in range(7)]
    first = api.get("/chats?limit=3").json()
    assert first["total"] == 7 and first["next_offset"] == 3
    assert [c["id"] for c in first["chats"]] == ids[::-1][:3]
    assert "messages" not in first["chats"][0] and first["chats"][0]["message_count"] == 0
    second = api.get("/chats?limit=3&offset=3").json()
    third = api.get("/chats?limit=3&offset=6").json()
    assert [c["id"] for c in second["chats"] + third["chats"]] == ids[::-1][3:]
    assert third["next_offset"] is None
    assert api.get("/chats?limit=1000").json()["limit"] == 200

    # A new message moves its chat to the top.
    api.post(f"/chats/{ids[0]}/messages", json={"role": "user", "content": "bump"})
    assert api.get("/chats?limit=1").json()["chats"][0]["id"] == ids[0]


def test_filters(api: Api) -> None:  # noqa: F811
    pinned = make_chat(api, title="p", pinned=True)["id"]
    archived = make_chat(api, title="a", archived=True, folder="old")["id"]
    plain = make_chat(api, title="n")["id"]

    def ids(query: str) -> set[str]:
        return {c["id"] for c in api.get("/chats" + query).json()["chats"]}

    assert ids("?pinned=true") == {pinned}
    assert ids("?archived=true") == {archived}
    assert ids("?archived=false") == {pinned, plain}
    assert ids("?folder=old") == {archived}
    assert ids("?folder=") == {pinned, plain}  # empty: chats in no folder
    assert ids("?folder=old&archived=false") == set()


def test_search_titles_and_message_text(api: Api) -> None:  # noqa: F811
    zebra = make_chat(api, title="Striped Zebra facts")["id"]
    deep = make_chat(
        api,
        title="Unrelated",
        messages=[
            {"role": "user", "content": "tell me about the okapi"},
            {"role": "assistant", "content": "The okapi is 50% giraffe"},
        ],
    )["id"]
    make_chat(api, title="500 ways", messages=[{"role": "user", "content": "a_b c"}])

    def found(q: str) -> set[str]:
        reply = api.get("/chats", params={"q": q})
        assert reply.status_code == 200, reply.text
        return {c["id"] for c in reply.json()["chats"]}

    assert found("zebra") == {zebra}  # title, case-insensitive
    assert found("ebr") == {zebra}  # substrings too
    assert found("okapi") == {deep}  # message text
    assert found("okapi giraffe") == {deep}  # every word must match
    assert found("okapi zebra") == set()
    assert found('"is 50%"') == {deep}  # quoted phrase, % is literal
    assert found("50%") == {deep}
    assert found("a_b") != found("axb") and len(found("a_b")) == 1  # _ is literal
    assert found("ok") == {deep}  # short terms use LIKE
    assert found("nothing-matches") == set()

    # Editing a message re-indexes it; deleting a chat drops it from results.
    chat = api.get(f"/chats/{deep}").json()
    answer = chat["messages"][1]["id"]
    api.patch(f"/chats/{deep}/messages/{answer}", json={"content": "now about tapirs"})
    assert found("giraffe") == set() and found("tapirs") == {deep}
    api.delete(f"/chats/{deep}")
    assert found("okapi") == set() and found("tapirs") == set()


def test_search_without_fts(api: Api) -> None:  # noqa: F811
    api.store.use_fts = False  # the LIKE fallback, as on a Python whose SQLite lacks FTS5
    chat = make_chat(api, title="Kiwi", messages=[{"role": "user", "content": "100%_real"}])
    for query, expected in (("kiwi", 1), ("100%_", 1), ("100%x", 0), ("real kiwi", 1)):
        assert api.get("/chats", params={"q": query}).json()["total"] == expected, query
    assert chat["id"]


def test_message_append_update_delete(api: Api) -> None:  # noqa: F811
    chat = make_chat(api, title="stream", messages=[{"role": "user", "content": "hi"}])
    cid = chat["id"]
    reply = api.post(f"/chats/{cid}/messages", json={"role": "assistant", "done": False})
    assert reply.status_code == 201
    answer = reply.json()
    assert answer["content"] == "" and answer["done"] is False and answer["id"]

    # The UI saves the growing answer; a reload in between sees what was written so far.
    text = ""
    for piece in ["Hel", "lo", ", there"]:
        text += piece
        saved = api.patch(f"/chats/{cid}/messages/{answer['id']}", json={"content": text})
        assert saved.status_code == 200 and saved.json()["content"] == text
        assert api.get(f"/chats/{cid}").json()["messages"][-1]["content"] == text
    done = api.patch(
        f"/chats/{cid}/messages/{answer['id']}",
        json={"content": text, "thinking": "hmm", "done": True, "stats": {"eval_count": 3}},
    ).json()
    assert done["done"] is True and done["thinking"] == "hmm" and done["stats"]["eval_count"] == 3

    own_id = api.post(f"/chats/{cid}/messages", json={"role": "user", "content": "x", "id": 7})
    assert own_id.json()["id"] == "7"
    clash = api.post(f"/chats/{cid}/messages", json={"role": "user", "content": "y", "id": "7"})
    assert clash.status_code == 409

    messages = api.get(f"/chats/{cid}").json()["messages"]
    assert [m["content"] for m in messages] == ["hi", "Hello, there", "x"]
    assert api.delete(f"/chats/{cid}/messages/7").json()["deleted"] is True
    assert api.delete(f"/chats/{cid}/messages/7").status_code == 404
    assert api.patch(f"/chats/{cid}/messages/nope", json={"content": "z"}).status_code == 404
    assert api.post("/chats/nope/messages", json={"role": "user"}).status_code == 404
    bad = api.patch(f"/chats/{cid}/messages/{answer['id']}", json={"done": "yes"})
    assert bad.status_code == 400 and "done" in bad.json()["error"]
    assert len(api.get(f"/chats/{cid}").json()["messages"]) == 2


def test_concurrent_appends_over_http(api: Api) -> None:  # noqa: F811
    chats = [make_chat(api, title=f"c{n}")["id"] for n in range(3)]
    errors: list[str] = []

    def writer(worker: int) -> None:
        session = requests.Session()
        for n in range(15):
            cid = chats[(worker + n) % len(chats)]
            body = {"role": "user", "content": f"w{worker}-{n}"}
            reply = session.post(f"{api.url}/chats/{cid}/messages", json=body, timeout=30)
            if reply.status_code != 201:
                errors.append(reply.text)

    run_at_once(writer, range(8))
    assert errors == []
    contents = []
    for cid in chats:
        messages = api.get(f"/chats/{cid}").json()["messages"]
        contents += [m["content"] for m in messages]
    assert sorted(contents) == sorted(f"w{w}-{n}" for w in range(8) for n in range(15))
