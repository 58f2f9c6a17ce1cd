"""Ollama's objects as OpenAI's: the one conversion on the way out.

The handlers shared with the Ollama routes produce Ollama objects (a stream,
or their aggregate when the client did not stream); these classes turn them
into chat completion / text completion chunks or one completion object.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from app.models.names import parse_name


def _finish_reason(final: dict[str, Any], had_calls: bool) -> str:
    if final.get("done_reason") == "length":
        return "length"
    return "tool_calls" if had_calls else "stop"


def _usage(final: dict[str, Any]) -> dict[str, int]:
    prompt = int(final.get("prompt_eval_count", 0))
    completion = int(final.get("eval_count", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _openai_calls(calls: list[dict[str, Any]], start: int) -> list[dict[str, Any]]:
    return [
        {
            "id": call.get("id") or f"call_{secrets.token_hex(4)}",
            "index": start + offset,
            "type": "function",
            "function": {
                "name": call["function"]["name"],
                "arguments": json.dumps(call["function"]["arguments"]),
            },
        }
        for offset, call in enumerate(calls)
    ]


def _chat_logprobs(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Ollama's per-token logprobs as OpenAI's ``choices[].logprobs``.

    OpenAI's entries always carry ``top_logprobs``; Ollama's only when asked.
    """
    content = [{**entry, "top_logprobs": entry.get("top_logprobs", [])} for entry in entries]
    return {"content": content}


class Translation:
    """One response's identity (id, created, model) and the two ways out of it.

    The routes hand a subclass to the shared handlers: ``chunks`` when the
    client streams, ``completion`` with the aggregate when it does not.
    """

    PREFIX = ""

    def __init__(self, model: str, include_usage: bool = False) -> None:
        self.id = f"{self.PREFIX}-{secrets.token_hex(6)}"
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage

    def chunks(self, objects: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def completion(self, result: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class ChatStream(Translation):
    """Ollama chat objects -> OpenAI chat completion chunks (or one completion)."""

    PREFIX = "chatcmpl"

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_hearth",
            "choices": choices,
            **extra,
        }

    def chunks(self, objects: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        first = True
        calls_sent = 0
        for item in objects:
            message = item.get("message") or {}
            if first:
                first = False
                yield self._chunk(
                    [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ]
                )
            logprobs = item.get("logprobs")
            if message.get("thinking"):
                choice = {"index": 0, "delta": {"reasoning": message["thinking"]}}
                if logprobs and not message.get("content"):
                    choice["logprobs"] = _chat_logprobs(logprobs)
                yield self._chunk([{**choice, "finish_reason": None}])
            if message.get("content"):
                choice = {"index": 0, "delta": {"content": message["content"]}}
                if logprobs:
                    choice["logprobs"] = _chat_logprobs(logprobs)
                yield self._chunk([{**choice, "finish_reason": None}])
            if message.get("tool_calls"):
                calls = _openai_calls(message["tool_calls"], calls_sent)
                calls_sent += len(calls)
                yield self._chunk(
                    [{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": None}]
                )
            if item.get("done"):
                reason = _finish_reason(item, calls_sent > 0)
                yield self._chunk([{"index": 0, "delta": {}, "finish_reason": reason}])
                if self.include_usage:
                    yield self._chunk([], usage=_usage(item))

    def completion(self, result: dict[str, Any]) -> dict[str, Any]:
        message = result.get("message") or {}
        out: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
        if message.get("thinking"):
            out["reasoning"] = message["thinking"]
        calls = message.get("tool_calls") or []
        if calls:
            out["tool_calls"] = _openai_calls(calls, 0)
        logprobs = result.get("logprobs")
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_hearth",
            "choices": [
                {
                    "index": 0,
                    "message": out,
                    "logprobs": _chat_logprobs(logprobs) if logprobs else None,
                    "finish_reason": _finish_reason(result, bool(calls)),
                }
            ],
            "usage": _usage(result),
        }


class CompletionStream(Translation):
    """Ollama generate objects -> OpenAI text completion chunks."""

    PREFIX = "cmpl"

    def __init__(self, model: str, include_usage: bool = False) -> None:
        super().__init__(model, include_usage)
        self.offset = 0  # characters of text sent so far, for ``text_offset``

    def _chunk(
        self, text: str, reason: str | None, logprobs: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        choice = {"text": text, "index": 0, "logprobs": self._logprobs(logprobs)}
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_hearth",
            "choices": [{**choice, "finish_reason": reason}],
        }

    def _logprobs(self, entries: list[dict[str, Any]] | None) -> dict[str, Any] | None:
        """The legacy completions shape: parallel lists, alternatives as token -> logprob."""
        if not entries:
            return None
        offsets = []
        for entry in entries:
            offsets.append(self.offset)
            self.offset += len(entry["token"])
        return {
            "tokens": [entry["token"] for entry in entries],
            "token_logprobs": [entry["logprob"] for entry in entries],
            "top_logprobs": [
                {alt["token"]: alt["logprob"] for alt in entry.get("top_logprobs", ())}
                for entry in entries
            ],
            "text_offset": offsets,
        }

    def chunks(self, objects: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in objects:
            if item.get("done"):
                yield self._chunk("", _finish_reason(item, False))
                if self.include_usage:
                    yield {**self._chunk("", None), "choices": [], "usage": _usage(item)}
            elif item.get("response"):
                yield self._chunk(item["response"], None, item.get("logprobs"))

    def completion(self, result: dict[str, Any]) -> dict[str, Any]:
        text = result.get("response", "")
        body = self._chunk(text, _finish_reason(result, False), result.get("logprobs"))
        body["usage"] = _usage(result)
        return body


def embeddings_response(model: str, result: dict[str, Any], encoding: str) -> dict[str, Any]:
    """``/api/embed``'s result as OpenAI's list; ``base64`` packs each vector as float32."""
    data = []
    for index, vector in enumerate(result["embeddings"]):
        if encoding == "base64":
            packed = struct.pack(f"<{len(vector)}f", *vector)
            embedding: Any = base64.b64encode(packed).decode()
        else:
            embedding = vector
        data.append({"object": "embedding", "embedding": embedding, "index": index})
    tokens = int(result.get("prompt_eval_count", 0))
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def model_object(entry: dict[str, Any]) -> dict[str, Any]:
    """One ``/api/tags`` entry as an OpenAI model object."""
    created = datetime.fromisoformat(entry["modified_at"].replace("Z", "+00:00"))
    return {
        "id": entry["name"],
        "object": "model",
        "created": int(created.timestamp()),
        "owned_by": parse_name(entry["name"]).namespace,
    }
