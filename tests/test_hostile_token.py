"""``hearth token --reset`` takes effect in the running server at once (issue 16).

Before, the server kept the hash it loaded at start, so a leaked token went
on working until a restart, although the user had been told it was replaced.
"""

from __future__ import annotations

import requests

from tests.hearth_process import HearthFactory


def test_token_reset_applies_to_the_running_server(make_hearth: HearthFactory) -> None:
    process = make_hearth(env={"HEARTH_REQUIRE_TOKEN": "1"})
    old = process.printed_token()
    tags = f"{process.ollama_url}/api/tags"
    assert requests.get(tags, headers=_bearer(old), timeout=10).status_code == 200

    reset = process.cli("token", "--reset")
    new = reset.stdout.strip().splitlines()[-1]
    assert new and new != old

    assert requests.get(tags, headers=_bearer(old), timeout=10).status_code == 401
    assert requests.get(tags, headers=_bearer(new), timeout=10).status_code == 200
    # A browser cookie with the old token is refused too.
    cookie = requests.get(tags, cookies={"hearth_token": old}, timeout=10)
    assert cookie.status_code == 401
    assert "running Hearth" in reset.stderr  # the CLI says so


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
