"""The chat and generate handlers both model APIs share, as Ollama's ``server/routes.go``.

Why one path: Ollama serves OpenAI as a middleware in front of its own
handlers (``openai/openai.go``): the OpenAI request becomes an Ollama request
once, runs through the same handler, and the Ollama objects become OpenAI's
once on the way out. Here the handler runs the generation with the client
watched (:mod:`app.web.disconnect`: a client that leaves stops llama-server
at once) and hands the objects to the API's :class:`Reply`, streamed or as one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from flask import Response, current_app

from app.api_types import ChatRequest, GenerateRequest
from app.hearth import Hearth
from app.web.aggregate import aggregate_chat, aggregate_generate
from app.web.disconnect import watched_generation

Objects = Iterator[dict[str, Any]]
Aggregate = Callable[[Objects], dict[str, Any]]


def hearth() -> Hearth:
    """The app's :class:`app.hearth.Hearth`: every route reaches the same methods as the CLI."""
    return current_app.extensions["hearth"]


class Reply(Protocol):
    """How one API puts the Ollama objects a handler produced on the wire."""

    def stream(self, objects: Objects) -> Response:
        """The objects as they come (Ollama's NDJSON, OpenAI's server-sent events)."""

    def whole(self, result: dict[str, Any]) -> Response:
        """One object: the aggregate of a generation that was not streamed."""


def respond(objects: Objects, stream: bool, aggregate: Aggregate, reply: Reply) -> Response:
    """``objects`` streamed when ``stream``, else aggregated into one, closed either way."""
    if stream:
        return reply.stream(objects)
    try:
        result = aggregate(objects)
    finally:
        objects.close()  # type: ignore[attr-defined]
    return reply.whole(result)


def chat(request: ChatRequest, stream: bool, reply: Reply) -> Response:
    """An Ollama ``/api/chat`` request, run with its client watched."""
    objects = watched_generation(lambda abort: hearth().chat(request, abort))
    return respond(objects, stream, aggregate_chat, reply)


def generate(request: GenerateRequest, stream: bool, reply: Reply) -> Response:
    """An Ollama ``/api/generate`` request, run with its client watched."""
    objects = watched_generation(lambda abort: hearth().generate(request, abort))
    return respond(objects, stream, aggregate_generate, reply)
