"""A model split across ``hearth worker`` processes through Hearth, all on 127.0.0.1.

Real parts only: each worker is a real ``hearth worker`` (llama.cpp's
``ggml-rpc-server``) on its own loopback port, the model is the real test
model, and Hearth's llama-server reaches the workers with ``--rpc``. A
worker "vanishes" by ``kill -9`` of its ``hearth worker`` process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.runner.buffers import BufferLog
from app.runner.rpc_workers import WorkerStatus, probe_worker
from app.runner.worker_plan import WorkerPlan, fit_problem
from tests.conftest import GEMMA_NAME
from tests.hearth_process import REPO, HearthFactory, HearthProcess, stop_process, wait_for_line
from tests.registry import free_port

GIB = 2**30
GREEDY = {"temperature": 0, "seed": 7, "stop": [], "num_predict": 24}
PROMPT = "The capital of France is"
STALL = 8
"""Seconds of silence the split Hearth allows (120 by default); no token takes that long here."""


class Worker:
    """One ``hearth worker --port P`` process; ``start`` returns once it prints its address."""

    def __init__(self, llama_server: Path, port: int) -> None:
        self.llama_server = llama_server
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 60) -> Worker:
        env = dict(os.environ, HEARTH_LLAMA_SERVER=str(self.llama_server), PYTHONUNBUFFERED="1")
        command = [
            sys.executable,
            "-m",
            "app",
            "worker",
            "--port",
            str(self.port),
            "--threads",
            "1",
        ]
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if wait_for_line(self.process, self.output, f"Worker listening on {self.address}", timeout):
            return self
        self.stop()
        raise RuntimeError("hearth worker did not start:\n" + "".join(self.output))

    def kill(self) -> None:
        """``kill -9`` of the ``hearth worker`` process: its rpc-server must go with it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=15)


