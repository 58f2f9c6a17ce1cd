"""Typed chat and generate requests, read once at the edge from Ollama's JSON.

Why: the request used to travel as ``dict[str, Any]`` and each room read
and checked the fields it needed (``app.hearth``, ``app.runner.generation``,
``app.runner.translate``). Here every field has one name and one place
that says what it must be. The checks stay at the points of a request's
life where they always ran (after the model is resolved, before the model
loads), so ``parse`` itself never refuses a body: each ``checked_*``
method raises the same :class:`app.errors.BadRequest` as before, where it
is called. Lower layers that still take a dict get :attr:`body`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self

from app.errors import BadRequest

MAX_TOP_LOGPROBS = 20
MAX_CONTEXT_TOKENS = 1 << 20
"""A bound on the deprecated ``context`` of ``/api/generate`` (token ids of an earlier answer)."""
_ABSENT: Any = object()


@dataclass(frozen=True)
class _Request:
    """Fields ``/api/chat`` and ``/api/generate`` share, as the client sent them."""

    body: dict[str, Any] = field(repr=False)
    """The JSON object itself, for the layers that still read a dict."""
    model: Any = None
    system: Any = _ABSENT
    format: Any = None
    think: Any = None
    options: Any = None
    keep_alive: Any = None
    stream: Any = True
    truncate: Any = None
    images: Any = None
    logprobs: Any = None
    top_logprobs: Any = None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Self:
        """Each field from the key of its name, or the field's default when absent."""
        values = {f.name: body.get(f.name, f.default) for f in fields(cls) if f.name != "body"}
        return cls(body=body, **values)

    def system_or(self, default: Any) -> Any:
        """The request's ``system`` when it has the key (even null), else ``default``."""
        return default if self.system is _ABSENT else self.system

    @property
    def system_text(self) -> Any:
        """``system`` as a value (None when absent)."""
        return self.system_or(None)

    @property
    def wants_stream(self) -> bool:
        """Ollama streams unless ``stream`` is explicitly false (or null)."""
        return self.stream is not False and self.stream is not None

    @property
    def truncates(self) -> bool:
        """Older messages may be left out unless ``truncate`` is explicitly false."""
        return self.truncate is not False

    def checked_options(self) -> dict[str, Any]:
        """``options`` as an object (not yet checked name by name)."""
        options = self.options or {}
        if not isinstance(options, dict):
            raise BadRequest("options must be an object")
        return options

    def checked_logprobs(self) -> int | None:
        """How many alternatives per token the request asks for; None for no logprobs.

        Ollama's fields: ``logprobs`` (bool) and ``top_logprobs`` (0-20, only
        meaningful with ``logprobs``).
        """
        wanted, top = self.logprobs, self.top_logprobs
        if wanted is not None and not isinstance(wanted, bool):
            raise BadRequest("logprobs must be true or false")
        if top is not None and (
            isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_LOGPROBS
        ):
            raise BadRequest(f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}")
        return (top or 0) if wanted else None


@dataclass(frozen=True)
class ChatRequest(_Request):
    """An Ollama ``/api/chat`` request."""

    messages: Any = None
    tools: Any = None
    tool_choice: Any = None

    @property
    def has_images(self) -> bool:
        return bool(self.images) or _messages_have_images(self.messages)

    def checked_messages(self) -> list[dict[str, Any]] | None:
        if self.messages is not None and not isinstance(self.messages, list):
            raise BadRequest("messages must be a list")
        return self.messages

    def checked_tools(self) -> list[Any]:
        """The tools (empty when none); checked only where llama-server gets them."""
        if not self.tools:
            return []
        if not isinstance(self.tools, list):
            raise BadRequest("tools must be a list")
        return self.tools


@dataclass(frozen=True)
class GenerateRequest(_Request):
    """An Ollama ``/api/generate`` request."""

    prompt: Any = None
    suffix: Any = None
    template: Any = None
    raw: Any = None
    context: Any = None

    @property
    def is_raw(self) -> bool:
        return bool(self.raw)

    @property
    def has_images(self) -> bool:
        return bool(self.images)

    def check_raw(self) -> None:
        if self.is_raw and (self.template or self.system_text or self.context):
            raise BadRequest("raw mode does not support template, system, or context")

    def checked_prompt(self) -> str:
        prompt = self.prompt or ""
        if not isinstance(prompt, str):
            raise BadRequest("prompt must be a string")
        return prompt

    def checked_suffix(self) -> str | None:
        if self.suffix is not None and not isinstance(self.suffix, str):
            raise BadRequest("suffix must be a string")
        return self.suffix

    def checked_context(self) -> list[int]:
        """The deprecated ``context``: token ids from an earlier answer."""
        value = self.context
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(token, int) and not isinstance(token, bool) and token >= 0 for token in value
        ):
            raise BadRequest("context must be a list of token ids")
        if len(value) > MAX_CONTEXT_TOKENS:
            raise BadRequest("context is too long")
        return value


def _messages_have_images(messages: Any) -> bool:
    return isinstance(messages, list) and any(
        isinstance(message, dict) and message.get("images") for message in messages
    )
