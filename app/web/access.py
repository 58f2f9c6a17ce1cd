"""LAN mode: an access token, generated once, stored only as a salted hash.

Binding anywhere but loopback exposes Hearth to the network, so every
request must then carry the token: ``Authorization: Bearer <token>`` (what
Ollama and OpenAI clients send), or a ``hearth_token`` cookie that a browser
gets by opening ``/?token=<token>`` once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from pathlib import Path

COOKIE = "hearth_token"


def _hash(token: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", token.encode(), bytes.fromhex(salt), 200_000).hex()


class AccessToken:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "access-token.json"

    def exists(self) -> bool:
        return self.path.is_file()

    def create(self) -> str:
        """Make a new token (replacing any old one); the plain text is returned once."""
        token = secrets.token_urlsafe(24)
        salt = secrets.token_hex(16)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps({"salt": salt, "hash": _hash(token, salt)}))
        os.chmod(temp, 0o600)
        os.replace(temp, self.path)
        return token

    def verifier(self) -> Verifier:
        return Verifier(self.path)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when the token file is replaced (``os.replace`` gives a new inode)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


class Verifier:
    """Checks tokens; remembers ones already seen so each costs one hash only once.

    ``hearth token --reset`` writes a new file while the server runs; each
    check compares the file's inode, mtime and size (one ``stat``, no
    hashing) with the loaded ones and reloads on a change, forgetting every
    token accepted before. So a reset takes effect at once: the old token
    gets 401 from the next request on. A file that vanished or cannot be
    read keeps the last good token rather than opening the door.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self.salt = ""
        self.digest = ""
        self._accepted: set[str] = set()
        self._reload()
        if not self.digest:
            raise OSError(f"no access token stored in {path}")

    def _reload(self) -> None:
        stamp = _stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return
        try:
            stored = json.loads(self.path.read_text())
            salt, digest = str(stored["salt"]), str(stored["hash"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # half-written or damaged: keep the token we have
        with self._lock:
            self._stamp, self.salt, self.digest = stamp, salt, digest
            self._accepted = set()

    def check(self, token: str | None) -> bool:
        if not token:
            return False
        self._reload()
        with self._lock:
            salt, digest, accepted = self.salt, self.digest, self._accepted
        if token in accepted:
            return True
        if hmac.compare_digest(_hash(token, salt), digest):
            with self._lock:
                if self.digest == digest:
                    self._accepted.add(token)
            return True
        return False
