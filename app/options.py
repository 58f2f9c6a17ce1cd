"""Ollama's ``options`` (requests) and ``parameters`` (create, params layer).

Known names are type-checked (integers may arrive as integral floats, as JSON
from JavaScript often does); obsolete names the official client still sends
are dropped with a log line; unknown names are dropped too, as Ollama does.
"""

from __future__ import annotations

import logging
from typing import Any

from app.errors import BadRequest

log = logging.getLogger(__name__)

OPTION_TYPES: dict[str, type] = {
    # load-time
    "num_ctx": int,
    "num_batch": int,
    "num_gpu": int,
    "main_gpu": int,
    "use_mmap": bool,
    "num_thread": int,
    "draft_num_predict": int,
    # per request
    "num_keep": int,
    "seed": int,
    "num_predict": int,
    "top_k": int,
    "top_p": float,
    "min_p": float,
    "typical_p": float,
    "temperature": float,
    "repeat_penalty": float,
    "repeat_last_n": int,
    "presence_penalty": float,
    "frequency_penalty": float,
    "stop": list,
}
LOAD_TIME_OPTIONS = frozenset(
    {"num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "draft_num_predict"}
)
"""Changing one of these means restarting llama-server with new arguments."""
OBSOLETE_OPTIONS = frozenset(
    {
        "numa",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mlock",
        "embedding_only",
        "tfs_z",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "penalize_newline",
    }
)
_TYPE_WORDS = {int: "integer", float: "float", bool: "boolean", list: "array of strings"}


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is list:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
    raise BadRequest(f'option "{name}" must be of type {_TYPE_WORDS[kind]}')


def validate_options(options: dict[str, Any], *, lenient: bool = False) -> dict[str, Any]:
    """Cleaned options: known names with checked types; ``None`` values dropped.

    ``lenient`` is for params layers already on disk (pulled or created by
    another program): a value of the wrong type is dropped with a warning
    instead of making the whole model unusable.
    """
    if not isinstance(options, dict):
        raise BadRequest("options must be an object")
    cleaned: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        kind = OPTION_TYPES.get(name)
        if kind is None:
            reason = "obsolete" if name in OBSOLETE_OPTIONS else "unknown"
            log.warning("ignoring %s option %r", reason, name)
            continue
        try:
            cleaned[name] = _coerce(name, value, kind)
        except BadRequest as error:
            if not lenient:
                raise
            log.warning("ignoring stored parameter: %s", error)
    return cleaned
