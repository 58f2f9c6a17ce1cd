"""Streaming responses: one writer for Ollama's NDJSON and OpenAI's server-sent events.

The first object is produced before the response starts, so anything that
fails early (unknown model, load failure, llama-server refusing the request)
still gets a real HTTP status. After that, a failure becomes a final error
object in the API's own shape, which is what its clients expect. Every object
is written as its own chunk the moment it exists. The two formats differ only
in framing, the error shape, an end marker and headers: :class:`Framing`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Response

from app.web.errors import describe_failure

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""Compact JSON that keeps non-ASCII text as it is, as Ollama and OpenAI write it."""


@dataclass(frozen=True)
class Framing:
    """How one API puts a stream of JSON objects on the wire."""

    mimetype: str
    prefix: bytes
    suffix: bytes
    error: Callable[[int, str], dict[str, Any]]
    """(status, message) -> the object a failure after the first byte becomes."""
    end: bytes = b""
    """Written after the last object, a failure's included (SSE's ``[DONE]``)."""
    headers: tuple[tuple[str, str], ...] = ()

    def frame(self, item: dict[str, Any]) -> bytes:
        return self.prefix + dumps(item).encode() + self.suffix


NDJSON = Framing(
    "application/x-ndjson",
    b"",
    b"\n",
    lambda _status, message: {"error": message},
    headers=(("X-Accel-Buffering", "no"), ("Cache-Control", "no-cache")),
)


def sse(error: Callable[[int, str], dict[str, Any]]) -> Framing:
    """Server-sent events (``data: {...}``) ending with ``data: [DONE]``, as OpenAI streams."""
    return Framing(
        "text/event-stream",
        b"data: ",
        b"\n\n",
        error,
        end=b"data: [DONE]\n\n",
        headers=(("Cache-Control", "no-cache"),),
    )


def stream_response(
    items: Iterator[dict[str, Any]], framing: Framing, source: Iterator[Any] | None = None
) -> Response:
    """``items`` streamed in ``framing``; ``source`` (default ``items``) is closed at the end.

    ``source`` is the generation ``items`` are translated from: closing it
    (the client left, or the stream ended) is what stops llama-server.
    """
    first = next(items, None)  # errors before the first byte keep their status
    closing: Any = items if source is None else source

    def chunks() -> Iterator[bytes]:
        try:
            if first is not None:
                yield framing.frame(first)
            for item in items:
                yield framing.frame(item)
        except Exception as error:  # noqa: BLE001 - the status line is already sent
            yield framing.frame(framing.error(*describe_failure(error)))
        finally:
            closing.close()
        if framing.end:  # never an empty chunk: to a chunked response that means "the end"
            yield framing.end

    response = Response(chunks(), mimetype=framing.mimetype)
    for name, value in framing.headers:
        response.headers[name] = value
    return response
