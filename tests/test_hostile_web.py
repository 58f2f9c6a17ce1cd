"""Hostile bodies and a failing disk over real HTTP: each a clear 4xx or 507, never a 500.

Every case here answered ``500 internal error`` before: deep nesting
(RecursionError), lone surrogates (UnicodeEncodeError in SQLite), numbers
no field can hold (``inf`` in options, a 20-digit offset: OverflowError),
one malformed chat in an Open WebUI export (TypeError, and nothing was
imported), a full disk and a read-only models folder (OSError, sqlite3
OperationalError).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess
from tests.registry import RegistryServer, push_model
from tests.tinygguf import write_tiny_gguf

TINY = "tiny:1"
DEEP = 100_000
GENERATION_PATHS = ("/ollama/api/chat", "/ollama/api/generate", "/ollama/v1/chat/completions")


@pytest.fixture(scope="module")
def web(make_module_hearth: HearthFactory) -> str:
    """A ``hearth serve`` of this module's own, with a tiny model in its store."""
    process = make_module_hearth(start=False)
    process.cli("import", str(write_tiny_gguf(process.home / "tiny.gguf")), TINY)
    process.start()
    return process.url


def post_raw(url: str, body: bytes, method: str = "POST") -> requests.Response:
    headers = {"Content-Type": "application/json"}
    return requests.request(method, url, data=body, headers=headers, timeout=60)


# -- nesting ---------------------------------------------------------------
@pytest.mark.parametrize("path", [*GENERATION_PATHS, "/api/v1/chats", "/api/v1/chats/import"])
def test_deeply_nested_json_is_400(web: str, path: str) -> None:
    nested = b"[" * DEEP + b"]" * DEEP
    for body in (nested, b'{"model": "tiny:1", "messages": ' + nested + b"}"):
        reply = post_raw(web + path, body)
        assert reply.status_code == 400, reply.text
        assert "nested deeper than" in json.dumps(reply.json())
    # Under Python's recursion limit it parses, yet is still deeper than anything Hearth reads.
    moderate = b'{"title": "x", "options": {"a": ' + b"[" * 500 + b"]" * 500 + b"}}"
    assert post_raw(web + "/api/v1/chats", moderate).status_code == 400
    assert requests.get(web + "/api/v1/chats", timeout=10).status_code == 200


