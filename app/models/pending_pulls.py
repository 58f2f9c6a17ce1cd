"""``pulls.json``: the pulls to resume at the next start, and the blobs each one needs.

One object owns the file, so every change is a read-modify-write under one
lock. The app and a ``hearth pull`` in a terminal may share the file, so
each process writes it through a temporary name of its own and renames it
into place: a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class PendingPulls:
    """The pulls that are started and not yet finished or cancelled, by canonical name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(self, name: str, insecure: bool) -> None:
        """A pull of ``name`` started (or was joined); blobs already noted for it are kept."""
        with self._lock:
            current = self._read()
            known = current.get(name)
            blobs = known.get("blobs") if isinstance(known, dict) else None
            current[name] = {"insecure": insecure}
            if isinstance(blobs, list):
                current[name]["blobs"] = blobs
            self._write(current)

    def remove(self, name: str) -> None:
        """The pull of ``name`` is done, or the user cancelled it: nothing to resume."""
        with self._lock:
            current = self._read()
            current.pop(name, None)
            self._write(current)

    def note_blobs(self, name: str, digests: list[str]) -> None:
        """Note which blobs a pending pull needs: the start-up prune keeps their partials."""
        with self._lock:
            current = self._read()
            entry = current.get(name)
            if isinstance(entry, dict):
                entry["blobs"] = list(digests)
                self._write(current)

    def read(self) -> dict[str, dict[str, Any]]:
        """Every pending pull's entry (``insecure``, and ``blobs`` once its manifest came)."""
        with self._lock:
            return self._read()

    def replace(self, pending: dict[str, Any]) -> None:
        """Write ``pending`` as the whole file (at shutdown: what the next start resumes)."""
        with self._lock:
            self._write(pending)

    def resumable(self) -> list[tuple[str, bool]]:
        """(name, insecure) of each pending pull, for the next start to run again."""
        return [
            (name, bool(isinstance(info, dict) and info.get("insecure")))
            for name, info in self.read().items()
        ]

    def blobs_to_keep(self) -> set[str] | None:
        """Digests the pending pulls need, or None when some pull's blobs are not known yet."""
        keep: set[str] | None = set()
        for info in self.read().values():
            blobs = info.get("blobs") if isinstance(info, dict) else None
            if not isinstance(blobs, list) or keep is None:
                keep = None
                continue
            keep |= {digest for digest in blobs if isinstance(digest, str)}
        return keep

    def _write(self, pending: dict[str, Any]) -> None:
        # A temp name of this process's own: the app and a CLI pull share the file.
        temp = self.path.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(pending))
        os.replace(temp, self.path)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
