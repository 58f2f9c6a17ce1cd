"""Where the benchmarks keep their raw numbers: ``bench/results/<name>.json``.

One place for the folder and the format, so every benchmark's results land
beside the others (the folder is ignored by git: results are per machine).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def save_results(name: str, results: Any, indent: int | None = 2) -> str:
    """Write ``results`` as JSON to ``bench/results/<name>.json``; returns the text written,
    for the benchmarks that also print it."""
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(results, indent=indent)
    (RESULTS / f"{name}.json").write_text(text)
    return text
