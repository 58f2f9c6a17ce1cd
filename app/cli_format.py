"""How the terminal commands print sizes, times and tables (one look for list, ps, pulls)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


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
