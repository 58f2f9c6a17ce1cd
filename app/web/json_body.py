"""Reading a request's body: bounded (a 413), and hostile JSON shapes refused with a 400.

One reader for every blueprint (Ollama, OpenAI, ``/api/v1``, presets and
documents), because each of these used to reach a route as a 500:

- nesting: ``[[[[...]]]]`` 100000 deep makes :func:`json.loads` raise
  ``RecursionError``; a body a little under Python's limit parses, then blows
  the stack later in ``json.dumps`` or a validator. Nothing Hearth reads nests
  deeper than :data:`MAX_DEPTH`, so deeper bodies are refused up front.
- numbers: ``1e999999`` parses as ``inf`` (and ``NaN``/``Infinity`` are not
  JSON at all); integers beyond 64 bits fit no option, no SQLite column and
  no llama-server field. Both are refused while parsing. (Integers of more
  than 4300 digits already fail inside :func:`json.loads` with ValueError.)
- lone surrogates: ``"\\ud800"`` is valid JSON but not valid Unicode, and
  SQLite, file names and UTF-8 encoders raise on it. Browsers send them when
  a string is sliced through an emoji (the UI cuts titles at 48 UTF-16 units),
  so they are replaced with U+FFFD rather than refused: the text survives.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import request

from app.errors import BadRequest, HearthError
from app.web.request_log import note_model

MAX_DEPTH = 64
INT_LIMIT = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")


MAX_JSON_BODY = 32 * 2**20
"""The bound on a JSON body unless a route needs another (imports more, presets less).

Blob uploads, which may be gigabytes, stream to disk through their own route instead.
"""


class PayloadTooLarge(HearthError):
    """A request body over its route's bound: the one 413 every blueprint raises."""

    status = 413

    def __init__(self, limit: int, subject: str = "request body") -> None:
        super().__init__(f"{subject} is larger than {limit // 2**20} MiB")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if not -INT_LIMIT <= value < INT_LIMIT:
        raise ValueError(f"integer {text[:40]}... does not fit in 64 bits")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _scrub(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def check_shape(value: Any, scrub: bool) -> Any:
    """Refuse nesting beyond :data:`MAX_DEPTH`; with ``scrub``, replace lone surrogates.

    Iterative, so checking a deep value cannot itself overflow the stack.
    """
    if scrub and isinstance(value, str):
        return _scrub(value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key in list(node):
                item = node[key]
                if scrub and isinstance(item, str):
                    item = node[key] = _scrub(item)
                if scrub and isinstance(key, str) and _SURROGATE.search(key):
                    del node[key]
                    node[_scrub(key)] = item
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if scrub and isinstance(item, str):
                    node[index] = _scrub(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
    return value


def parse_json(raw: bytes) -> Any:
    """``raw`` as a JSON value, or :class:`BadRequest` naming what is wrong with it."""
    try:
        value = json.loads(
            raw, parse_float=_finite, parse_int=_bounded_int, parse_constant=_no_constant
        )
    except RecursionError:
        raise BadRequest(f"invalid JSON: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # includes UnicodeDecodeError
        raise BadRequest(f"invalid JSON: {error}") from None
    # A lone surrogate can only arrive as a \u escape: skip the scrub when there is none.
    return check_shape(value, scrub=b"\\u" in raw)


def read_body(limit: int, too_large: PayloadTooLarge | None = None) -> bytes:
    """The current request's raw body, read at most to ``limit`` bytes; more is ``too_large``.

    Why read rather than trust ``Content-Length``: a chunked body has none,
    and reading one byte past the limit is what tells "exactly the limit"
    from "more", without buffering the rest.
    """
    error = too_large or PayloadTooLarge(limit)
    if (request.content_length or 0) > limit:
        raise error
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise error
    return raw


def read_json(limit: int = MAX_JSON_BODY) -> Any:
    """The current request's JSON value (any type); bodies over ``limit`` bytes are a 413."""
    raw = read_body(limit)
    if not raw.strip():
        raise BadRequest("missing request body")
    value = parse_json(raw)
    note_model(request.environ, value)
    return value


def json_body(limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The current request's JSON object: what every route taking a JSON body reads."""
    body = read_json(limit)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body
