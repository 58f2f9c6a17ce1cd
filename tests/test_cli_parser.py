"""``hearth``'s command line as people type it: where options may go."""

from __future__ import annotations

import pytest

from app.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--home", "/tmp/h", "--port", "11500"],
        ["--home", "/tmp/h", "serve", "--port", "11500"],
    ],
)
def test_home_goes_before_or_after_the_command(argv: list[str]) -> None:
    """``hearth serve --home DIR`` was 'unrecognized arguments' though --help lists --home."""
    args = build_parser().parse_args(argv)
    assert (args.command, args.home, args.port) == ("serve", "/tmp/h", 11500)


def test_a_place_given_before_the_command_is_kept_when_none_follows() -> None:
    args = build_parser().parse_args(["--models", "/m", "--llama-server", "/b/ls", "list"])
    assert (args.models, args.llama_server, args.home) == ("/m", "/b/ls", None)


def test_after_the_command_wins_and_every_command_takes_them() -> None:
    parser = build_parser()
    args = parser.parse_args(["--home", "/a", "ls", "--home", "/b"])
    assert args.home == "/b"
    for argv in (["doctor"], ["rm", "x"], ["run", "m"], ["pull", "m"], ["app"], ["token"]):
        assert parser.parse_args([*argv, "--models", "/m"]).models == "/m", argv
