"""OpenAI's chat/completions/embeddings shapes onto the Ollama-shaped manager.

The OpenAI routes are thin translations, as in Ollama: a request becomes an
Ollama request (so both APIs share one manager, scheduler and runner), and
Ollama's stream objects become OpenAI chunks. Defaults follow OpenAI
(temperature and top_p 1.0), not Ollama's native 0.8 / 0.9.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

from app.errors import BadRequest

_EFFORT = {"none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_EFFORT.update({"max": "max", "xhigh": "max", "ultra": "max"})


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
    }
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    for name in ("seed", "frequency_penalty", "presence_penalty"):
        if body.get(name) is not None:
            options[name] = body[name]
    stop = body.get("stop")
    if stop is not None:
        options["stop"] = [stop] if isinstance(stop, str) else stop
    return {key: value for key, value in options.items() if value is not None}


def _format(body: dict[str, Any]) -> Any:
    response_format = body.get("response_format")
    if not response_format:
        return None
    if not isinstance(response_format, dict):
        raise BadRequest("response_format must be an object")
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise BadRequest("response_format.json_schema.schema must be an object")
        return schema
    if kind in (None, "text"):
        return None
    raise BadRequest(f"unsupported response_format type {kind!r}")


def _image(part: dict[str, Any]) -> str:
    """The whole data: URL, so the MIME type its sender gave reaches llama-server."""
    url = (part.get("image_url") or {}).get("url", "")
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise BadRequest("only base64 data: URLs are supported for images")
    return url


def _message(message: Any, index: int, tool_names: dict[str, str]) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise BadRequest(f"messages[{index}] must be an object")
    role = message.get("role")
    if role == "developer":
        role = "system"
    content = message.get("content")
    images: list[str] = []
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict):
                raise BadRequest(f"messages[{index}].content parts must be objects")
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                images.append(_image(part))
            else:
                raise BadRequest(f"unsupported content part type {part.get('type')!r}")
        content = "\n".join(texts)
    elif content is None:
        content = ""
    elif not isinstance(content, str):
        raise BadRequest(f"messages[{index}].content must be a string or a list of parts")
    out: dict[str, Any] = {"role": role, "content": content}
    if images:
        out["images"] = images
    if message.get("reasoning") or message.get("reasoning_content"):
        out["thinking"] = message.get("reasoning") or message.get("reasoning_content")
    calls = message.get("tool_calls")
    if role == "assistant" and calls:
        out["tool_calls"] = []
        for call in calls:
            function = call.get("function") or {}
            arguments = function.get("arguments") or "{}"
            try:
                parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
            except ValueError:
                raise BadRequest("tool call arguments must be a JSON string") from None
            if call.get("id"):
                tool_names[call["id"]] = function.get("name", "")
            out["tool_calls"].append(
                {
                    "id": call.get("id"),
                    "function": {"name": function.get("name"), "arguments": parsed},
                }
            )
    if role == "tool":
        call_id = message.get("tool_call_id")
        if call_id:
            out["tool_call_id"] = call_id
        name = message.get("name") or tool_names.get(call_id or "")
        if name:
            out["tool_name"] = name
    return out


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat completion request as an Ollama ``/api/chat`` request."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("[] is too short - 'messages'")
    tool_names: dict[str, str] = {}
    request: dict[str, Any] = {
        "model": body.get("model"),
        "messages": [_message(m, i, tool_names) for i, m in enumerate(messages)],
        "options": _options(body),
        "format": _format(body),
    }
    if body.get("tools"):
        request["tools"] = body["tools"]
        if body.get("tool_choice") is not None:
            request["tool_choice"] = body["tool_choice"]
    if body.get("logprobs") is not None:
        request["logprobs"] = body["logprobs"]
    if body.get("top_logprobs") is not None:
        request["top_logprobs"] = body["top_logprobs"]
    effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        if not isinstance(effort, str) or effort not in _EFFORT:
            raise BadRequest(f"invalid reasoning_effort {effort!r}")
        request["think"] = _EFFORT[effort]
    return request


def completion_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI text completion request as an Ollama ``/api/generate`` (raw) request."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]  # the openai client's list form, as Ollama accepts it
    elif isinstance(prompt, list):
        raise BadRequest("prompt: one prompt per request is supported (a string or a list of one)")
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string")
    request: dict[str, Any] = {
        "model": body.get("model"),
        "prompt": prompt,
        "raw": True,
        "options": _options(body),
    }
    if body.get("suffix"):
        request["suffix"] = body["suffix"]
    logprobs = body.get("logprobs")
    if logprobs is not None:
        # The legacy API's ``logprobs`` is the number of alternatives (0-5).
        if isinstance(logprobs, bool) or not isinstance(logprobs, int) or not 0 <= logprobs <= 5:
            raise BadRequest("logprobs must be an integer from 0 to 5")
        request["logprobs"] = True
        request["top_logprobs"] = logprobs
    return request


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


class ChatStream:
    """Ollama chat objects -> OpenAI chat completion chunks (or one completion)."""

    def __init__(self, model: str, include_usage: bool = False) -> None:
        self.id = f"chatcmpl-{secrets.token_hex(6)}"
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage

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


class CompletionStream:
    """Ollama generate objects -> OpenAI text completion chunks."""

    def __init__(self, model: str, include_usage: bool = False) -> None:
        self.id = f"cmpl-{secrets.token_hex(6)}"
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
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
    import base64
    import struct

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
