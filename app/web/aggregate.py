"""One answer from a stream of Ollama objects, for requests that do not stream.

The manager always streams; a client that asked for ``stream: false`` (or an
OpenAI client that did not ask for a stream) gets these aggregates, which the
OpenAI edge then reshapes into its own completion objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


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
    """One ``/api/generate`` object from a stream: text and thinking joined."""
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
