"""Ollama's requests, typed: read once at the edge from the JSON a client sent.

Why: a request used to travel as ``dict[str, Any]`` and each room read and
checked the fields it needed (``app.hearth``, ``app.models.manager``,
``app.runner.generation``, ``app.runner.templated``, ``app.runner.vision``).
Here every field has one name and each check one place: the ``checked_*``
methods. They are called at the points of a request's life where the checks
always ran (after the model is resolved, before the model loads), so
``parse`` itself never refuses a body and a bad field gets the same
:class:`app.errors.BadRequest` in the same words as before.

Fields stay ``Any`` where the client's value is passed on as sent, or
checked later by one of the ``checked_*`` methods; the methods return the
checked, typed value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self

from app.errors import BadRequest
from app.options import validate_options

MAX_TOP_LOGPROBS = 20
MAX_CONTEXT_TOKENS = 1 << 20
"""A bound on the deprecated ``context`` of ``/api/generate`` (token ids of an earlier answer)."""
_ABSENT: Any = object()


def _key(name: str) -> dict[str, str]:
    """Field metadata: the JSON key, where it is no Python name (``from``)."""
    return {"key": name}


@dataclass(frozen=True)
class _Body:
    """A request as the client sent it: a field per key Hearth reads (others are ignored)."""

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Self:
        """Each field from its key (its name, or ``metadata["key"]``), or its default."""
        return cls(
            **{f.name: body.get(f.metadata.get("key", f.name), f.default) for f in fields(cls)}
        )


@dataclass(frozen=True)
class _Streamed(_Body):
    """A request answered as a stream of objects unless ``stream`` is false."""

    stream: Any = True

    @property
    def wants_stream(self) -> bool:
        """Ollama streams unless ``stream`` is explicitly false (or null)."""
        return self.stream is not False and self.stream is not None


@dataclass(frozen=True)
class RunRequest(_Body):
    """What every request that runs a model shares: the model, its options, how long it stays."""

    model: Any = None
    options: Any = None
    keep_alive: Any = None

    def checked_options(self) -> dict[str, Any]:
        """``options`` checked name by name (``app.options``): known names, right types."""
        options = self.options or {}
        if not isinstance(options, dict):
            raise BadRequest("options must be an object")
        return validate_options(options)


@dataclass(frozen=True)
class _Request(RunRequest, _Streamed):
    """Fields ``/api/chat`` and ``/api/generate`` share, as the client sent them."""

    system: Any = _ABSENT
    format: Any = None
    think: Any = None
    truncate: Any = None
    images: Any = None
    logprobs: Any = None
    top_logprobs: Any = None

    def system_or(self, default: Any) -> Any:
        """The request's ``system`` when it has the key (even null), else ``default``."""
        return default if self.system is _ABSENT else self.system

    @property
    def system_text(self) -> Any:
        """``system`` as a value (None when absent)."""
        return self.system_or(None)

    @property
    def truncates(self) -> bool:
        """Older messages may be left out unless ``truncate`` is explicitly false."""
        return self.truncate is not False

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


@dataclass(frozen=True)
class EmbedRequest(RunRequest):
    """An Ollama ``/api/embed`` request (the OpenAI edge makes one too)."""

    input: Any = None
    truncate: Any = True
    dimensions: Any = None

    @property
    def truncates(self) -> bool:
        """A too-long input is cut to the context unless ``truncate`` is explicitly false."""
        return self.truncate is not False

    def checked_inputs(self) -> list[str]:
        """``input``: one text or a list of texts (none when absent or empty)."""
        raw = self.input
        if raw is None or raw == "":
            return []
        if isinstance(raw, str):
            return [raw]
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return list(raw)
        raise BadRequest("invalid input type")

    def checked_dimensions(self) -> int | None:
        dimensions = self.dimensions
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions <= 0
        ):
            raise BadRequest("dimensions must be a positive integer")
        return dimensions


@dataclass(frozen=True)
class EmbeddingsRequest(RunRequest):
    """The legacy ``/api/embeddings`` request: one ``prompt``, one vector."""

    prompt: Any = None

    def checked_prompt(self) -> str:
        prompt = self.prompt or ""
        if not isinstance(prompt, str):
            raise BadRequest("prompt must be a string")
        return prompt


@dataclass(frozen=True)
class ModelRequest(_Body):
    """A request naming one stored model: ``model``, or the older ``name`` Ollama still reads.

    ``/api/delete``, and Hearth's ``DELETE /api/pulls``, are just this.
    """

    model: Any = None
    name: Any = None

    @property
    def model_name(self) -> Any:
        """The name as sent (the library's ``parse`` says when it is missing or invalid)."""
        return self.model or self.name


@dataclass(frozen=True)
class ShowRequest(ModelRequest):
    verbose: Any = None

    @property
    def is_verbose(self) -> bool:
        return bool(self.verbose)


@dataclass(frozen=True)
class CopyRequest(_Body):
    source: Any = None
    destination: Any = None


@dataclass(frozen=True)
class PullRequest(ModelRequest, _Streamed):
    insecure: Any = None

    @property
    def allows_insecure(self) -> bool:
        """Plain HTTP or an unverified certificate is allowed only when asked for."""
        return bool(self.insecure)


@dataclass(frozen=True)
class CreateRequest(ModelRequest, _Streamed):
    """An Ollama ``/api/create`` request: the new model's name and the layers it is made of."""

    from_: Any = field(default=None, metadata=_key("from"))
    files: Any = None
    adapters: Any = None
    template: Any = None
    system: Any = None
    parameters: Any = None
    license: Any = None
    messages: Any = None
    modelfile: Any = _ABSENT
    quantize: Any = None
    quantization: Any = None

    def check_supported(self) -> None:
        """A 400 in words for the forms of create Hearth does not do."""
        if self.modelfile is not _ABSENT and not (self.files or self.from_):
            raise BadRequest("the Modelfile form of create is not supported; use 'files' or 'from'")
        if self.quantize or self.quantization:
            raise BadRequest("quantize is not supported yet")
