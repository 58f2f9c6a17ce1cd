"""What kind of chat template a model has, and what happens when it has none.

A model's prompt format comes from one of three places, in Ollama's order:
its ``template`` layer (a Go template in Ollama's library, or a Jinja one
that a person supplied), else the GGUF's ``tokenizer.chat_template``
(Jinja, rendered by llama-server), else nothing. With nothing, llama-server
silently uses ChatML, and a model that never learnt ChatML writes
``<|im_end|>`` as text and runs on to the length limit. Hearth keeps that
ChatML prompt (Ollama's own default, a bare ``{{ .Prompt }}``, gives a
chat no turns at all) but stops the answer at the ChatML markers, and
says so when the model is created and shown.
"""

from __future__ import annotations

from typing import Any

_GO_MARKERS = ("{{ .", "{{.", "{{- .", "{{ if .", "{{- if .", "{{ range .", "{{- range .")

FALLBACK_STOP = ("<|im_end|>", "<|im_start|>")
"""Stop strings for the fallback: the answer ends at the end-of-turn marker, never shows it."""

NO_TEMPLATE_NOTE = (
    "this model has no chat template; chats will use a plain ChatML fallback "
    "(<|im_start|>role ... <|im_end|>) that stops at <|im_end|>; "
    "give it a TEMPLATE for its own prompt format"
)


def uses_fallback(template: str | None, metadata: dict[str, Any]) -> bool:
    """Whether llama-server's chat path would prompt this model with its ChatML fallback.

    True when neither a Jinja template layer nor the GGUF gives llama-server
    a template (a Go layer is Hearth's to render, not llama-server's).
    """
    jinja_layer = bool(template) and is_jinja_template(str(template))
    return not jinja_layer and not metadata.get("tokenizer.chat_template")


def is_jinja_template(text: str) -> bool:
    """Jinja (what llama-server renders) rather than an Ollama Go template."""
    return ("{%" in text or "messages" in text) and not any(m in text for m in _GO_MARKERS)


def is_go_template(text: str | None) -> bool:
    """A non-empty template layer that is not Jinja: Hearth renders it itself."""
    return bool(text) and not is_jinja_template(str(text))


def has_chat_template(template: str | None, metadata: dict[str, Any]) -> bool:
    """Whether the model has any template: a layer, or the GGUF's own."""
    return bool(template) or bool(metadata.get("tokenizer.chat_template"))
