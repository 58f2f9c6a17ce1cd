"""``hearth worker``: lend this machine's devices (CPU, CUDA, Metal, Vulkan) to another Hearth.

It runs llama.cpp's own ``ggml-rpc-server`` (built beside llama-server),
which the main Hearth's llama-server reaches with ``--rpc`` to put part of
a model here. That protocol has no authentication and no encryption: whoever
can reach the port can run computations and read what is sent. So the
worker binds loopback unless told ``--trusted-network``, and says so.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from app.errors import HearthException
from app.runner.child_env import own_child_env
from app.runner.child_guard import ChildGuard
from app.runner.hardware import detect_hardware
from app.runner.process import _child_setup
from app.runner.rpc_workers import DEFAULT_PORT, is_loopback, parse_worker, probe_worker

WARNING = (
    "llama.cpp's RPC protocol is unauthenticated and unencrypted: anyone who can reach"
    " this port can use this machine's devices and see the model and prompts sent to it."
    " Use it only on a trusted network, never on the internet."
)
READY_TIMEOUT = 60.0


class WorkerError(HearthException, RuntimeError):
    """The worker cannot start; the message says why and what to do."""


def check_bind(host: str, trusted_network: bool) -> None:
    if not is_loopback(host) and not trusted_network:
        raise WorkerError(
            f"refusing to listen on {host}, which other machines can reach. {WARNING}"
            " If this network is trusted, add --trusted-network."
        )


def free_port(host: str, port: int) -> int:
    """``port`` when it can be bound on ``host`` (0: any free one), else a clear error."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            why = error.strerror or error
            raise WorkerError(f"cannot listen on {host}:{port}: {why}") from None
        return int(probe.getsockname()[1])


def command(
    binary: Path, host: str, port: int, threads: int, devices: str | None, cache: bool
) -> list[str]:
    args = [str(binary), "--host", host, "--port", str(port), "--threads", str(threads)]
    if devices:
        args += ["--device", devices]
    if cache:
        args += ["--cache"]
    return args


def run_worker(
    binary: Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    trusted_network: bool = False,
    threads: int | None = None,
    devices: str | None = None,
    cache: bool = False,
) -> int:
    """Start ggml-rpc-server, print its address once it answers, and wait for it.

    A child (not ``exec``) so the address is printed only once the worker
    really answers the protocol's HELLO; it dies with this process however
    this process dies (parent-death signal on Linux, a guard elsewhere).
    """
    check_bind(host, trusted_network)
    port = free_port(host, port)
    address = parse_worker(f"{host}:{port}")
    if not is_loopback(host):
        print(f"warning: {WARNING}", file=sys.stderr, flush=True)
    args = command(binary, host, port, threads or detect_hardware().physical_cores, devices, cache)
    linux = sys.platform.startswith("linux")
    child = subprocess.Popen(
        args,
        cwd=str(binary.parent),
        stdin=subprocess.DEVNULL,
        env=own_child_env(binary),
        preexec_fn=_child_setup(not linux),
    )
    guard = None if linux else ChildGuard()
    if guard is not None:
        guard.watch(child.pid)

    def stop(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if not _wait_ready(child, address):
            if child.poll() is None:
                child.terminate()
            return child.wait() or 1
        print(f"Worker listening on {address}", flush=True)
        print(
            f"Use it from the main Hearth: hearth serve --workers {address}"
            " (or Settings > Workers)",
            flush=True,
        )
        return child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if guard is not None:
            guard.forget(child.pid)


def _wait_ready(child: subprocess.Popen[bytes], address: str) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            print(f"error: the worker exited with status {child.returncode}", file=sys.stderr)
            return False
        if probe_worker(address, connect_timeout=1, reply_timeout=5).usable:
            return True
        time.sleep(0.1)
    print(f"error: the worker did not answer on {address} in {READY_TIMEOUT:g} s", file=sys.stderr)
    return False
