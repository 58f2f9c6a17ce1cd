"""Ollama's ``keep_alive`` values: how long a model stays loaded after use.

A JSON number is seconds (fractions allowed), a string is a Go duration
(``"5m"``, ``"1h30m"``, ``"-1s"``); negative means forever and zero means
unload as soon as the request ends. A bare numeric string is invalid in a
request, exactly as in Ollama.
"""

from __future__ import annotations

import math
import re

from app.errors import BadRequest

DEFAULT_KEEP_ALIVE = 300.0
FOREVER = math.inf

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string; raises ValueError when malformed."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None:
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position == 0:
        raise ValueError(f"time: invalid duration {text!r}")
    return sign * total


def parse_keep_alive(value: object, default: float = DEFAULT_KEEP_ALIVE) -> float:
    """Seconds to keep a model loaded; ``math.inf`` for forever."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise BadRequest("keep_alive must be a number of seconds or a duration string")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except ValueError as error:
            raise BadRequest(str(error)) from None
    else:
        raise BadRequest("keep_alive must be a number of seconds or a duration string")
    return FOREVER if seconds < 0 else seconds
