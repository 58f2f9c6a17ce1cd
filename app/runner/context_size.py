"""The default context (``num_ctx``) of a model: as large as memory allows, within reason.

Why not a fixed 4096: a chat client's hidden additions come before the
user's first word. Open WebUI's page adds its built-in tools to every chat
(28 tool definitions, about 5,000 to 7,000 tokens), so at 4096 its very
first "Hi" cannot fit. Ollama answers such a prompt anyway by cutting it
from the front; Hearth refuses a prompt that cannot fit, in words naming
``num_ctx`` (``app.runner.generation._too_long``), so the default must leave
room for such a prompt where the machine has it. Ollama itself now picks
its default from memory (4k, 32k or 256k by VRAM); Hearth does the same
from what the model's KV cache really costs.

Pure logic: the metadata and memory figures are handed in.
"""

from __future__ import annotations

from typing import Any

FLOOR = 4096
"""Ollama's default context, and Hearth's where memory is short."""
STEPS = (32768, 16384, 8192)
"""Larger defaults, tried largest first."""
GIB = 2**30
KV_BYTES = 2
"""llama-server keeps the KV cache in f16 unless told otherwise."""


def _first_int(value: Any) -> int | None:
    """An int metadata value, or the largest of a per-layer array."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return max(value)
    return None


def kv_bytes_per_token(metadata: dict[str, Any]) -> int | None:
    """Bytes of KV cache one token of context costs one slot; None when the GGUF does not say.

    ``block_count`` layers, each keeping a key and a value per KV head
    (``head_count_kv``, ``key_length``/``value_length``, which default to
    the embedding width split over the heads). An upper bound for models
    with sliding-window layers (Gemma 3), whose cache llama-server keeps smaller.
    """
    family = metadata.get("general.architecture", "")

    def key(name: str) -> int | None:
        return _first_int(metadata.get(f"{family}.{name}"))

    layers, heads = key("block_count"), key("attention.head_count")
    if not layers or not heads:
        return None
    kv_heads = key("attention.head_count_kv") or heads
    width = key("embedding_length")
    key_length = key("attention.key_length") or (width // heads if width else None)
    value_length = key("attention.value_length") or key_length
    if not key_length or not value_length:
        return None
    return layers * kv_heads * (key_length + value_length) * KV_BYTES


def auto_context(kv_per_token: int | None, model_bytes: int, available: int, parallel: int) -> int:
    """The largest of ``STEPS`` whose KV cache for every slot fits, else ``FLOOR``.

    "Fits": the cache of all ``parallel`` slots takes at most half of the
    memory left after the weights and 1 GiB, so a larger default never
    crowds out a second loaded model or the rest of the machine. Unknown
    cache size: ``FLOOR``. The model's training context caps it afterwards.
    """
    if not kv_per_token:
        return FLOOR
    spare = (available - model_bytes - GIB) // 2
    for size in STEPS:
        if parallel * size * kv_per_token <= spare:
            return size
    return FLOOR
