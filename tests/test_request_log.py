"""The request log: one line per request in hearth.log, and never a secret in it."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess

PROMPT = "Say the word PINEAPPLE-SECRET-PROMPT"
LINE = re.compile(
    r"hearth\.request: (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}|-)"
    r" (?P<ms>\d+\.\d)ms(?: model=(?P<model>\S+))?(?: bytes=(?P<bytes>\d+))?$"
)


@pytest.fixture(scope="module")
def logged(make_module_hearth: HearthFactory) -> tuple[HearthProcess, str]:
    """Hearth with the access token required, so there is a token to keep out of the log."""
    process = make_module_hearth(env={"HEARTH_REQUIRE_TOKEN": "1"}, models=[GEMMA_NAME])
    return process, process.printed_token()


def log_lines(process: HearthProcess) -> list[dict[str, str]]:
    text = (process.home / "logs" / "hearth.log").read_text()
    return [m.groupdict() for line in text.splitlines() if (m := LINE.search(line))]


def wait_for_line(process: HearthProcess, **fields: str) -> dict[str, str]:
    """The first request line with these fields (a stream's line lands as it closes)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log_lines(process):
            if all(line[key] == value for key, value in fields.items()):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no request line with {fields} in hearth.log")


def test_requests_are_logged_once_with_their_fields_and_no_secret(
    logged: tuple[HearthProcess, str],
) -> None:
    process, token = logged
    bearer = {"Authorization": f"Bearer {token}"}
    api = process.ollama_url

    tags = requests.get(f"{api}/api/tags?token={token}&x=1", timeout=10)
    assert tags.status_code == 200
    missing = requests.get(f"{api}/api/nothing-here", headers=bearer, timeout=10)
    assert missing.status_code == 404
    bad = requests.post(f"{api}/api/chat", data=b'{"model": ', headers=bearer, timeout=10)
    assert bad.status_code == 400
    refused = requests.get(f"{api}/api/tags", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    session = requests.Session()
    assert session.get(f"{process.url}/?token={token}", timeout=10).status_code == 200
    assert session.get(f"{process.url}/api/v1/chats", timeout=10).status_code == 200  # cookie

    body = {
        "model": GEMMA_NAME,
        "messages": [{"role": "user", "content": PROMPT}],
        "options": {"num_predict": 16, "temperature": 0},
    }
    with requests.post(f"{api}/api/chat", json=body, headers=bearer, stream=True, timeout=120) as r:
        assert r.status_code == 200
        chunks = [line for line in r.iter_lines() if line]
    assert len(chunks) > 2

    line = wait_for_line(process, path="/ollama/api/tags", status="200")
    assert line["method"] == "GET" and line["bytes"] == str(len(tags.content))
    wait_for_line(process, path="/ollama/api/nothing-here", status="404")
    wait_for_line(process, path="/ollama/api/chat", status="400")
    wait_for_line(process, path="/ollama/api/tags", status="401")
    wait_for_line(process, path="/", status="200")
    wait_for_line(process, path="/api/v1/chats", status="200")
    streamed = wait_for_line(process, path="/ollama/api/chat", status="200")
    assert streamed["model"] == GEMMA_NAME and streamed["bytes"] is None
    assert float(streamed["ms"]) > 0
    # One line per request, streams included (not one per chunk).
    chats = [x for x in log_lines(process) if x["path"] == "/ollama/api/chat"]
    assert len(chats) == 2

    text = (process.home / "logs" / "hearth.log").read_text()
    for secret in (token, "wrong", "token=", "Bearer", "hearth_token", PROMPT, "x=1"):
        assert secret not in text, secret
