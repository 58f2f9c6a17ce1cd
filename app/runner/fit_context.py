"""Fitting a long conversation into a slot's context, as Ollama does.

Ollama renders each prompt itself, and when a chat no longer fits
``num_ctx`` it leaves out the oldest messages: every system message and
the last message stay, whatever their length (``truncate: false`` turns
this off). Without it, a conversation that grows past the context fails
at every later turn, which in a chat window means a chat that cannot go on.

Hearth lets llama-server render the template, so it cannot count tokens
before sending without paying two extra round trips on every request.
Instead the fitting runs only after llama-server has refused a prompt as
too long: a chat that fits pays nothing, one that does not pays a binary
search of a few template-and-tokenize round trips (``count``).

Pure logic: the token counting is handed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# What Ollama counts for one image when it decides what fits (its CLIP
# estimate); llama-server's exact figure depends on the projector.
IMAGE_TOKENS = 768
OVERFLOW_ERROR = "exceed_context_size_error"

Messages = list[dict[str, Any]]


def answer_reserve(ctx: int, n_predict: int) -> int:
    """Room left for the answer when a chat had to be cut.

    Why any room: llama-server has no context shift here, so a prompt that
    fills the slot leaves the answer a token or two. A quarter of the
    context, or the requested ``num_predict`` when that is smaller.
    """
    return max(1, min(ctx // 4, n_predict if n_predict > 0 else ctx))


LEAST_ANSWER_ROOM = 256
"""Room an answer keeps at the least when the system prompt, tools and last turn
take more of the context than ``answer_reserve`` would leave."""


def prompt_limits(ctx: int, n_predict: int) -> tuple[int, int]:
    """(budget, most): the prompt size a cut chat aims for, and the most it may take.

    Ollama keeps the system prompt, the tools and the last message whenever
    they fit ``num_ctx``; a chat client's hidden tools can take most of a
    context (Open WebUI's are some 5,000 tokens), and such a chat, answered
    on its first turn, must not fail on a later one only because the cut
    wants room for a long answer. So the last turn alone may go up to ``most``.
    """
    reserve = answer_reserve(ctx, n_predict)
    return ctx - reserve, ctx - max(1, min(reserve, LEAST_ANSWER_ROOM))


def fitted_messages(
    messages: Messages, budget: int, count: Callable[[Messages], int], most: int | None = None
) -> Messages | None:
    """The longest tail of ``messages`` whose prompt ``count``s at most ``budget`` tokens.

    System messages before the cut are kept, as is the last message. A cut
    falls only before a user message, because chat templates (Gemma's among
    them) refuse a conversation whose first turn is the assistant's. When
    even the last turn is over ``budget``, it alone is kept if it is within
    ``most`` (``prompt_limits``); None when not.
    """
    last = len(messages) - 1
    starts = [i for i in range(1, last + 1) if messages[i].get("role") == "user"]
    if not starts or starts[-1] != last:
        starts.append(last)

    def kept(start: int) -> Messages:
        systems = [m for m in messages[:start] if m.get("role") == "system"]
        return systems + messages[start:]

    # Fewer messages never count more tokens, so the first start that fits
    # is found by bisection over the candidates.
    shortest = count(kept(starts[-1]))
    if shortest > budget:
        return kept(starts[-1]) if most is not None and shortest <= most else None
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high) // 2
        if count(kept(starts[middle])) <= budget:
            high = middle
        else:
            low = middle + 1
    return kept(starts[low])


def text_only(message: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A message with its image parts left out, for counting; and how many there were."""
    content = message.get("content")
    if not isinstance(content, list):
        return message, 0
    texts = [part.get("text", "") for part in content if part.get("type") == "text"]
    images = sum(1 for part in content if part.get("type") == "image_url")
    return {**message, "content": "".join(texts)}, images