class SilentRelay:
    """A named stand-in for a worker that leaves the network without a word.

    Loopback cannot lose a machine: a killed process's sockets are closed by
    its kernel at once (llama.cpp sees that and stops). A power cut or a
    dropped Wi-Fi closes nothing, so llama.cpp waits for ever. This relay
    forwards 127.0.0.1:port to a real worker until ``go_silent``: then it
    stops forwarding in both directions and closes its listener, but keeps
    every open connection open, which is what such a peer looks like.
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.silent = threading.Event()
        self.sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while not self.silent.is_set():
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                if self.silent.is_set():
                    return  # hold the bytes, answer nothing, close nothing
                sink.sendall(data)
            # One side closed (a check that is done): close the other, as a real peer would.
            if not self.silent.is_set():
                for sock in (source, sink):  # shutdown: a close alone waits for the other recv
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def go_silent(self) -> None:
        self.silent.set()
        self._listener.close()

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture(scope="module")
def split_hearth(make_module_hearth: HearthFactory) -> HearthProcess:
    """A Hearth of its own (one slot), workers set per test through the settings API."""
    env = {"HEARTH_NUM_PARALLEL": "1", "HEARTH_WORKER_STALL_TIMEOUT": str(STALL)}
    return make_module_hearth(env=env, models=[GEMMA_NAME])


@pytest.fixture
def workers(llama_server_binary: Path) -> Iterator[list[Worker]]:
    """Two fresh workers on free loopback ports; stopped after the test."""
    started = [Worker(llama_server_binary, free_port()).start() for _ in range(2)]
    yield started
    for worker in started:
        worker.stop()


def set_workers(hearth: HearthProcess, addresses: list[str] | None) -> requests.Response:
    reply = requests.patch(f"{hearth.url}/api/v1/settings", json={"workers": addresses}, timeout=30)
    return reply


def unload(hearth: HearthProcess) -> None:
    reply = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={"model": GEMMA_NAME, "keep_alive": 0},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    deadline = time.monotonic() + 30
    while hearth.llama_servers() and time.monotonic() < deadline:
        time.sleep(0.1)


def generate(hearth: HearthProcess, options: dict[str, object] = GREEDY) -> dict[str, object]:
    body = {"model": GEMMA_NAME, "prompt": PROMPT, "stream": False, "options": options}
    return hearth.ollama_post("/api/generate", body)


def loaded(hearth: HearthProcess) -> dict[str, object]:
    (model,) = requests.get(f"{hearth.ollama_url}/api/ps", timeout=30).json()["models"]
    return model


def test_split_answer_matches_local(split_hearth: HearthProcess, workers: list[Worker]) -> None:
    """The same greedy answer with the layers on two workers as with all of them here."""
    assert set_workers(split_hearth, []).status_code == 200
    unload(split_hearth)
    local = generate(split_hearth)
    assert loaded(split_hearth)["workers"] == []
    unload(split_hearth)

    addresses = [worker.address for worker in workers]
    reply = set_workers(split_hearth, addresses)
    assert reply.status_code == 200, reply.text
    assert reply.json()["workers"] == addresses
    split = generate(split_hearth)
    assert split["response"] == local["response"]
    assert split["eval_count"] == local["eval_count"] == 24

    model = loaded(split_hearth)
    assert model["workers"] == addresses
    assert model["workers_left_out"] == []
    assert {"size", "size_vram", "digest", "details", "expires_at"} <= set(model)
    devices = {device["worker"]: device for device in model["devices"]}
    for address in addresses:
        assert devices[address]["model_bytes"] > 0, model["devices"]
        assert devices[address]["kv_bytes"] > 0, model["devices"]
    system = requests.get(f"{split_hearth.url}/api/v1/system", timeout=30).json()
    assert system["loaded_models"][0]["devices"] == model["devices"]
    states = {row["address"]: row for row in system["workers"]["workers"]}
    assert all(
        states[a] == {"address": a, "state": "in_use", "model": GEMMA_NAME} for a in addresses
    )


def long_answer(hearth: HearthProcess) -> Iterator[dict[str, Any]]:
    """A long streamed answer, its first three lines checked to be text; the rest to read."""
    reply = requests.post(
        f"{hearth.ollama_url}/api/generate",
        json={
            "model": GEMMA_NAME,
            "prompt": "Tell me a long story",
            "options": {"num_predict": 4000, "stop": [], "temperature": 0.7},
        },
        stream=True,
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    lines = (json.loads(line) for line in reply.iter_lines(chunk_size=None) if line)
    for _ in range(3):
        assert "response" in next(lines)
    return lines


def test_worker_killed_mid_stream(split_hearth: HearthProcess, workers: list[Worker]) -> None:
    """The answer ends with an error naming the worker; the next request loads without it."""
    first, second = workers
    assert set_workers(split_hearth, [first.address, second.address]).status_code == 200
    unload(split_hearth)
    lines = long_answer(split_hearth)
    first.kill()
    rest = list(lines)  # bounded by the read timeout above: no hang
    assert rest and "error" in rest[-1], rest[-3:]
    assert first.address in rest[-1]["error"]
    assert "stopped answering" in rest[-1]["error"]

    again = generate(split_hearth)
    assert again["done"] is True
    model = loaded(split_hearth)
    assert model["workers"] == [second.address]
    assert first.address in model["workers_left_out"][0]


def test_worker_gone_silent_mid_stream(split_hearth: HearthProcess, workers: list[Worker]) -> None:
    """A worker that stops answering without closing anything: the answer still ends, in words."""
    first, second = workers
    relay = SilentRelay(first.port)
    try:
        assert set_workers(split_hearth, [relay.address, second.address]).status_code == 200
        unload(split_hearth)
        lines = long_answer(split_hearth)
        relay.go_silent()
        rest = list(lines)  # ends after the stall bound, not after the hour
        assert rest and "error" in rest[-1], rest[-3:]
        assert f"said nothing for {STALL} s" in rest[-1]["error"]
        assert relay.address in rest[-1]["error"]
        assert split_hearth.llama_servers() == []  # the stuck runner was stopped

        again = generate(split_hearth)
        assert again["done"] is True
        assert loaded(split_hearth)["workers"] == [second.address]
    finally:
        unload(split_hearth)
        relay.close()


def test_worker_started_late(split_hearth: HearthProcess, llama_server_binary: Path) -> None:
    """Listed but down: the load goes without it; once it is up, the next load uses it."""
    late = Worker(llama_server_binary, free_port())
    other = Worker(llama_server_binary, free_port()).start()
    try:
        assert set_workers(split_hearth, [late.address, other.address]).status_code == 200
        unload(split_hearth)
        assert generate(split_hearth)["done"] is True
        model = loaded(split_hearth)
        assert model["workers"] == [other.address]
        assert "refused" in model["workers_left_out"][0]

        late.start()
        unload(split_hearth)
        assert generate(split_hearth)["done"] is True
        model = loaded(split_hearth)
        assert model["workers"] == [late.address, other.address]
        assert {d["worker"] for d in model["devices"]} >= {late.address, other.address}
    finally:
        unload(split_hearth)
        late.stop()
        other.stop()


def test_no_worker_up_loads_here(split_hearth: HearthProcess) -> None:
    """Every worker down and the model fits this machine: it loads here, and ps says why."""
    gone = f"127.0.0.1:{free_port()}"
    assert set_workers(split_hearth, [gone]).status_code == 200
    unload(split_hearth)
    assert generate(split_hearth)["done"] is True
    model = loaded(split_hearth)
    assert model["workers"] == []
    assert model["workers_left_out"] == [
        f"{gone}: refused (connection refused: no worker listens there)"
    ]
    unload(split_hearth)
    assert set_workers(split_hearth, None).status_code == 200


@pytest.mark.parametrize(
    "value",
    [["nonsense"], ["127.0.0.1:99999"], ["[::1]:50052"], ["127.0.0.1"], "127.0.0.1:50052", [5]],
)
def test_settings_refuse_bad_worker_addresses(split_hearth: HearthProcess, value: object) -> None:
    reply = requests.patch(
        f"{split_hearth.url}/api/v1/settings", json={"workers": value}, timeout=30
    )
    assert reply.status_code == 400, reply.text
    assert "workers" in reply.json()["error"]


def test_worker_refuses_a_network_address_without_the_flag(llama_server_binary: Path) -> None:
    env = dict(os.environ, HEARTH_LLAMA_SERVER=str(llama_server_binary))
    done = subprocess.run(
        [sys.executable, "-m", "app", "worker", "--host", "0.0.0.0", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "unauthenticated" in done.stderr and "--trusted-network" in done.stderr


def test_doctor_checks_workers(llama_server_binary: Path, make_hearth: HearthFactory) -> None:
    """``hearth doctor`` says which workers answer, with their devices' free memory."""
    up = Worker(llama_server_binary, free_port()).start()
    gone = f"127.0.0.1:{free_port()}"
    try:
        process = make_hearth(env={"HEARTH_WORKERS": f"{up.address},{gone}"}, start=False)
        report = json.loads(process.cli("doctor", "--json").stdout)
        first, second = report["workers"]
        assert first["address"] == up.address and first["state"] == "ok"
        assert first["version"].startswith("7.") and first["devices"][0]["free"] > 0
        assert second == {**second, "address": gone, "state": "refused"}
        text = process.cli("doctor").stdout
        assert f"{up.address}: reachable" in text and f"{gone}: REFUSED" in text
    finally:
        up.stop()


