"""Counting a text's tokens with a model that is already loaded, for attachments.

Why only a loaded one: counting an attached document must be quick and must
not start (or replace) a model of several gigabytes; when the chat's model is
not running the caller shows an estimate and says it is one. Any config of
the model will do (the tokenizer is in the GGUF, not in the launch flags).
"""

from __future__ import annotations

from app.runner.errors import RunnerError
from app.runner.llama_client import LlamaClient
from app.runner.scheduler import Scheduler

TOKENIZE_TIMEOUT = 60.0


def count_with_loaded(scheduler: Scheduler, digest: str, text: str) -> int | None:
    """Tokens of ``text`` by a loaded llama-server of model ``digest``; None when none is loaded."""
    for runner in scheduler.loaded():
        if runner.spec.digest != digest or runner.failed or not runner.server.alive():
            continue
        client = LlamaClient(runner.server)
        try:
            # parse_special off: a document that contains "<|im_start|>" is text, not a turn.
            tokens = client.tokenize(
                text, add_special=False, parse_special=False, timeout=TOKENIZE_TIMEOUT
            )
        except RunnerError:
            continue  # stopped meanwhile, or busy past the timeout: try another or estimate
        return len(tokens)
    return None
