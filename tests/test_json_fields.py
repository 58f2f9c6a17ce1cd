"""Reading JSON into typed fields: which values fit which annotation, and the words when not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from app.errors import BadRequest
from app.json_fields import describe, fits, json_key, read_fields, words


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        (True, bool, True),
        (1, bool, False),
        (1, int, True),
        (True, int, False),  # JSON's true is no number, though Python's bool is an int
        (1.0, int, False),
        (1, float, True),
        (1.5, float, True),
        (False, float, False),
        ("x", str, True),
        (None, str | None, True),
        (None, str, False),
        ([], list[str], True),
        (["a", 1], list[str], False),
        ([1, "a"], list[Any], True),
        ({}, dict[str, Any], True),
        ([], dict[str, Any], False),
        ({"any": "thing"}, Any, True),
        ([1], list[int] | None, True),
    ],
)
def test_fits(value: Any, hint: Any, expected: bool) -> None:
    assert fits(value, hint) is expected


def test_describe_in_a_refusals_words() -> None:
    assert describe(str | None) == "a string"
    assert describe(bool | None) == "true or false"
    assert describe(list[str] | None) == "a list of strings"
    assert describe(list[Any]) == "a list"
    assert describe(dict[str, Any] | None) == "an object"
    assert describe(int | str) == "an integer or a string"


def test_a_shape_json_has_not_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        fits(1, set[int])


@dataclass(frozen=True)
class Sample:
    name: str | None = None
    count: int = 3
    origin: str | None = field(default=None, metadata=json_key("from"))
    ids: list[int] | None = field(default=None, metadata=words("a list of ids"))


def test_read_fields_takes_defaults_keys_and_nulls() -> None:
    assert read_fields(Sample, {}) == {"name": None, "count": 3, "origin": None, "ids": None}
    values = read_fields(Sample, {"name": None, "from": "base", "ids": [1], "unknown": 0})
    assert values == {"name": None, "count": 3, "origin": "base", "ids": [1]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": None}, "count must be an integer"),
        ({"count": "3"}, "count must be an integer"),
        ({"from": 1}, "from must be a string"),
        ({"ids": ["1"]}, "ids must be a list of ids"),
    ],
)
def test_read_fields_refuses_in_words(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=f"^{message}$"):
        read_fields(Sample, body)
