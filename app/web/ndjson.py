"""Streaming NDJSON responses and their non-streamed aggregates.

The first object is produced before the response starts, so anything that
fails early (unknown model, load failure, llama-server refusing the request)
still gets a real HTTP status. After that, a failure becomes a final
``{"error": ...}`` line, which is what Ollama clients expect. Every object
is written as its own chunk the moment it exists.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from flask import Response

from app.web.errors import describe_failure

log = logging.getLogger(__name__)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def ndjson_stream(objects: Iterator[dict[str, Any]]) -> Response:
    first = next(objects, None)

    def lines() -> Iterator[bytes]:
        try:
            if first is not None:
                yield (_dumps(first) + "\n").encode()
            for item in objects:
                yield (_dumps(item) + "\n").encode()
        except Exception as error:  # noqa: BLE001 - the status line is already sent
            yield (_dumps({"error": describe_failure(error)[1]}) + "\n").encode()
        finally:
            objects.close()  # type: ignore[attr-defined]

    response = Response(lines(), mimetype="application/x-ndjson")
    response.headers["X-Accel-Buffering"] = "no"
    response.headers["Cache-Control"] = "no-cache"
    return response


def aggregate_chat(objects: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """One ``/api/chat`` object from a stream: text joined, tool calls gathered."""
    content: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    for item in objects:
        message = item.get("message", {})
        content.append(message.get("content", ""))
        thinking.append(message.get("thinking", ""))
        calls.extend(message.get("tool_calls", ()))
        logprobs.extend(item.get("logprobs", ()))
        if item.get("done"):
            final = item
    message = {"role": "assistant", "content": "".join(content)}
    if any(thinking):
        message["thinking"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    result = {**final, "message": message}
    if logprobs:
        result["logprobs"] = logprobs
    return result


def aggregate_generate(objects: Iterator[dict[str, Any]]) -> dict[str, Any]:
    response: list[str] = []
    thinking: list[str] = []
    logprobs: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    for item in objects:
        response.append(item.get("response", ""))
        thinking.append(item.get("thinking", ""))
        logprobs.extend(item.get("logprobs", ()))
        if item.get("done"):
            final = item
    result = {**final, "response": "".join(response)}
    if any(thinking):
        result["thinking"] = "".join(thinking)
    if logprobs:
        result["logprobs"] = logprobs
    return result


def last_status(objects: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Pull/create without streaming: the last status, or the error."""
    last: dict[str, Any] = {}
    for item in objects:
        last = item
    return {"status": last.get("status", "success")} if "error" not in last else last
