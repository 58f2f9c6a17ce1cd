"""Translating between Ollama's request/response shapes and llama-server's.

Pure functions, no I/O: Ollama options and messages become a llama-server
``/v1/chat/completions`` or ``/completion`` body; llama-server's finish
information becomes Ollama's ``done_reason`` and nanosecond metrics.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from app.errors import BadRequest
from app.runner.vision import data_url

# Ollama always sends its own sampling defaults so neither the GGUF's nor
# llama-server's apply; a compatible server must do the same.
OLLAMA_SAMPLING_DEFAULTS: dict[str, Any] = {
    "temperature": 0.8,
    "top_k": 40,
    "top_p": 0.9,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_penalty": 1.0,
    "repeat_last_n": 64,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "seed": -1,
}
# Ollama option name -> llama-server field name (same name when absent).
_SAMPLING_FIELDS = {
    "temperature": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "repeat_penalty": "repeat_penalty",
    "repeat_last_n": "repeat_last_n",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "seed": "seed",
    "num_keep": "n_keep",
}


def now_rfc3339() -> str:
    """UTC time with microseconds and a ``Z``, as Go clients and pydantic accept."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def sampling_body(options: dict[str, Any], num_ctx: int) -> dict[str, Any]:
    """llama-server sampling fields from merged Ollama options."""
    merged = {**OLLAMA_SAMPLING_DEFAULTS, **options}
    body: dict[str, Any] = {}
    for name, field_name in _SAMPLING_FIELDS.items():
        if merged.get(name) is not None:
            body[field_name] = merged[name]
    if body.get("repeat_last_n") == -1:
        body["repeat_last_n"] = num_ctx
    num_predict = merged.get("num_predict")
    if num_predict is not None and int(num_predict) >= 0:
        body["n_predict"] = int(num_predict)
    else:
        body["n_predict"] = 10 * num_ctx  # Ollama's bound on "until stop"
    stop = merged.get("stop")
    if stop:
        body["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return body


def format_body(fmt: Any) -> dict[str, Any]:
    """Ollama ``format`` ("json" or a JSON Schema object) to llama-server fields."""
    if fmt in (None, ""):
        return {}
    if fmt == "json":
        return {"response_format": {"type": "json_object"}}
    if isinstance(fmt, dict):
        return {"response_format": {"type": "json_schema", "json_schema": {"schema": fmt}}}
    if isinstance(fmt, str):
        try:
            schema = json.loads(fmt)
        except ValueError:
            raise BadRequest(f"invalid format: {fmt!r}") from None
        if isinstance(schema, dict):
            return format_body(schema)
    raise BadRequest('format must be "json" or a JSON schema object')


def think_body(think: Any, capabilities: list[str]) -> dict[str, Any]:
    """Ollama ``think`` to chat-template switches; thinking splits out by default."""
    if think is None:
        return {}
    if isinstance(think, bool):
        if think and "thinking" not in capabilities:
            raise _NoThinking()
        return {"chat_template_kwargs": {"enable_thinking": think}}
    if isinstance(think, str) and think in {"low", "medium", "high", "max"}:
        if "thinking" not in capabilities:
            raise _NoThinking()
        return {"chat_template_kwargs": {"enable_thinking": True, "reasoning_effort": think}}
    raise BadRequest(f"invalid think value: {think!r}")


class _NoThinking(BadRequest):
    def __init__(self) -> None:
        super().__init__("model does not support thinking")


def chat_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """Ollama chat messages to OpenAI-style messages for llama-server."""
    if not isinstance(messages, list):
        raise BadRequest("messages must be a list")
    converted = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{index}] must be an object")
        role = str(message.get("role", "")).lower()
        if role not in {"system", "user", "assistant", "tool"}:
            raise BadRequest(f"messages[{index}]: invalid role {message.get('role')!r}")
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise BadRequest(f"messages[{index}].content must be a string")
        out: dict[str, Any] = {"role": role, "content": content}
        images = message.get("images") or []
        if not isinstance(images, list):
            raise BadRequest(f"messages[{index}].images must be a list of base64 strings")
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": content}]
            for number, image in enumerate(images):
                if not isinstance(image, str):
                    raise BadRequest(f"messages[{index}].images must be base64 strings")
                url = data_url(image, f"messages[{index}].images[{number}]")
                parts.append({"type": "image_url", "image_url": {"url": url}})
            out["content"] = parts
        if message.get("thinking"):
            if not isinstance(message["thinking"], str):
                raise BadRequest(f"messages[{index}].thinking must be a string")
            out["reasoning_content"] = message["thinking"]
        if role == "assistant" and message.get("tool_calls"):
            out["tool_calls"] = [
                _tool_call_out(call, i) for i, call in enumerate(message["tool_calls"])
            ]
        if role == "tool":
            if message.get("tool_call_id"):
                out["tool_call_id"] = message["tool_call_id"]
            if message.get("tool_name"):
                out["name"] = message["tool_name"]
        converted.append(out)
    return converted


