"""OpenAI requests as Ollama requests: the one conversion on the way in.

Why here, at the web edge: the runner and the manager know one request shape,
Ollama's, as in Ollama, where OpenAI is a middleware in front of the same
handlers (``openai/openai.go``). Defaults follow OpenAI (temperature and
top_p 1.0), not Ollama's native 0.8 / 0.9. Images keep their data: URL whole,
so the MIME type the client gave reaches llama-server.
"""

from __future__ import annotations

import json
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


def embed_request(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An OpenAI embeddings request as an Ollama ``/api/embed`` request, and its encoding."""
    raw = body.get("input")
    if raw == "":
        raw = [""]
    if raw == [] or raw is None:
        raise BadRequest("invalid input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in {"float", "base64"}:
        raise BadRequest("encoding_format must be float or base64")
    return {
        "model": body.get("model"),
        "input": raw,
        "dimensions": body.get("dimensions"),
    }, encoding
