"""How the terminal commands print sizes, times, tables and a model (list, ps, pulls, show)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def human_size(size: int) -> str:
    """Bytes in decimal units, as Ollama prints them (``253 MB``)."""
    scaled = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if scaled < 1000 or unit == "TB":
            return f"{scaled:.0f} {unit}" if unit == "B" else f"{scaled:.1f} {unit}"
        scaled /= 1000
    return str(scaled)


def ago(stamp: str) -> str:
    """An RFC 3339 time as ``3 days ago``."""
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    seconds = (datetime.now(UTC) - then).total_seconds()
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = int(seconds // length)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    """Rows in columns padded to their widest cell, as ``ollama list`` prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "    ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def model_lines(info: dict[str, Any], verbose: bool = False) -> list[str]:
    """An ``/api/show`` answer as ``ollama show`` prints it (``hearth show`` and ``/show info``).

    ``verbose`` adds the GGUF metadata, as ``ollama show --verbose`` does; arrays
    (the tokenizer's vocabulary: hundreds of thousands of entries) print as ``[...]``.
    Hearth's ``warnings`` (say, no chat template) close the list, so the terminal
    says what the window and the API say.
    """
    details = info.get("details", {})
    lines = ["  Model"]
    for label, key in (
        ("architecture", "family"),
        ("parameters", "parameter_size"),
        ("quantization", "quantization_level"),
    ):
        lines.append(f"    {label:<16}{details.get(key, '')}")
    model_info = info.get("model_info", {})
    context = model_info.get(f"{details.get('family')}.context_length")
    if context:
        lines.append(f"    {'context length':<16}{context}")
    sections: list[tuple[str, list[str]]] = [
        ("Capabilities", list(info.get("capabilities") or [])),
        ("Parameters", str(info.get("parameters") or "").splitlines()),
        ("System", [info["system"]] if info.get("system") else []),
    ]
    if verbose:
        sections.append(("Metadata", _metadata_lines(model_info)))
    sections.append(("Warnings", list(info.get("warnings") or [])))
    for title, entries in sections:
        if entries:
            lines += ["", f"  {title}", *(f"    {entry}" for entry in entries)]
    return lines


def _metadata_lines(model_info: dict[str, Any]) -> list[str]:
    width = max((len(key) for key in model_info), default=0) + 2
    return [
        f"{key:<{width}}{'[...]' if isinstance(value, list) else value}"
        for key, value in model_info.items()
    ]