def _tool_call_out(call: dict[str, Any], index: int) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments", {})
    return {
        "id": call.get("id") or f"call_{index}",
        "type": "function",
        "function": {
            "name": function.get("name", ""),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


def tool_call_in(call: dict[str, Any]) -> dict[str, Any]:
    """An accumulated llama-server tool call to Ollama's shape (arguments as an object)."""
    text = call.get("arguments") or "{}"
    try:
        arguments = json.loads(text)
    except ValueError:
        arguments = {"_raw": text}
    result: dict[str, Any] = {
        "function": {
            "index": call.get("index", 0),
            "name": call.get("name", ""),
            "arguments": arguments,
        }
    }
    if call.get("id"):
        result["id"] = call["id"]
    return result


def done_reason(finish_reason: str | None, stop_type: str | None = None) -> str:
    if finish_reason == "length" or stop_type == "limit":
        return "length"
    return "stop"


def metrics(timings: dict[str, Any] | None, total_ns: int, load_ns: int) -> dict[str, int]:
    """Ollama's final-chunk counts and nanosecond durations; zeros are omitted."""
    timings = timings or {}
    values = {
        "total_duration": total_ns,
        "load_duration": load_ns,
        "prompt_eval_count": int(timings.get("cache_n", 0)) + int(timings.get("prompt_n", 0)),
        "prompt_eval_duration": int(float(timings.get("prompt_ms", 0)) * 1e6),
        "eval_count": int(timings.get("predicted_n", 0)),
        "eval_duration": int(float(timings.get("predicted_ms", 0)) * 1e6),
    }
    return {key: value for key, value in values.items() if value}


def logprobs_body(top: int | None, chat: bool) -> dict[str, Any]:
    """llama-server's fields for logprobs: at least one probability must be asked for.

    Why ``max(1, top)``: llama-server reports a token's own log probability
    only when it computes some top-N list (``n_probs`` 0 means none at all).
    """
    if top is None:
        return {}
    n_probs = max(1, top)
    return {"logprobs": True, "top_logprobs": n_probs} if chat else {"n_probs": n_probs}


def logprobs_in(entries: Any, top: int) -> list[dict[str, Any]]:
    """llama-server's per-token probability entries in Ollama's shape.

    llama-server: ``{"id", "token", "bytes", "logprob", "top_logprobs": [...]}``;
    Ollama: the same without ``id``, ``top_logprobs`` only when asked for.
    """
    out: list[dict[str, Any]] = []
    for entry in entries or ():
        item = _token_logprob(entry)
        if top:
            alternatives = entry.get("top_logprobs", ())[:top]
            item["top_logprobs"] = [_token_logprob(alt) for alt in alternatives]
        out.append(item)
    return out


def _token_logprob(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": entry.get("token", ""),
        "logprob": float(entry.get("logprob", 0.0)),
        "bytes": list(entry.get("bytes") or ()),
    }
