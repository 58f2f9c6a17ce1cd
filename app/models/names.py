"""Ollama model names: ``host/namespace/model:tag`` with Ollama's defaults.

Parsing goes right to left as Ollama does. Each part is checked against a
strict character set before it is used as a directory name, so a name can
never reach outside ``manifests/``.
"""

from __future__ import annotations

import re

from app.models.errors import InvalidName
from app.spec import DEFAULT_HOST, DEFAULT_NAMESPACE, ModelName

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_NAMESPACE",
    "ModelName",
    "parse_name",
    "same_model",
    "valid_parts",
]

DEFAULT_TAG = "latest"
HF_HOSTS = {"hf.co", "huggingface.co"}

_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}")
_MODEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
_TAG = _MODEL


def parse_name(text: str) -> ModelName:
    """Parse and validate a model name; raises ``InvalidName``."""
    if not isinstance(text, str) or not text or len(text) > 600:
        raise InvalidName()
    rest = text
    scheme = "https"
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme not in {"http", "https"}:
            raise InvalidName()
    tag = DEFAULT_TAG
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    parts = rest.split("/")
    if len(parts) == 1:
        host, namespace, model = DEFAULT_HOST, DEFAULT_NAMESPACE, parts[0]
    elif len(parts) == 2:
        host, namespace, model = DEFAULT_HOST, parts[0], parts[1]
    elif len(parts) == 3:
        host, namespace, model = parts
    else:
        raise InvalidName()
    if host.lower() == "huggingface.co":
        host = "hf.co"
    if not valid_parts(host, namespace, model, tag):
        raise InvalidName()
    return ModelName(host, namespace, model, tag, scheme)


def valid_parts(host: str, namespace: str, model: str, tag: str) -> bool:
    """Whether all four parts are safe, valid path components (also used on disk names)."""
    checks = ((_HOST, host), (_NAMESPACE, namespace), (_MODEL, model), (_TAG, tag))
    for pattern, part in checks:
        if not pattern.fullmatch(part) or part in {".", ".."}:
            return False
    return ".." not in host


def same_model(a: ModelName, b: ModelName) -> bool:
    return a.folded() == b.folded()