# -- lone surrogates ---------------------------------------------------------
def test_lone_surrogates_in_chats_are_kept_as_replacement_characters(web: str) -> None:
    """A browser slicing a title through an emoji sends a lone surrogate: keep the text."""
    reply = post_raw(
        web + "/api/v1/chats",
        b'{"title": "soup \\ud83d", "model": "\\udfff",'
        b' "messages": [{"role": "user", "content": "a\\ud800b"}]}',
    )
    assert reply.status_code == 201, reply.text
    chat = reply.json()
    assert chat["title"] == "soup \ufffd" and chat["model"] == "\ufffd"
    assert chat["messages"][0]["content"] == "a\ufffdb"
    url = f"{web}/api/v1/chats/{chat['id']}"
    added = post_raw(url + "/messages", b'{"role": "assistant", "content": "\\udc00!"}')
    assert added.status_code == 201 and added.json()["content"] == "\ufffd!"
    patched = post_raw(url, b'{"title": "\\ud800\\ud800"}', method="PATCH")
    assert patched.status_code == 200 and patched.json()["title"] == "\ufffd\ufffd"
    # A proper pair is one character, untouched.
    paired = post_raw(web + "/api/v1/chats", b'{"title": "\\ud83d\\ude00"}')
    assert paired.json()["title"] == "\U0001f600"
    assert requests.get(url, timeout=10).json()["messages"][1]["content"] == "\ufffd!"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/ollama/api/show", "model"),
        ("/ollama/api/chat", "model"),
        ("/ollama/api/generate", "model"),
        ("/ollama/api/pull", "model"),
        ("/ollama/api/create", "model"),
        ("/ollama/api/copy", "destination"),
        ("/ollama/v1/chat/completions", "model"),
    ],
)
def test_lone_surrogate_in_a_model_name_is_400(web: str, path: str, field: str) -> None:
    body = {"model": TINY, "source": TINY, "from": TINY, "messages": [], "prompt": "x"}
    raw = json.dumps({**body, field: "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud800x")
    reply = post_raw(web + path, raw.encode())
    assert reply.status_code == 400, reply.text


# -- numbers -----------------------------------------------------------------
HUGE_FLOAT = b"1e999999"
HUGE_INT = b"1" * 5000


@pytest.mark.parametrize("number", [HUGE_FLOAT, b"-" + HUGE_FLOAT, HUGE_INT, b"NaN", b"Infinity"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/ollama/api/chat", b'{"model": "tiny:1", "messages": [], "options": {"num_ctx": %s}}'),
        (
            "/ollama/api/chat",
            b'{"model": "tiny:1", "messages": [], "options": {"temperature": %s}}',
        ),
        ("/ollama/api/generate", b'{"model": "tiny:1", "prompt": "x", "options": {"top_p": %s}}'),
        ("/ollama/v1/chat/completions", b'{"model": "tiny:1", "messages": [], "temperature": %s}'),
        ("/ollama/v1/completions", b'{"model": "tiny:1", "prompt": "x", "max_tokens": %s}'),
        ("/api/v1/chats", b'{"title": "x", "options": {"temperature": %s}}'),
        ("/api/v1/chats", b'{"title": "x", "created_at": %s}'),
    ],
)
def test_numbers_no_field_can_hold_are_400(
    web: str, path: str, template: bytes, number: bytes
) -> None:
    reply = post_raw(web + path, template % number)
    assert reply.status_code == 400, reply.text
    assert "invalid JSON" in json.dumps(reply.json())


def test_numbers_beyond_64_bits_are_400(web: str) -> None:
    big = str(2**64).encode()
    reply = post_raw(web + "/api/v1/settings", b'{"pull_concurrency": %s}' % big, method="PATCH")
    assert reply.status_code == 400 and "64 bits" in reply.json()["error"]
    for query in ("offset=99999999999999999999", "limit=" + "9" * 5000):
        reply = requests.get(f"{web}/api/v1/chats?{query}", timeout=10)
        assert reply.status_code == 400, (query, reply.text)


# -- imports -----------------------------------------------------------------
def open_webui_chat(title: str, current: object = "b") -> dict:
    return {
        "id": title,
        "title": title,
        "created_at": 1_717_000_000,
        "chat": {
            "models": ["m"],
            "history": {
                "currentId": current,
                "messages": {
                    "a": {"id": "a", "role": "user", "content": "hi", "parentId": None},
                    "b": {"id": "b", "role": "assistant", "content": "yo", "parentId": "a"},
                },
            },
        },
    }


@pytest.mark.parametrize(
    "breakage",
    [
        {"history": {"currentId": ["b"], "messages": {"b": {"role": "user", "content": "x"}}}},
        {"history": {"messages": {"a": {"role": {"x": 1}}, "b": {"role": "user"}}}},
        {"history": {"messages": {"a": {"role": "user", "content": "x", "files": 7}}}},
        {"history": {"messages": {"a": {"role": "user", "timestamp": "x"}, "b": {"role": "user"}}}},
    ],
)
def test_open_webui_import_reads_odd_chats_and_skips_only_the_malformed(
    web: str, breakage: dict
) -> None:
    """Each ``breakage`` made the whole import a 500 (TypeError): now that chat is read
    as far as it makes sense, an item that is no chat at all is skipped with its index
    and reason, and every other chat is imported."""
    odd = open_webui_chat("odd")
    odd["chat"].update(breakage)
    upload = [open_webui_chat("first"), odd, "not a chat", open_webui_chat("last")]
    reply = requests.post(f"{web}/api/v1/chats/import", json=upload, timeout=30)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["imported"] == 3
    assert [entry["index"] for entry in result["skipped"]] == [2]
    assert "item 2" in result["skipped"][0]["error"]
    chats = [requests.get(f"{web}/api/v1/chats/{i}", timeout=10).json() for i in result["ids"]]
    assert [chat["title"] for chat in chats] == ["first", "odd", "last"]
    assert [m["content"] for m in chats[0]["messages"]] == ["hi", "yo"]


# -- wrong types -------------------------------------------------------------
WRONG = [b"[]", b"null", b'"text"', b"7", b"[{}]", b"{}"]


@pytest.mark.parametrize("value", WRONG)
def test_wrong_types_are_4xx(web: str, value: bytes) -> None:
    """Arrays, null, strings and numbers where objects, lists or numbers are expected."""
    bodies = [
        ("POST", "/ollama/api/chat", b'{"model": "tiny:1", "messages": %s}'),
        ("POST", "/ollama/api/chat", b'{"model": "tiny:1", "messages": [%s]}'),
        ("POST", "/ollama/api/chat", b'{"model": "tiny:1", "messages": [], "options": %s}'),
        ("POST", "/ollama/api/generate", b'{"model": %s, "prompt": "x"}'),
        ("POST", "/ollama/api/show", b'{"model": %s}'),
        ("POST", "/ollama/api/copy", b'{"source": "tiny:1", "destination": %s}'),
        ("POST", "/ollama/api/create", b'{"model": "n:1", "from": %s}'),
        ("POST", "/ollama/api/create", b'{"model": "n:1", "files": %s}'),
        ("POST", "/ollama/api/create", b'{"model": "n:1", "from": "tiny:1", "parameters": %s}'),
        ("POST", "/ollama/api/embed", b'{"model": "tiny:1", "input": %s}'),
        ("DELETE", "/ollama/api/delete", b'{"model": %s}'),
        ("DELETE", "/ollama/api/pulls", b'{"model": %s}'),
        ("POST", "/ollama/v1/chat/completions", b'{"model": "tiny:1", "messages": %s}'),
        ("POST", "/ollama/v1/chat/completions", b'{"model": "tiny:1", "messages": [%s]}'),
        ("POST", "/ollama/v1/embeddings", b'{"model": "tiny:1", "input": [%s]}'),
        ("POST", "/api/v1/chats", b"%s"),
        ("POST", "/api/v1/chats", b'{"messages": %s}'),
        ("POST", "/api/v1/chats", b'{"messages": [%s]}'),
        ("POST", "/api/v1/chats", b'{"options": %s, "title": %s}'),
        ("POST", "/api/v1/chats/import", b"%s"),
        ("POST", "/api/v1/chats/import", b'{"chats": %s}'),
        ("PATCH", "/api/v1/settings", b'{"default_options": %s}'),
        ("PATCH", "/api/v1/settings", b'{"keep_alive": %s, "pull_concurrency": %s}'),
    ]
    failures = []
    for method, path, template in bodies:
        body = template.replace(b"%s", value)
        reply = post_raw(web + path, body, method)
        # A body that passes every check reaches the tiny model, which llama-server cannot
        # load: that 500 names llama-server and is not what this test looks for.
        if reply.status_code >= 500 and "llama-server" not in reply.text:
            failures.append((method, path, body, reply.status_code, reply.text[:200]))
    assert not failures


# -- the disk ------------------------------------------------------------------
@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where``: the stand-in for a full or read-only disk.

    A real full disk cannot be had in a test; a tmpfs of a few megabytes fills
    up for real (ENOSPC, SQLITE_FULL) and remounts read-only for real (EROFS).
    Needs root (``mount``), so it skips elsewhere.
    """
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs stand-in for a full disk: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write zeros until the disk refuses (ENOSPC): the disk is then really full."""
    filler = folder / "filler"
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_a_full_disk_is_507_with_words(tmp_path: Path, make_hearth: HearthFactory) -> None:
    with tmpfs(tmp_path / "home", "16m") as home:
        process = make_hearth(home=home, start=False)
        process.cli("import", str(write_tiny_gguf(tmp_path / "tiny.gguf")), TINY)
        process.start()
        try:
            chat = requests.post(f"{process.url}/api/v1/chats", json={"title": "t"}, timeout=10)
            assert chat.status_code == 201
            filler = fill(home)
            big = {"role": "user", "content": "x" * 2_000_000}
            url = f"{process.url}/api/v1/chats/{chat.json()['id']}/messages"
            reply = requests.post(url, json=big, timeout=30)
            assert reply.status_code == 507, reply.text
            assert "full" in reply.json()["error"]
            created = requests.post(
                f"{process.ollama_url}/api/create",
                json={"model": "copy:1", "from": TINY, "system": "s" * 100_000, "stream": False},
                timeout=30,
            )
            assert created.status_code == 507, created.text
            assert "no space left" in created.json()["error"]
            filler.unlink()  # space again: the same requests work
            assert requests.post(url, json=big, timeout=30).status_code == 201
        finally:
            process.stop()


def test_a_read_only_models_folder_is_507_with_words(
    tmp_path: Path, make_hearth: HearthFactory, registry: RegistryServer
) -> None:
    tiny = write_tiny_gguf(tmp_path / "tiny.gguf")
    push_model(registry.url, "hostile/readonly", "1", [("model", tiny)], {"model_format": "gguf"})
    home = tmp_path / "home"
    with tmpfs(home / "models", "512m") as models:
        process = make_hearth(home=home, start=False)
        process.cli("import", str(tiny), TINY)
        subprocess.run(["mount", "-o", "remount,ro", str(models)], check=True)
        process.start()
        try:
            api = process.ollama_url
            pulled = f"{registry.host}/hostile/readonly:1"
            attempts = [
                ("POST", "/api/copy", {"source": TINY, "destination": "other:1"}),
                ("POST", "/api/create", {"model": "new:1", "from": TINY, "stream": False}),
                ("DELETE", "/api/delete", {"model": TINY}),
                ("POST", "/api/pull", {"model": pulled, "insecure": True, "stream": False}),
            ]
            for method, path, body in attempts:
                reply = requests.request(method, api + path, json=body, timeout=30)
                assert reply.status_code == 507, (path, reply.text)
                assert "read-only" in reply.json()["error"], (path, reply.text)
            # Streamed, the status line is out before the first write: the last line says it.
            streamed = requests.post(api + "/api/create", json={"model": "s:1", "from": TINY})
            assert streamed.status_code == 200
            last = json.loads(streamed.text.strip().splitlines()[-1])
            assert "read-only" in last["error"], streamed.text
            listed = requests.get(api + "/api/tags", timeout=10).json()["models"]
            assert [m["name"] for m in listed] == [TINY]
        finally:
            process.stop()


def test_gemma_options_out_of_range_are_not_500(hearth: HearthProcess) -> None:
    """Numbers that fit JSON and 64 bits but no model (the real one): 4xx, not 500."""
    for options in ({"num_ctx": 2**62}, {"seed": 2**63 - 1}, {"top_k": -(2**62)}):
        body = {
            "model": GEMMA_NAME,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": False,
            "options": {"num_predict": 1, **options},
        }
        reply = requests.post(f"{hearth.ollama_url}/api/chat", json=body, timeout=120)
        assert reply.status_code < 500, (options, reply.text)


# -- hygiene -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/chat/some-id", "/index.html"])
def test_ui_pages_refuse_to_be_framed(web: str, path: str) -> None:
    reply = requests.get(web + path, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_data_folder_and_database_are_private(make_hearth: HearthFactory) -> None:
    process = make_hearth()
    home = process.home
    assert requests.post(f"{process.url}/api/v1/chats", json={}, timeout=10).status_code == 201
    database = home / "hearth.db"
    assert mode(home) == 0o700
    files = [database, home / "hearth.db-wal", home / "hearth.db-shm"]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    process.stop()
    # An install from before: world-readable. The next start closes it up.
    home.chmod(0o755)
    for file in home.glob("hearth.db*"):
        file.chmod(0o644)
    process.start()
    assert mode(home) == 0o700
    assert {mode(f) for f in home.glob("hearth.db*")} == {0o600}


def test_patch_of_messages_with_a_stale_version_is_409(web: str) -> None:
    """Two windows on one chat: the one that read it before the other appended must not
    silently replace the list (and drop the appended message)."""
    chats = f"{web}/api/v1/chats"
    first = {"role": "user", "content": "one"}
    chat = requests.post(chats, json={"messages": [first]}, timeout=10).json()
    url = f"{chats}/{chat['id']}"
    read = requests.get(url, timeout=10)
    seen = read.json()["version"]
    assert read.headers["ETag"] == f'"{seen}"'
    # Another window appends.
    assert requests.post(url + "/messages", json={"role": "user", "content": "two"}).ok
    edited = [first, {"role": "assistant", "content": "edited"}]
    stale = requests.patch(url, json={"messages": edited, "version": seen}, timeout=10)
    assert stale.status_code == 409 and "reload" in stale.json()["error"], stale.text
    stale_tag = requests.patch(
        url, json={"messages": edited}, headers={"If-Match": read.headers["ETag"]}, timeout=10
    )
    assert stale_tag.status_code == 409
    assert [m["content"] for m in requests.get(url).json()["messages"]] == ["one", "two"]
    # With the version it has now, the change goes through, and the version moves on.
    current = requests.get(url, timeout=10)
    ok = requests.patch(
        url, json={"messages": edited}, headers={"If-Match": current.headers["ETag"]}, timeout=10
    )
    assert ok.status_code == 200 and ok.json()["version"] > current.json()["version"]
    assert requests.patch(url, json={"title": "t", "version": ok.json()["version"]}).ok
    # No version: as before (older clients), the list is replaced.
    legacy = requests.patch(url, json={"messages": [first]}, timeout=10)
    assert legacy.status_code == 200 and len(legacy.json()["messages"]) == 1
    assert requests.patch(url, json={"version": "7"}, timeout=10).status_code == 400


GEMMA_MISTYPED = [
    ("/ollama/api/chat", {"messages": [{"role": "user", "content": "hi", "images": 7}]}),
    ("/ollama/api/chat", {"messages": [{"role": "user", "content": "hi", "images": "abc"}]}),
    ("/ollama/api/chat", {"messages": [{"role": "user", "content": "hi", "thinking": 7}]}),
    ("/ollama/api/generate", {"prompt": "hi", "images": True}),
    ("/ollama/api/generate", {"prompt": "hi", "suffix": 7}),
    ("/ollama/api/generate", {"prompt": "hi", "suffix": "end"}),
    ("/ollama/v1/completions", {"prompt": "hi", "suffix": "end"}),
    (
        "/ollama/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": [{}]},
    ),
]


@pytest.mark.parametrize(("path", "fields"), GEMMA_MISTYPED)
def test_fields_the_real_model_cannot_take_are_400(
    hearth: HearthProcess, path: str, fields: dict
) -> None:
    """Found by fuzzing against Gemma: a TypeError inside Hearth, or llama-server's own
    500 for a request the model cannot serve (a suffix without infill tokens, images
    without a projector, a thinking field that is no string)."""
    body = {"model": GEMMA_NAME, "stream": False, "options": {"num_predict": 2}, **fields}
    body.setdefault("max_tokens", 2)
    reply = requests.post(f"{hearth.url}{path}", json=body, timeout=120)
    assert reply.status_code == 400, reply.text
