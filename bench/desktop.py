"""Desktop app: launch to interactive page, and idle memory of the whole app.

    python bench/desktop.py [--runs 3]

Starts a private Xvfb, launches ``hearth`` (the window, Qt WebEngine on
Linux) with a fresh home, and measures from process start until the chat UI
in the window is interactive (its ``hearth:ready`` mark: settings, models and
chats loaded). After 5 idle seconds it sums memory
over the whole process tree (Python, Qt WebEngine's renderer, GPU and zygote
processes): RSS, which counts shared libraries once per process, and PSS,
which shares them out fairly and is the honest total.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent


def measure(display: str, home: Path) -> dict[str, float]:
    env = dict(os.environ, DISPLAY=display, HEARTH_HOME=str(home), QTWEBENGINE_DISABLE_SANDBOX="1")
    started = time.monotonic()
    app = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    assert app.stdout is not None
    url = ""
    for line in app.stdout:
        if line.startswith("Serving on "):
            url = line.split("Serving on ", 1)[1].strip()
            break
    ready = 0.0
    while time.monotonic() - started < 60:
        try:
            if requests.get(f"{url}/desktop/state", timeout=2).json()["interactive"]:
                ready = time.monotonic() - started
                break
        except requests.RequestException:
            pass
        time.sleep(0.02)
    if not ready:
        app.kill()
        raise SystemExit(f"the window never became interactive within 60 s (url {url or 'none'})")
    time.sleep(5)
    root = psutil.Process(app.pid)
    tree = [root, *root.children(recursive=True)]
    rss = sum(p.memory_info().rss for p in tree)
    pss = sum(p.memory_full_info().pss for p in tree)
    requests.post(f"{url}/desktop/menu/quit", json={}, timeout=10)
    app.wait(timeout=30)
    return {
        "launch_to_ready_s": ready,
        "rss_mb": rss / 2**20,
        "pss_mb": pss / 2**20,
        "processes": len(tree),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    display = ":93"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1400x900x24"], stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    try:
        with tempfile.TemporaryDirectory() as home:
            runs = [measure(display, Path(home)) for _ in range(args.runs)]
    finally:
        xvfb.terminate()
    result = {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}
    result["first_launch_s"] = round(runs[0]["launch_to_ready_s"], 2)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "desktop.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
