"""``hearth pull`` and ``hearth pulls`` next to a Hearth that asks for its token (LAN mode).

Before, they looked for the running Hearth without the token, took its 401
for "none running", and pulled in their own process: on the running Hearth's
data, unseen by it, by the window and by ``hearth pulls`` (which said no
Hearth was running). ``run``, ``ps`` and ``rm`` already said to set HEARTH_TOKEN.
"""

from __future__ import annotations

from pathlib import Path

from tests.hearth_process import HearthFactory

UNREACHABLE = "127.0.0.1:1/library/nothing:latest"
"""A registry address nothing listens on: the pull fails at once, offline."""


def test_pull_uses_the_token_and_without_it_says_so(make_hearth: HearthFactory) -> None:
    process = make_hearth(env={"HEARTH_REQUIRE_TOKEN": "1"}, llama_server=Path("/nonexistent"))
    token = process.printed_token()

    for argv in (("pull", "--insecure", UNREACHABLE), ("pulls",)):
        refused = process.cli(*argv, check=False)
        assert refused.returncode == 1, (argv, refused.stdout)
        assert "set HEARTH_TOKEN" in refused.stderr, argv
        assert "pulling manifest" not in refused.stdout  # not pulled here instead

    process.extra_env["HEARTH_TOKEN"] = token
    pulled = process.cli("pull", "--insecure", UNREACHABLE, check=False)
    assert pulled.stdout.startswith(f"pulling in the running Hearth at {process.url}\n")
    assert pulled.returncode == 1 and "connection refused" in pulled.stderr
    assert process.cli("pulls").stdout == "no pulls in progress\n"
    cancel = process.cli("pull", "--cancel", UNREACHABLE, check=False)
    assert "no pull of" in cancel.stderr  # the running Hearth answered, with the token
