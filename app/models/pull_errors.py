"""Errors a pull can end with, worded like Ollama's where Ollama has a message.

Clients (the ``ollama`` CLI, Open WebUI) show these texts to people, so
they say what went wrong and, where it helps, what to do about it.
"""

from __future__ import annotations

from app.models.errors import BadRequest, HearthError


class PullError(HearthError):
    """Base class for everything that can stop a pull."""

    status = 500


class InsecureProtocol(BadRequest):
    def __init__(self) -> None:
        super().__init__("insecure protocol http")


class ManifestNotFound(PullError):
    # Ollama answers a missing manifest with a 500 and this text; clients match on it.
    def __init__(self) -> None:
        super().__init__("pull model manifest: file does not exist")


class RegistryError(PullError):
    """The registry answered with an error status or something we cannot use."""


class Unauthorized(PullError):
    def __init__(self, message: str = "unauthorized: access denied") -> None:
        super().__init__(message)


class UnsafeRedirect(PullError):
    """A redirect we refuse to follow (another scheme, an https→http downgrade)."""


class UnsupportedModel(PullError):
    """A manifest we can parse but cannot run (safetensors/MLX tensor layers)."""


class BlobSizeMismatch(PullError):
    def __init__(self, digest: str, want: int, got: int) -> None:
        super().__init__(
            f"size mismatch for {digest}: the manifest says {want} bytes, the registry has {got}"
        )


class BlobDigestMismatch(PullError):
    def __init__(self, want: str, got: str) -> None:
        super().__init__(f"digest mismatch, file must be downloaded again: want {want}, got {got}")


class DownloadFailed(PullError):
    """A part failed on every attempt (network down, registry gone)."""


class NotEnoughSpace(PullError):
    status = 507

    def __init__(self, need: int, free: int, where: str) -> None:
        super().__init__(
            f"not enough disk space in {where}: the pull needs {_gb(need)}, {_gb(free)} is free"
        )


class DiskFull(PullError):
    status = 507


class PullCancelled(PullError):
    status = 499

    def __init__(self) -> None:
        super().__init__("pull cancelled; downloaded parts are kept and the next pull resumes")


def _gb(size: int) -> str:
    if size >= 10**9:
        return f"{size / 10**9:.1f} GB"
    return f"{size / 10**6:.1f} MB"
