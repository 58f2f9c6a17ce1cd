"""Reading a JSON object into a dataclass whose field types say what each key may hold.

Why: Ollama's server decodes a request into Go structs, so a value of the
wrong JSON type (``"stream": "yes"``, ``"messages": "hi"``) is a 400 before
anything else happens. Hearth's requests (``app.api_types``) are frozen
dataclasses; this reads one from a body the same way, with the type
annotations as the only statement of what is allowed, and says what was
wrong in one form: ``<key> must be <what>``.

Only the shapes JSON has are understood: ``Any``, ``None``, ``bool``,
``int`` (not a bool), ``float`` (any number), ``str``, ``list[X]``,
``dict[str, Any]`` and unions of them.
"""

from __future__ import annotations

import functools
import types
from dataclasses import MISSING, dataclass, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from app.errors import BadRequest

_NONE = type(None)
_WORDS: dict[Any, tuple[str, str]] = {
    str: ("a string", "strings"),
    bool: ("true or false", "booleans"),
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    dict: ("an object", "objects"),
}


def json_key(name: str) -> dict[str, str]:
    """Field metadata: the JSON key, where it is no Python name (``from``)."""
    return {"key": name}


def words(what: str) -> dict[str, str]:
    """Field metadata: what the refusal says the key must be (``a list of token ids``)."""
    return {"words": what}


@dataclass(frozen=True)
class FieldRule:
    name: str
    key: str
    hint: Any
    default: Any
    words: str


def fits(value: Any, hint: Any) -> bool:
    """Whether a decoded JSON ``value`` has the shape type ``hint`` names."""
    origin = get_origin(hint)
    if hint is Any or hint is object:
        return True
    if hint is _NONE:
        return value is None
    if origin in (Union, types.UnionType):
        return any(fits(value, arm) for arm in get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is list or origin is list:
        (item,) = get_args(hint) or (Any,)
        if not isinstance(value, list):
            return False
        return item is Any or all(fits(element, item) for element in value)
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    raise TypeError(f"no JSON shape for {hint!r}")


def describe(hint: Any) -> str:
    """``hint`` in a refusal's words: ``a string``, ``true or false``, ``a list of strings``."""
    if get_origin(hint) in (Union, types.UnionType):
        return " or ".join(describe(arm) for arm in get_args(hint) if arm is not _NONE)
    if hint is list or get_origin(hint) is list:
        (item,) = get_args(hint) or (Any,)
        return "a list" if item is Any else f"a list of {_WORDS[get_origin(item) or item][1]}"
    return _WORDS[get_origin(hint) or hint][0]


@functools.cache
def field_rules(cls: type) -> tuple[FieldRule, ...]:
    """Each field of dataclass ``cls``: its JSON key, type, default and words (read once)."""
    hints = get_type_hints(cls)
    rules = []
    for f in fields(cls):
        hint = hints[f.name]
        default = None if f.default is MISSING else f.default
        what = f.metadata.get("words") or ("" if hint is Any else describe(hint))
        rules.append(FieldRule(f.name, f.metadata.get("key", f.name), hint, default, what))
    return tuple(rules)


def read_fields(cls: type, body: dict[str, Any]) -> dict[str, Any]:
    """``cls``'s field values from ``body``: each key's value, checked, or the default.

    A key that is absent takes the field's default; one that is present,
    even as null, keeps its value (``"system": null`` is not no system).
    Keys no field names are ignored, as Ollama ignores unknown fields.
    """
    values = {}
    for rule in field_rules(cls):
        if rule.key not in body:
            values[rule.name] = rule.default
            continue
        value = body[rule.key]
        if not fits(value, rule.hint):
            raise BadRequest(f"{rule.key} must be {rule.words}")
        values[rule.name] = value
    return values
