"""A message's optional lists (images, tool calls): one rule for both, and its words."""

from __future__ import annotations

from typing import Any

import pytest

from app.chats.validate import clean_message
from app.errors import BadRequest

CALL = {"function": {"name": "f", "arguments": {}}}


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("images", ["aGk="], ["aGk="]),
        ("images", [], None),
        ("images", None, None),
        ("tool_calls", [CALL], [CALL]),
        ("tool_calls", [], None),
        ("tool_calls", None, None),
    ],
)
def test_a_list_is_kept_and_an_empty_one_is_null(key: str, value: Any, stored: Any) -> None:
    assert clean_message({"role": "assistant", key: value})[key] == stored


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("images", "aGk=", "message.images must be a list of base64 strings"),
        ("images", [1], "message.images must be a list of base64 strings"),
        ("tool_calls", {"a": 1}, "message.tool_calls must be a list of objects"),
        ("tool_calls", ["f"], "message.tool_calls must be a list of objects"),
    ],
)
def test_a_wrong_list_is_refused_by_name(key: str, value: Any, words: str) -> None:
    with pytest.raises(BadRequest) as refused:
        clean_message({"role": "user", key: value})
    assert str(refused.value) == words


def test_a_patch_without_the_lists_leaves_them_out() -> None:
    assert clean_message({"content": "x"}, partial=True) == {"content": "x"}
