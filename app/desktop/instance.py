"""One Hearth per data directory: a second launch focuses the first.

An OS file lock (released by the kernel however the holder dies, so a crash
never leaves a stale lock) guards the data directory; the holder publishes
its URL next to it, and a second launch asks that URL to bring the window
to the front instead of starting a second server on the same database.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import IO

import requests


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.lock_path = data_dir / "hearth.lock"
        self.info_path = data_dir / "instance.json"
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        """True when this process now owns the data directory."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a+")
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def publish(self, url: str) -> None:
        temp = self.info_path.with_suffix(".tmp")
        temp.write_text(json.dumps({"pid": os.getpid(), "url": url}))
        os.replace(temp, self.info_path)

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.info_path.unlink()
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the lock
            self._handle = None


def running_url(data_dir: Path) -> str | None:
    try:
        return str(json.loads((data_dir / "instance.json").read_text())["url"])
    except (OSError, ValueError, KeyError):
        return None


def focus_running(data_dir: Path) -> bool:
    """Ask the running instance to show its window; False if it did not answer."""
    url = running_url(data_dir)
    if url is None:
        return False
    try:
        reply = requests.post(f"{url}/desktop/focus", timeout=5)
    except requests.RequestException:
        return False
    return reply.status_code == 200
