"""The model catalogue shipped with Hearth, and "fits your memory" hints.

Why shipped: the Discover view must work offline, and the Ollama library has no
stable search API. ``catalogue.json`` lists popular library models with the
facts a person needs to choose one (sizes, capabilities, download size).

The hint is deliberately rough: a model needs about its download size in memory
for the weights, plus room for the KV cache and compute buffers. We add
``KV_MARGIN_FRACTION`` of the size with at least ``KV_MARGIN_MIN`` bytes, and
compare with the larger of RAM and the biggest GPU's memory (llama.cpp can run
from either; splitting across both is not counted, so the hint errs on the
side of "tight").
"""

from __future__ import annotations

import json
from collections.abc import Set
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.models.names import DEFAULT_HOST

CATALOGUE_PATH = Path(__file__).with_name("catalogue.json")
KV_MARGIN_FRACTION = 0.2
KV_MARGIN_MIN = 512 * 2**20
COMFORT_FRACTION = 0.75
"""Above this share of memory a model still loads but leaves little for the rest."""


@lru_cache(maxsize=1)
def load_catalogue() -> dict[str, Any]:
    """The shipped catalogue, read once (it never changes while running)."""
    return json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))


def memory_needed(download_size: int) -> int:
    """Bytes a model of ``download_size`` needs loaded: weights plus a KV margin."""
    return download_size + max(KV_MARGIN_MIN, int(download_size * KV_MARGIN_FRACTION))


def fit_hint(download_size: int, memory: int) -> str:
    """``fits``, ``tight`` or ``too_large`` for a model against ``memory`` bytes."""
    needed = memory_needed(download_size)
    if memory <= 0:
        return "unknown"
    if needed <= memory * COMFORT_FRACTION:
        return "fits"
    if needed <= memory:
        return "tight"
    return "too_large"


def memory_basis(hardware: dict[str, Any]) -> dict[str, Any]:
    """Which memory the hints compare against, from the doctor's hardware report."""
    ram = int(hardware.get("memory_total") or 0)
    vram = max((int(gpu.get("memory_total") or 0) for gpu in hardware.get("gpus") or []), default=0)
    return {"ram": ram, "vram": vram or None, "memory": max(ram, vram)}


def _matches(entry: dict[str, Any], query: str, capability: str) -> bool:
    if capability and capability not in entry["capabilities"]:
        return False
    if not query:
        return True
    haystack = " ".join([entry["name"], entry["description"], *entry["capabilities"]]).lower()
    return all(word in haystack for word in query.lower().split())


def pull_name(name: str, registry: str | None) -> str:
    """The name a pull of catalogue model ``name`` uses: short for Ollama's own registry."""
    if not registry or registry == DEFAULT_HOST:
        return name
    return f"{registry}/library/{name}"


def catalogue_with_hints(
    hardware: dict[str, Any],
    registry: str | None = None,
    query: str = "",
    capability: str = "",
    installed: Set[str] = frozenset(),
) -> dict[str, Any]:
    """The catalogue filtered by ``query``/``capability``, each tag with its fit hint.

    ``installed`` holds model names (``name:tag``) already in the store, so the
    view can say "installed" instead of offering a pull.
    """
    basis = memory_basis(hardware)
    models = []
    for entry in load_catalogue()["models"]:
        if not _matches(entry, query.strip(), capability.strip()):
            continue
        tags = []
        for tag in entry["tags"]:
            name = f"{entry['name']}:{tag['tag']}"
            tags.append(
                {
                    **tag,
                    "name": name,
                    "memory_needed": memory_needed(tag["size"]),
                    "fit": fit_hint(tag["size"], basis["memory"]),
                    "pull": pull_name(name, registry),
                    "installed": pull_name(name, registry) in installed,
                }
            )
        models.append({**entry, "tags": tags})
    capabilities = sorted({c for e in load_catalogue()["models"] for c in e["capabilities"]})
    return {
        "registry": registry or DEFAULT_HOST,
        "memory": basis,
        "capabilities": capabilities,
        "models": models,
    }
