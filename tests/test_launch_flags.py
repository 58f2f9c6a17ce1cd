"""The llama-server command line Hearth chooses, read from the real process table.

Also the runner knobs in settings (slots, context, load timeout) and the
forced stop of a llama-server that ignores SIGTERM.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import psutil
import pytest
import requests

from app.runner.hardware import detect_hardware
from app.runner.scheduler import GIB, auto_parallel
from tests.conftest import GEMMA_NAME
from tests.hearth_process import HearthFactory, HearthProcess


def flag(process: psutil.Process, name: str) -> str:
    line = process.cmdline()
    return line[line.index(name) + 1]


def load(hearth: HearthProcess, **options: object) -> psutil.Process:
    reply = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "options": options},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    (server,) = hearth.llama_servers()
    return server


def test_auto_parallel_follows_free_memory() -> None:
    model = 4 * GIB
    assert auto_parallel(model, 32 * GIB) == 2
    assert auto_parallel(model, 6 * GIB) == 1
    assert auto_parallel(253 * 2**20, 2 * GIB) == 2


@pytest.fixture
def knobs(make_hearth: HearthFactory) -> Callable[..., HearthProcess]:
    """``knobs(NAME=value, ...)``: a Hearth with those settings in its environment, Gemma in it."""

    def start(**env: str) -> HearthProcess:
        return make_hearth(env=env, models=[GEMMA_NAME])

    return start


def test_flags_from_model_hardware_and_request(knobs) -> None:  # type: ignore[no-untyped-def]
    hearth = knobs(HEARTH_CONTEXT_LENGTH="2048")
    server = load(hearth)
    line = server.cmdline()
    assert "--jinja" in line and "--offline" in line
    assert flag(server, "--host") == "127.0.0.1"
    assert flag(server, "--parallel") == "2"  # plenty of free memory for a 253 MB model
    assert flag(server, "--ctx-size") == str(2048 * 2)  # per-slot default from settings
    assert flag(server, "--threads") == str(detect_hardware().physical_cores)
    assert "--n-gpu-layers" not in line  # offload is left to llama-server's --fit
    # A new num_ctx is a load-time option: the model is reloaded with it.
    bigger = load(hearth, num_ctx=3072)
    assert bigger.pid != server.pid and flag(bigger, "--ctx-size") == str(3072 * 2)
    # Beyond the model's training context (32768 for Gemma 3 270M) it is capped.
    capped = load(hearth, num_ctx=1_000_000)
    assert flag(capped, "--ctx-size") == str(32768 * 2)
    # num_thread and num_gpu reach llama-server too.
    tuned = load(hearth, num_thread=1, num_gpu=0)
    assert flag(tuned, "--threads") == "1" and flag(tuned, "--n-gpu-layers") == "0"
    assert flag(tuned, "--device") == "none"
    ps = requests.get(f"{hearth.ollama_url}/api/ps", timeout=10).json()["models"]
    assert [m["context_length"] for m in ps] == [2048]  # each reload replaced the older runner
    assert len(hearth.llama_servers()) == 1


def test_configured_slots_and_load_timeout(knobs) -> None:  # type: ignore[no-untyped-def]
    hearth = knobs(HEARTH_NUM_PARALLEL="1")
    assert flag(load(hearth), "--parallel") == "1"
    slow = knobs(HEARTH_LOAD_TIMEOUT="0.1", HEARTH_NUM_PARALLEL="1")
    reply = requests.post(f"{slow.ollama_url}/api/generate", json={"model": GEMMA_NAME}, timeout=60)
    assert reply.status_code == 500
    error = reply.json()["error"]
    assert "did not become ready within 0.1 s" in error
    assert "llama" in error.split("ready within", 1)[1]  # the log tail comes with it
    deadline = time.monotonic() + 10
    while slow.llama_servers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert slow.llama_servers() == []  # the slow start was stopped, not left running


def test_bad_knob_is_a_clear_error_at_start(make_hearth: HearthFactory) -> None:
    process = make_hearth(env={"HEARTH_NUM_PARALLEL": "x"}, start=False)
    result = process.cli("list", check=False)
    assert result.returncode != 0
    assert "HEARTH_NUM_PARALLEL must be a number" in result.stderr
    assert "Traceback" not in result.stderr


def test_stop_forces_a_llama_server_that_ignores_sigterm(knobs) -> None:  # type: ignore[no-untyped-def]
    """A frozen llama-server (SIGSTOP: SIGTERM stays pending) is killed after the grace time."""
    hearth = knobs()
    server = load(hearth)
    server.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    reply = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "keep_alive": 0},
        timeout=60,
    )
    assert reply.status_code == 200 and reply.json()["done_reason"] == "unload"
    deadline = time.monotonic() + 20
    while hearth.llama_servers():
        assert time.monotonic() < deadline, "the frozen llama-server was never killed"
        time.sleep(0.2)
    assert time.monotonic() - started >= 4  # it got its grace time first (5 s)
    assert not psutil.pid_exists(server.pid) or server.status() == psutil.STATUS_ZOMBIE
