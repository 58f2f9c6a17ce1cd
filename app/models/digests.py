"""sha256 digests: the only strings allowed to name a blob on disk.

A digest is checked against a strict pattern before it is ever joined to
a path, so no request or manifest can steer a file outside ``blobs/``
(the 2024 "Probllama" traversal in Ollama came from skipping this).
"""

from __future__ import annotations

import re

from app.models.errors import InvalidDigest

_DIGEST = re.compile(r"sha256[:-]([0-9a-fA-F]{64})")


def parse_digest(text: object) -> str:
    """Canonical ``sha256:<64 lowercase hex>``; accepts ``sha256-<hex>`` too."""
    if not isinstance(text, str):
        raise InvalidDigest()
    match = _DIGEST.fullmatch(text)
    if match is None:
        raise InvalidDigest()
    return "sha256:" + match.group(1).lower()


def blob_filename(digest: str) -> str:
    """``sha256-<hex>``, the file name Ollama uses (':' is not allowed on Windows)."""
    return parse_digest(digest).replace(":", "-")