def test_buffer_lines_sum_per_device() -> None:
    """The pinned llama.cpp's load lines (from a real ``-lv 4`` log) summed per device."""
    log = BufferLog()
    for line in [
        "0.02.749.195 I load_tensors:   CPU_Mapped model buffer size =   170.00 MiB",
        "0.02.749.237 I load_tensors:   CPU_REPACK model buffer size =    12.66 MiB",
        "I load_tensors: RPC0[127.0.0.1:45651] model buffer size =   235.16 MiB",
        "I llama_kv_cache: RPC0[127.0.0.1:45651] KV buffer size =     6.00 MiB",
        "I llama_kv_cache: RPC0[127.0.0.1:45651] KV buffer size =    30.00 MiB",
        "I sched_reserve: RPC0[127.0.0.1:45651] compute buffer size =    19.52 MiB",
        "I llama_context:        CPU  output buffer size =     2.00 MiB",
        "I slot print_timing: id  1 | task 0 | prompt eval time = 168.96 ms",
    ]:
        log.feed(line)
    cpu, rpc = log.devices()
    assert cpu == {
        "name": "CPU",
        "worker": None,
        "model_bytes": round(170 * 2**20) + round(12.66 * 2**20),
        "kv_bytes": 0,
        "compute_bytes": 2 * 2**20,
    }
    assert rpc["worker"] == "127.0.0.1:45651" and rpc["kv_bytes"] == 36 * 2**20


def test_fit_words_when_workers_are_missing() -> None:
    down = WorkerStatus("10.0.0.9:50052", "down", "no answer")
    plan = WorkerPlan(chosen=(), statuses=[down], left_out=[down.describe()])
    problem = fit_problem(40 * GIB, 8 * GIB, plan)
    assert problem is not None and "no longer fit" in problem and "10.0.0.9:50052" in problem
    assert fit_problem(4 * GIB, 8 * GIB, plan) is None
    assert fit_problem(40 * GIB, 8 * GIB, WorkerPlan()) is None  # nothing missing: let it try


def test_probe_of_nothing_listening_is_refused() -> None:
    status = probe_worker(f"127.0.0.1:{free_port()}")
    assert status.state == "refused" and not status.usable
