"""Downloading one blob: resumable, parallel, verified, in Ollama's on-disk layout.

One module a job: ``tuning`` (knobs and counters), ``parts`` (the split and
its records on disk), ``ramp`` (how many connections, how fast),
``hashing`` (the sha256 that follows the download, the background flush),
``body`` (reading a response into one reused buffer) and ``blob`` (the
download itself, one per blob per process). The pull (``app.models.pull``)
uses the names below.
"""

from app.models.download.blob import BlobDownload, claim
from app.models.download.body import body_chunks
from app.models.download.parts import Part, load_parts, partial_path, plan_parts, saved_progress
from app.models.download.ramp import ConnectionRamp, RateLimiter
from app.models.download.tuning import PullStats, PullTuning

__all__ = [
    "BlobDownload",
    "ConnectionRamp",
    "Part",
    "PullStats",
    "PullTuning",
    "RateLimiter",
    "body_chunks",
    "claim",
    "load_parts",
    "partial_path",
    "plan_parts",
    "saved_progress",
]
