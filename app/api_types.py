"""Ollama's requests, typed: read once at the edge from the JSON a client sent.

Why: a request used to travel as ``dict[str, Any]`` and each room read and
checked the fields it needed (``app.hearth``, ``app.models.manager``,
``app.runner.generation``, ``app.runner.templated``, ``app.runner.vision``).
Here every field has one name, and its type annotation is the one statement
of the JSON it may hold: ``parse`` refuses a value of another type at once
(``<key> must be <what>``, :mod:`app.json_fields`), as Ollama's decoder does
before anything else happens.

What a type cannot say (a range, names inside ``options``, ``raw`` with a
``template``) is checked by a ``checked_*`` method at the point of the
request's life where it always was (after the model is resolved, before the
model loads). ``Any`` is left where the value takes several shapes and the
module using it gives the words (``format``, ``think``, ``keep_alive``,
``tool_choice``, embed's ``input``, create's layers, which
``app.models.create`` checks as the library's own API).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

from app.errors import BadRequest
from app.json_fields import json_key, read_fields, words
from app.options import validate_options

MAX_TOP_LOGPROBS = 20
MAX_CONTEXT_TOKENS = 1 << 20
"""A bound on the deprecated ``context`` of ``/api/generate`` (token ids of an earlier answer)."""
_ABSENT: Any = object()


@dataclass(frozen=True)
class _Body:
    """A request as the client sent it: a field per key Hearth reads (others are ignored)."""

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Self:
        """Each field from its key, checked against the field's type, or its default."""
        return cls(**read_fields(cls, body))


@dataclass(frozen=True)
class _Streamed(_Body):
    """A request answered as a stream of objects unless ``stream`` is false."""

    stream: bool | None = True

    @property
    def wants_stream(self) -> bool:
        """Ollama streams unless ``stream`` is explicitly false (or null)."""
        return self.stream is not False and self.stream is not None


@dataclass(frozen=True)
class RunRequest(_Body):
    """What every request that runs a model shares: the model, its options, how long it stays."""

    model: str | None = None
    options: dict[str, Any] | None = None
    keep_alive: Any = None
    """A duration string ("5m"), seconds, or negative for ever (``app.keep_alive``)."""

    def checked_options(self) -> dict[str, Any]:
        """``options`` checked name by name (``app.options``): known names, right types."""
        return validate_options(self.options or {})


@dataclass(frozen=True)
class _Request(RunRequest, _Streamed):
    """Fields ``/api/chat`` and ``/api/generate`` share, as the client sent them."""

    system: str | None = _ABSENT
    format: Any = None
    """"json" or a JSON schema (``app.runner.translate.format_body`` says when neither)."""
    think: Any = None
    """true/false, or a level ("high") for models that take one (``think_body``)."""
    truncate: bool | None = None
    images: list[str] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None

    def system_or(self, default: str | None) -> str | None:
        """The request's ``system`` when it has the key (even null), else ``default``."""
        return default if self.system is _ABSENT else self.system

    @property
    def system_text(self) -> str | None:
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
        top = self.top_logprobs
        if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
            raise BadRequest(f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}")
        return (top or 0) if self.logprobs else None


@dataclass(frozen=True)
class ChatRequest(_Request):
    """An Ollama ``/api/chat`` request."""

    messages: list[Any] | None = None
    """Each message is checked where it is converted (``translate.chat_messages``)."""
    tools: list[Any] | None = None
    tool_choice: Any = None
    """OpenAI's: "auto", "none", "required" or one function (``tool_choice_body``)."""

    @property
    def has_images(self) -> bool:
        return bool(self.images) or any(
            isinstance(message, dict) and message.get("images") for message in self.messages or []
        )

    @property
    def tool_list(self) -> list[Any]:
        """The tools (empty when none)."""
        return self.tools or []


@dataclass(frozen=True)
class GenerateRequest(_Request):
    """An Ollama ``/api/generate`` request."""

    prompt: str | None = None
    suffix: str | None = None
    template: str | None = None
    raw: bool | None = None
    context: list[int] | None = field(default=None, metadata=words("a list of token ids"))

    @property
    def is_raw(self) -> bool:
        return bool(self.raw)

    @property
    def has_images(self) -> bool:
        return bool(self.images)

    @property
    def prompt_text(self) -> str:
        return self.prompt or ""

    def check_raw(self) -> None:
        if self.is_raw and (self.template or self.system_text or self.context):
            raise BadRequest("raw mode does not support template, system, or context")

    def checked_context(self) -> list[int]:
        """The deprecated ``context``: token ids from an earlier answer."""
        value = self.context or []
        if any(token < 0 for token in value):
            raise BadRequest("context must be a list of token ids")
        if len(value) > MAX_CONTEXT_TOKENS:
            raise BadRequest("context is too long")
        return value


@dataclass(frozen=True)
class EmbedRequest(RunRequest):
    """An Ollama ``/api/embed`` request (the OpenAI edge makes one too)."""

    input: Any = None
    """One text or a list of texts (``checked_inputs`` gives Ollama's words)."""
    truncate: bool | None = True
    dimensions: int | None = field(default=None, metadata=words("a positive integer"))

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
        if self.dimensions is not None and self.dimensions <= 0:
            raise BadRequest("dimensions must be a positive integer")
        return self.dimensions


@dataclass(frozen=True)
class EmbeddingsRequest(RunRequest):
    """The legacy ``/api/embeddings`` request: one ``prompt``, one vector."""

    prompt: str | None = None

    @property
    def prompt_text(self) -> str:
        return self.prompt or ""


@dataclass(frozen=True)
class ModelRequest(_Body):
    """A request naming one stored model: ``model``, or the older ``name`` Ollama still reads.

    ``/api/delete``, and Hearth's ``DELETE /api/pulls``, are just this.
    """

    model: str | None = None
    name: str | None = None

    @property
    def model_name(self) -> str | None:
        """The name as sent (the library's ``parse`` says when it is missing or invalid)."""
        return self.model or self.name


@dataclass(frozen=True)
class ShowRequest(ModelRequest):
    verbose: bool | None = None

    @property
    def is_verbose(self) -> bool:
        return bool(self.verbose)


@dataclass(frozen=True)
class CopyRequest(_Body):
    source: str | None = None
    destination: str | None = None


@dataclass(frozen=True)
class PullRequest(ModelRequest, _Streamed):
    insecure: bool | None = None

    @property
    def allows_insecure(self) -> bool:
        """Plain HTTP or an unverified certificate is allowed only when asked for."""
        return bool(self.insecure)


@dataclass(frozen=True)
class CreateRequest(ModelRequest, _Streamed):
    """An Ollama ``/api/create`` request: the new model's name and the layers it is made of.

    The layers stay as sent: ``app.models.create`` checks each (it is also
    the library's API), in words that name the layer.
    """

    from_: Any = field(default=None, metadata=json_key("from"))
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
