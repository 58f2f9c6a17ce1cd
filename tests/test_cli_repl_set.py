"""``/set`` in ``hearth run``'s chat: the four mode words, as ``ollama run`` answers them."""

from __future__ import annotations

import pytest

from app.cli_repl import _set
from app.cli_run import Session


@pytest.mark.parametrize(
    ("word", "field", "value"),
    [("verbose", "verbose", True), ("quiet", "verbose", False), ("think", "think", True)]
    + [("nothink", "think", False)],
)
def test_a_mode_word_sets_its_flag_and_says_so(
    word: str, field: str, value: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    session = Session(model="m", verbose=not value, think=None)
    _set(f"/set {word}", [word], session)
    assert getattr(session, field) is value
    assert capsys.readouterr().out == f"Set '{word}' mode.\n"


def test_other_words_keep_their_answers(capsys: pytest.CaptureFixture[str]) -> None:
    session = Session(model="m")
    _set('/set system "be brief"', ["system", '"be', 'brief"'], session)
    assert session.system == "be brief"
    _set("/set parameter top_k 5", ["parameter", "top_k", "5"], session)
    assert session.options == {"top_k": 5}
    _set("/set nonsense", ["nonsense"], session)
    out = capsys.readouterr().out
    assert "Set system message." in out and "Set parameter 'top_k' to '5'" in out
    assert out.endswith("/set nothink           Disable thinking\n\n")
    assert session.verbose is False and session.think is None
