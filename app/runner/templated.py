"""Which requests Hearth prompts itself with a Go template, and their messages.

Ollama's rule is that a model's ``template`` layer wins over the GGUF's
own chat template. Ollama's library ships Go templates, which llama-server
cannot read, so for those Hearth renders the prompt (``ollama_prompt``)
and sends it to llama-server's ``/completion``; the model's ``stop``
parameters end the answer, as in Ollama. A model with no template at all
stays on llama-server's ChatML fallback, with the ChatML end markers as
stop strings (``fallback_stops``, ``app.chat_templates``).

Left on llama-server's native chat path (``/v1/chat/completions``, the
GGUF's Jinja template), by choice:

- requests with images: llama-server places them with its multimodal
  chat handling, which a raw prompt does not have here;
- requests with tools when the GGUF has a Jinja template: llama-server
  parses the model's tool calls back out of the text; Hearth does not
  (with only a Go template, tools are rendered via ``.Tools`` and the
  answer comes back as text).
"""

from __future__ import annotations

from typing import Any

from app.api_types import ChatRequest, GenerateRequest
from app.chat_templates import FALLBACK_STOP, is_go_template, uses_fallback
from app.spec import RunSpec


def go_template_for(
    spec: RunSpec, request: ChatRequest | GenerateRequest, override: str | None = None
) -> str | None:
    """The Go template Hearth renders a request with; None for llama-server's chat path.

    ``override``: a request's own ``template`` (``/api/generate``), which
    Ollama lets replace the model's.
    """
    if request.has_images:
        return None
    native = bool(spec.metadata.get("tokenizer.chat_template"))
    if isinstance(request, ChatRequest) and request.tools and native:
        return None
    if override:
        return override
    if is_go_template(spec.template):
        return str(spec.template)
    return None


def fallback_stops(spec: RunSpec) -> tuple[str, ...]:
    """Stop strings for a chat on llama-server's ChatML fallback (a model with no template)."""
    return FALLBACK_STOP if uses_fallback(spec.template, spec.metadata) else ()


def chat_messages(spec: RunSpec, request: ChatRequest) -> list[dict[str, Any]]:
    """Ollama's chat messages: the model's seed messages, the request's, a system first.

    The model's system prompt is put first when the conversation does not
    start with a system message (what ``_chat_body`` does for llama-server).
    """
    messages = list(spec.messages or []) + list(request.messages or [])
    system = request.system_or(spec.system)
    if system and (not messages or messages[0].get("role") != "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


def generate_messages(spec: RunSpec, request: GenerateRequest, prompt: str) -> list[dict[str, Any]]:
    """Ollama's ``/api/generate`` as messages: system, the model's seed messages, the prompt.

    As Ollama does, the seed messages are left out when the request
    carries an earlier answer's ``context``.
    """
    messages: list[dict[str, Any]] = []
    system = request.system_text or spec.system
    if system:
        messages.append({"role": "system", "content": system})
    if not request.context:
        messages += list(spec.messages or [])
    messages.append({"role": "user", "content": prompt})
    return messages


def fallback_options(
    spec: RunSpec, options: dict[str, Any], request_options: dict[str, Any]
) -> dict[str, Any]:
    """Merged options with the ChatML stops added for a model without any template.

    The stops count as the model's own (as a params layer's ``stop`` would),
    so a request that sets ``stop`` itself replaces them, as in Ollama.
    """
    if "stop" in request_options:
        return options
    return with_stops(options, fallback_stops(spec))


def with_stops(options: dict[str, Any], extra: tuple[str, ...]) -> dict[str, Any]:
    """Options with ``extra`` stop strings added to the model's and the request's."""
    if not extra:
        return options
    stop = options.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    return {**options, "stop": stop + [s for s in extra if s not in stop]}


def as_chat_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """A ``/api/generate`` stream object as the ``/api/chat`` one with the same text."""
    out: dict[str, Any] = {
        "model": chunk["model"],
        "created_at": chunk["created_at"],
        "message": {"role": "assistant", "content": chunk.get("response", "")},
    }
    out.update({k: v for k, v in chunk.items() if k not in {"model", "created_at", "response"}})
    out.pop("context", None)
    return out
