"""Desktop app: launch to interactive page, and idle memory of the whole app.

    python bench/desktop.py [--runs 3] [--frozen /usr/bin/hearth]

Starts a private Xvfb, launches ``hearth`` (the window, Qt WebEngine on
Linux) with a fresh home, and measures from process start until the chat UI
in the window is interactive (its ``hearth:ready`` mark: settings, models and
chats loaded). After 5 idle seconds it sums memory
over the whole process tree (Python, Qt WebEngine's renderer, GPU and zygote
processes): RSS, which counts shared libraries once per process, and PSS,
which shares them out fairly and is the honest total.

``--frozen``: also the installed (PyInstaller) app, run alternately with the
venv app in the same Xvfb, so the two are compared on one machine load.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(REPO))

from bench.save import save_results  # noqa: E402

VENV_APP = [sys.executable, "-m", "app"]


def measure(display: str, home: Path, command: list[str] = VENV_APP) -> dict[str, float]:
    env = dict(os.environ, DISPLAY=display, HEARTH_HOME=str(home), QTWEBENGINE_DISABLE_SANDBOX="1")
    started = time.monotonic()
    app = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
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


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    """Medians over the runs, and the first launch (cold caches) on its own."""
    result = {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}
    result["first_launch_s"] = round(runs[0]["launch_to_ready_s"], 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frozen", help="an installed hearth executable to compare")
    args = parser.parse_args()
    commands = {"venv": VENV_APP}
    if args.frozen:
        commands["frozen"] = [args.frozen]
    display = ":93"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1400x900x24"], stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    try:
        with tempfile.TemporaryDirectory() as home:
            for _ in range(args.runs):
                for name, command in commands.items():
                    runs[name].append(measure(display, Path(home) / name, command))
    finally:
        xvfb.terminate()
    results = {name: summary(found) for name, found in runs.items()}
    result = results["venv"] if len(results) == 1 else results
    print(save_results("desktop", result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
