"""A model on this machine against the same model split across two loopback workers.

    python bench/rpc.py [--rounds 5] [--tokens 128] [--threads N]

One ``hearth serve`` with the test model imported and two ``hearth worker``
processes on 127.0.0.1. Each side loads the model through Hearth (the
``workers`` setting empty, then both workers), timed on the client side as a
load-only ``/api/generate`` request, then streams ``--rounds`` chat answers
of ``--tokens`` tokens (``stop: []``), timed as in ``bench/run.py``: time to
first token, and tokens over the time from the first to the last token.
Sides alternate by round (a fresh load each time), so a change in the
machine's load hits both. Loopback has no network latency: what is measured
is what llama.cpp's RPC costs by itself (serialising every graph, copying
activations between processes). Across a real network add the round trips.
Results print as Markdown and go to bench/results/rpc.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.runner.locate import locate_llama_server  # noqa: E402
from app.runner.process import free_port  # noqa: E402
from app.settings import load_settings  # noqa: E402
from bench.run import MODEL, PROMPT, gemma_path, timed_stream  # noqa: E402
from bench.save import save_results  # noqa: E402
from tests.hearth_process import HearthProcess  # noqa: E402
from tests.test_rpc_workers import Worker  # noqa: E402


def load_ms(hearth: HearthProcess) -> float:
    started = time.perf_counter()
    reply = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": MODEL, "prompt": "", "keep_alive": "10m", "stream": False},
        timeout=600,
    )
    reply.raise_for_status()
    return (time.perf_counter() - started) * 1000


def unload(hearth: HearthProcess) -> None:
    requests.post(
        f"{hearth.ollama_url}/api/generate", json={"model": MODEL, "keep_alive": 0}, timeout=120
    ).raise_for_status()
    while hearth.llama_servers():
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    args = parser.parse_args()
    binary = locate_llama_server(load_settings())
    workers = [Worker(binary, free_port()) for _ in range(2)]
    for worker in workers:
        worker.start()
    home = Path(tempfile.mkdtemp(prefix="hearth-bench-rpc-"))
    hearth = HearthProcess(home, binary, {"HEARTH_NUM_PARALLEL": "1"})
    hearth.cli("import", str(gemma_path()), MODEL)
    hearth.start()
    sides = {"local": [], "split": [w.address for w in workers]}
    results: dict[str, dict[str, list[float]]] = {
        side: {"load_ms": [], "ttft_ms": [], "tokens_per_s": []} for side in sides
    }
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "options": {"num_predict": args.tokens, "temperature": 0, "seed": 1, "stop": []},
        "keep_alive": "10m",
    }
    devices: list[dict] = []
    try:
        for round_index in range(args.rounds):
            order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
            for side in order:
                requests.patch(
                    f"{hearth.url}/api/v1/settings", json={"workers": sides[side]}, timeout=30
                ).raise_for_status()
                unload(hearth)
                results[side]["load_ms"].append(load_ms(hearth))
                ttft, rate, tokens = timed_stream(
                    f"{hearth.ollama_url}/api/chat", body, None, sse=False
                )
                results[side]["ttft_ms"].append(ttft)
                results[side]["tokens_per_s"].append(rate)
                if side == "split":
                    (model,) = requests.get(f"{hearth.ollama_url}/api/ps", timeout=30).json()[
                        "models"
                    ]
                    assert model["workers"] == sides["split"], model
                    devices = model["devices"]
    finally:
        hearth.stop()
        for worker in workers:
            worker.stop()
    save_results("rpc", {"args": vars(args), **results, "devices": devices}, indent=None)
    print(report(results, devices, args))
    return 0


def report(results: dict, devices: list[dict], args: argparse.Namespace) -> str:
    mib = 2**20
    rows = [
        f"({args.rounds} rounds, {args.tokens} tokens, {args.threads} thread(s) per worker;"
        " medians)",
        "",
        "| metric | local | two loopback workers | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for metric, label in (
        ("tokens_per_s", "generation, tokens/s"),
        ("ttft_ms", "time to first token, ms"),
        ("load_ms", "model load through Hearth, ms"),
    ):
        local = statistics.median(results["local"][metric])
        split = statistics.median(results["split"][metric])
        rows.append(f"| {label} | {local:.1f} | {split:.1f} | {split / local:.2f}x |")
    rows += ["", "Where the split model went (`/api/ps` devices):", ""]
    for device in devices:
        rows.append(
            f"- {device['name']}: model {device['model_bytes'] / mib:.1f} MiB,"
            f" KV {device['kv_bytes'] / mib:.1f} MiB,"
            f" compute {device['compute_bytes'] / mib:.1f} MiB"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
