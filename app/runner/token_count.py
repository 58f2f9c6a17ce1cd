"""Counting a text's tokens with a model that is already loaded, for attachments.

Why only a loaded one: counting an attached document must be quick and must
not start (or replace) a model of several gigabytes; when the chat's model is
not running the caller shows an estimate and says it is one. Any config of
the model will do (the tokenizer is in the GGUF, not in the launch flags).
"""

from __future__ import annotations

import requests

from app.runner.scheduler import Scheduler

TOKENIZE_TIMEOUT = 60.0


def count_with_loaded(scheduler: Scheduler, digest: str, text: str) -> int | None:
    """Tokens of ``text`` by a loaded llama-server of model ``digest``; None when none is loaded."""
    for runner in scheduler.loaded():
        if runner.spec.digest != digest or runner.failed or not runner.server.alive():
            continue
        server = runner.server
        try:
            reply = server.session.post(
                f"{server.base_url}/tokenize",
                # parse_special off: a document that contains "<|im_start|>" is text, not a turn.
                json={"content": text, "add_special": False, "parse_special": False},
                timeout=TOKENIZE_TIMEOUT,
            )
            reply.raise_for_status()
            return len(reply.json()["tokens"])
        except (requests.RequestException, ValueError, KeyError, TypeError):
            continue  # stopped meanwhile, or busy past the timeout: try another or estimate
    return None
