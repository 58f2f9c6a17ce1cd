"""Reading a blob's response body fast: one reused, page-aligned buffer per connection."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from typing import Any

import requests

from app.models.blob_file import ALIGN, aligned_buffer

_FAST_FILL = 0.005
_SLOW_FILL = 0.05


def body_chunks(
    response: requests.Response, size: int, at: int = 0, most: int | None = None
) -> Iterator[bytes | memoryview]:
    """The response body in chunks of ``size`` bytes and up, each valid until the next.

    Why: on a fast link the Python work per chunk, not the network, sets
    the pull speed. Reading straight into one reused buffer through the
    underlying ``http.client`` response skips urllib3's per-read copies and
    generator layers, which made parallel parts markedly faster than
    ``iter_content`` (bench/README.md, "Pull design measurements"). Bodies
    with a content coding, or a urllib3 without that attribute, take the
    general path. Read failures surface as ``requests.ConnectionError``, as
    they do from ``iter_content``, so the caller retries them the same way.

    Chunk size: a chunk read and handled (written, hashed, paced by a
    bandwidth cap) within ``_FAST_FILL`` seconds doubles the next one, up
    to ``most``; one slower than ``_SLOW_FILL`` halves it, down to
    ``size`` (both in whole 4 KiB blocks). So a fast link gets few, large
    writes (``O_DIRECT`` pays per call) and a slow or capped one still
    reports progress in small steps and notices a cancel within a fraction
    of a second.

    ``at`` is the file offset of the body's first byte. The buffer is
    page-aligned and each chunk sits in it at ``at``'s offset within a
    block, so file blocks and memory pages line up and ``BlobFile`` can
    write the chunk's whole blocks uncached; chunks after the first end
    on block boundaries.
    """
    raw: Any = getattr(response.raw, "_fp", None)
    coded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    if coded or not callable(getattr(raw, "readinto", None)):
        yield from response.iter_content(size)
        return
    least = max(ALIGN, size // ALIGN * ALIGN)  # whole blocks, at least one
    largest = max(least, (most or least) // ALIGN * ALIGN)
    buffer, lead = aligned_buffer(largest), at % ALIGN
    target = least
    while True:
        end = target  # over ``lead``: it is under one block, ``target`` at least one
        filled = lead
        began = time.monotonic()
        failure: BaseException | None = None
        while filled < end:
            try:
                # Reads of ``least``: a read that fails loses what it had taken in.
                count = raw.readinto(buffer[filled : min(end, filled + least)])
            except (OSError, http.client.HTTPException) as error:
                failure = error
                break
            if not count:
                break
            filled += count
        if filled > lead:
            yield buffer[lead:filled]  # what arrived before a failure is kept, too
        if failure is not None:
            raise requests.ConnectionError(f"reading the blob failed: {failure!r}") from failure
        if filled < end:
            return
        took = time.monotonic() - began  # the whole round: read, then the caller's write and pacing
        if took < _FAST_FILL:
            target = min(largest, target * 2)
        elif took > _SLOW_FILL:
            target = max(least, target // 2 // ALIGN * ALIGN)
        lead = 0
