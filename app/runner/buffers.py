"""Where a loaded model's memory went, read from llama-server's own load log.

llama.cpp logs each buffer it allocates, per device, while it loads
(at ``-lv 4``; see ``LaunchConfig.arguments``)::

    load_tensors:   CPU_Mapped model buffer size =   170.00 MiB
    load_tensors: RPC0[127.0.0.1:50052] model buffer size =   117.58 MiB
    llama_kv_cache: RPC0[127.0.0.1:50052] KV buffer size =     6.00 MiB
    sched_reserve: RPC0[127.0.0.1:50052] compute buffer size =    19.52 MiB

Those are the figures llama.cpp decided on, so nothing is estimated: the
lines are summed per device (a model has several KV caches with sliding
windows) and ``CPU``, ``CPU_Mapped`` and ``CPU_REPACK`` count as this
machine. An ``RPC<n>[host:port]`` device is device ``n`` of that worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_LINE = re.compile(
    r"(?P<device>[A-Za-z][\w.-]*(?:\[[^\]\s]+\])?)\s+(?P<kind>model|KV|compute|output)"
    r" buffer size =\s+(?P<size>\d+(?:\.\d+)?) MiB"
)
_RPC = re.compile(r"^RPC\d+\[(?P<endpoint>[^\]]+)\]$")
_KINDS = {
    "model": "model_bytes",
    "KV": "kv_bytes",
    "compute": "compute_bytes",
    "output": "compute_bytes",
}
MIB = 2**20


@dataclass
class DeviceBuffers:
    name: str
    worker: str | None
    model_bytes: int = 0
    kv_bytes: int = 0
    compute_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "worker": self.worker,
            "model_bytes": self.model_bytes,
            "kv_bytes": self.kv_bytes,
            "compute_bytes": self.compute_bytes,
        }


def _device(name: str) -> tuple[str, str | None]:
    if match := _RPC.match(name):
        return name, match["endpoint"]
    if name.startswith("CPU"):
        return "CPU", None
    return name, None


class BufferLog:
    """Collects buffer lines as the log goes by; ``devices()`` is the sum per device."""

    def __init__(self) -> None:
        self._devices: dict[str, DeviceBuffers] = {}

    def feed(self, line: str) -> None:
        match = _LINE.search(line)
        if match is None:
            return
        name, worker = _device(match["device"])
        entry = self._devices.setdefault(name, DeviceBuffers(name, worker))
        attribute = _KINDS[match["kind"]]
        setattr(entry, attribute, getattr(entry, attribute) + round(float(match["size"]) * MIB))

    def devices(self) -> list[dict[str, Any]]:
        return [entry.as_dict() for entry in self._devices.values()]
