"""The runner's errors: llama-server missing, failing, refusing or breaking off.

``RunnerError`` and ``UpstreamRejected`` are request failures with a status
(:class:`app.errors.HearthError`). ``LlamaServerFailed`` and
``LlamaServerNotFound`` are process failures: they stay ``RuntimeError`` subclasses,
which the generation code turns into a ``RunnerError`` and the CLI into words.
"""

from __future__ import annotations

from app.errors import HearthError, HearthException


class LlamaServerNotFound(HearthException, RuntimeError):
    """No llama-server binary could be found anywhere we look."""


class LlamaServerFailed(HearthException, RuntimeError):
    """llama-server exited or never became healthy; carries its log tail."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        detail = (
            f"{message}\n--- llama-server log (last lines) ---\n{log_tail}" if log_tail else message
        )
        super().__init__(detail)
        self.short = message


class RunnerError(HearthError):
    """llama-server failed to load or stopped while answering."""

    status = 500


class UpstreamRejected(HearthError):
    """llama-server refused the request (bad field, prompt longer than the context).

    ``kind`` is llama-server's error type (e.g. ``exceed_context_size_error``).
    """

    def __init__(self, status: int, message: str, kind: str = "") -> None:
        super().__init__(message)
        client_fault = any(text in message for text in CLIENT_FAULTS)
        self.status = 400 if status < 500 or client_fault else 500
        self.kind = kind


CLIENT_FAULTS = (
    "Infill is not supported",
    "image input is not supported",
    "audio input is not supported",
    "Failed to parse messages",
)
"""llama-server answers these with a 500, yet the request asked what the model cannot
do (a suffix without infill tokens, images without a projector): a 400 says whose it is."""
