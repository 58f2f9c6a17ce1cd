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
        stored = json.loads(self.path.read_text())
        return Verifier(stored["salt"], stored["hash"])


class Verifier:
    """Checks tokens; remembers ones already seen so each costs one hash only once."""

    def __init__(self, salt: str, digest: str) -> None:
        self.salt = salt
        self.digest = digest
        self._accepted: set[str] = set()

    def check(self, token: str | None) -> bool:
        if not token:
            return False
        if token in self._accepted:
            return True
        if hmac.compare_digest(_hash(token, self.salt), self.digest):
            self._accepted.add(token)
            return True
        return False
