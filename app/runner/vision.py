"""Images in a request: which models may take them, and the data: URLs llama-server reads.

Ollama's clients send images as bare base64 (``images``); OpenAI's as
``image_url`` parts holding ``data:`` URLs. llama-server's chat endpoint takes
only the latter and only with a ``data:image/...`` prefix (it decodes the bytes
whatever the MIME type says), so a bare image gets the type its first bytes
show and a data URL keeps the one its sender gave.

A model without a projector would have llama-server answer a 500 ("image input
is not supported") after loading the model for nothing: the refusal comes first,
in words, as a 400.
"""

from __future__ import annotations

import base64
import binascii

from app.api_types import ChatRequest, GenerateRequest
from app.errors import BadRequest
from app.spec import RunSpec

# Leading bytes -> MIME type, for the formats llama.cpp's image loader reads.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_FALLBACK_MIME = "image/png"
"""For bytes of no known kind; llama-server only needs the ``image/`` prefix and says
itself when the bytes are no image."""


def refuse_without_projector(spec: RunSpec, request: ChatRequest | GenerateRequest) -> None:
    """A 400 in words when ``request`` has images and the model cannot see them."""
    if request.has_images and not spec.projector_paths:
        raise BadRequest(
            f"{spec.display} does not support images: it is a text-only model with no "
            "vision projector. Choose a vision model, or send the message without images."
        )


def sniff_mime(data: bytes) -> str:
    """The image MIME type that ``data``'s first bytes show (PNG when unknown)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return _FALLBACK_MIME


def _decoded(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where} is not valid base64") from None


def data_url(image: str, where: str = "image") -> str:
    """An Ollama image (bare base64, or a ``data:`` URL kept from an OpenAI client) as
    the ``data:image/...;base64,`` URL llama-server takes."""
    if image.startswith("data:"):
        head, sep, payload = image.partition(",")
        if not sep or not head.endswith(";base64"):
            raise BadRequest(f"{where} must be a base64 data: URL")
        mime = head[len("data:") : -len(";base64")]
        data = _decoded(payload, where)
        if not mime.startswith("image/"):
            mime = sniff_mime(data)
        return f"data:{mime};base64,{payload}"
    return f"data:{sniff_mime(_decoded(image, where))};base64,{image}"
