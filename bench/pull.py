"""Pull speed against curl, and bytes fetched twice after an interrupted pull.

    python bench/pull.py [--size-mb 1024]

A real ``docker-registry`` on 127.0.0.1 gets one model pushed (a random
blob of ``--size-mb``; random so nothing compresses or caches oddly). Then,
in the same run:

1. ``curl`` downloads that blob from the registry into the same filesystem;
2. ``hearth serve`` pulls the model (ranged parts, sha256 check, rename);
   throughput is blob bytes over wall time for each. Steps 1 and 2
   alternate for ``--rounds`` rounds, each after a ``sync``, and the ratio
   of the medians is reported with every run's figure. Each round also
   times curl followed by an ``fsync`` of its file: Hearth syncs a blob
   before its manifest makes it visible, so that is the like-for-like
   reference on a disk slower than the network.
3. Interruption: Hearth pulls through a byte-counting TCP relay, is killed
   with SIGKILL half-way, started again and resumes by itself; every byte
   the registry sent across both runs is counted at the relay, so the bytes
   fetched twice are ``sent - blob size - manifests``.
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

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.models.download import PullTuning, plan_parts  # noqa: E402
from app.runner.locate import locate_llama_server  # noqa: E402
from app.settings import load_settings  # noqa: E402
from bench.save import save_results  # noqa: E402
from tests.hearth_process import HearthProcess  # noqa: E402
from tests.registry import RegistryServer, push_model  # noqa: E402
from tests.relay import CountingRelay  # noqa: E402


def wait_for_model(url: str, name: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        models = requests.get(f"{url}/api/tags", timeout=5).json()["models"]
        if name in [m["name"] for m in models]:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} never appeared")


def timed_curl(url: str, target: Path, sync: bool) -> float:
    """Seconds for curl to fetch ``url`` into ``target`` (then fsync it, with ``sync``).

    Each run starts after an ``os.sync()``: the disk's write-back speed swings
    from run to run on a shared machine, and a run must not pay for the last.
    """
    os.sync()
    started = time.perf_counter()
    subprocess.run(["curl", "-sSf", "-o", str(target), url], check=True)
    if sync:
        with target.open("rb") as written:
            os.fsync(written.fileno())
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3, help="alternated curl/Hearth rounds")
    args = parser.parse_args()
    binary = locate_llama_server(load_settings())
    results: dict[str, object] = {"blob_mb": args.size_mb}
    with tempfile.TemporaryDirectory(prefix="hearth-pullbench-") as work_text:
        work = Path(work_text)
        blob = work / "blob.bin"
        with blob.open("wb") as out:
            for _ in range(args.size_mb):
                out.write(os.urandom(2**20))
        registry = RegistryServer(work / "registry")
        registry.start()
        try:
            pushed = push_model(registry.url, "bench/blob", "1", [("model", blob)], {})
            digest = pushed.layers[0]["digest"]
            size = blob.stat().st_size

            blob_url = f"{registry.url}/v2/bench/blob/blobs/{digest}"
            hearth = HearthProcess(work / "home", binary)
            hearth.start()
            name = f"{registry.host}/bench/blob:1"
            curl_runs: list[float] = []
            hearth_runs: list[float] = []
            curl_synced_runs: list[float] = []
            try:
                for _ in range(args.rounds):
                    # Alternate, each from a clean page cache state (see timed_curl).
                    curl_runs.append(timed_curl(blob_url, work / "curl.bin", sync=False))
                    # curl with the durability Hearth gives a blob: on disk, not just cached.
                    curl_synced_runs.append(timed_curl(blob_url, work / "curl.bin", sync=True))
                    os.sync()
                    started = time.perf_counter()
                    reply = requests.post(
                        f"{hearth.ollama_url}/api/pull",
                        json={"model": name, "stream": False},
                        timeout=600,
                    )
                    hearth_runs.append(time.perf_counter() - started)
                    assert reply.json().get("status") == "success", reply.text
                    requests.delete(f"{hearth.ollama_url}/api/delete", json={"model": name})
            finally:
                hearth.stop()
            curl_s, hearth_s = statistics.median(curl_runs), statistics.median(hearth_runs)
            results["rounds"] = args.rounds
            results["curl_MBps_runs"] = [round(size / s / 1e6, 1) for s in curl_runs]
            results["hearth_MBps_runs"] = [round(size / s / 1e6, 1) for s in hearth_runs]
            results["curl_MBps"] = round(size / curl_s / 1e6, 1)
            results["hearth_MBps"] = round(size / hearth_s / 1e6, 1)
            results["pull_ratio"] = round(curl_s / hearth_s, 3)
            synced_s = statistics.median(curl_synced_runs)
            results["curl_fsync_MBps_runs"] = [round(size / s / 1e6, 1) for s in curl_synced_runs]
            results["curl_fsync_MBps"] = round(size / synced_s / 1e6, 1)
            results["pull_ratio_vs_curl_fsync"] = round(synced_s / hearth_s, 3)
            results["note"] = (
                "medians of alternated rounds; Hearth also fsyncs and sha256-checks the blob,"
                " curl only writes it"
            )

            relay = CountingRelay(registry.port)
            relayed = f"127.0.0.1:{relay.port}/bench/blob:1"
            slow = {"HEARTH_PULL_MAX_BPS": str(100 * 2**20)}
            first = HearthProcess(work / "home2", binary, extra_env=slow)
            first.start()
            requests.post(
                f"{first.ollama_url}/api/pull", json={"model": relayed}, stream=True, timeout=30
            ).close()
            while relay.bytes_down < size // 2:
                time.sleep(0.01)
            assert first.process is not None
            first.process.kill()
            first.process.wait()
            sent_before_kill = relay.bytes_down
            second = HearthProcess(work / "home2", binary)
            second.start()
            wait_for_model(second.ollama_url, relayed)
            second.stop()
            overhead = 2 * 64 * 1024  # manifests and HTTP headers, generously
            refetched = max(0, relay.bytes_down - size - overhead)
            results["interrupted_at_MB"] = round(sent_before_kill / 1e6, 1)
            results["bytes_sent_total"] = relay.bytes_down
            results["bytes_refetched_after_kill"] = refetched
            results["parts"] = len(plan_parts(size, PullTuning()))
            tuning = PullTuning()
            results["connections"] = (
                f"from {tuning.start_connections}, doubled while it pays, up to {tuning.max_parts}"
            )
        finally:
            registry.stop()
    print(save_results("pull", results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
