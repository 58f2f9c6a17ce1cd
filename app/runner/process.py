"""One ``llama-server`` child process serving one model.

Why a subprocess per model: llama.cpp's own server is the fastest way to run
GGUF models, and a crash in native code cannot take Hearth down with it.
The child listens on a free 127.0.0.1 port with a random per-launch API key
(passed through the environment so it never shows in the process list), so
no other local program or web page can use it. On Linux the child is told
to die with its parent (PR_SET_PDEATHSIG); elsewhere a guard process stops
it (``app.runner.child_guard``). Either way even ``kill -9`` of Hearth
leaves no orphan.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from app.runner.buffers import BufferLog
from app.runner.child_env import own_child_env
from app.runner.child_guard import ChildGuard
from app.runner.errors import LlamaServerFailed


def exit_words(returncode: int | None) -> str:
    """How a llama-server ended, in words: "exited with signal 9 (SIGKILL)", "exited with status 1".

    Why words: a negative ``returncode`` is Python's way of saying "killed
    by a signal", which a person reading an error cannot be expected to know.
    """
    if returncode is None:
        return "is still running"
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            return f"exited with signal {number}"
        return f"exited with signal {number} ({name})"
    return f"exited with status {returncode}"


@dataclass(frozen=True)
class LaunchConfig:
    """Everything that decides how a llama-server is started.

    Two requests can share a process only when their configs are equal, which
    is how load-time options (``num_ctx``, ``num_gpu``, ...) trigger a reload.
    """

    model_path: Path
    ctx_per_slot: int
    parallel: int
    threads: int | None = None
    gpu_layers: int | None = None
    projectors: tuple[Path, ...] = ()
    adapters: tuple[Path, ...] = ()
    embedding: bool = False
    batch_size: int | None = None
    use_mmap: bool | None = None
    alias: str = "model"
    extra_args: tuple[str, ...] = field(default=())
    rpc: tuple[str, ...] = ()
    """Workers (``host:port``) whose devices take part of the model (``--rpc``).

    In a scheduler key this is the configured list; in a started server's
    config, the workers that were reachable and free when it loaded."""

    def arguments(self, port: int) -> list[str]:
        args = [
            "--model", str(self.model_path),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--ctx-size", str(self.ctx_per_slot * self.parallel),
            "--parallel", str(self.parallel),
            "--alias", self.alias,
            "--no-ui",
            "--jinja",
            "--offline",
            "--cache-ram", "0",
            "--log-colors", "off",
        ]  # fmt: skip
        if self.threads:
            args += ["--threads", str(self.threads)]
        if self.gpu_layers is not None:
            args += ["--n-gpu-layers", str(self.gpu_layers)]
            if self.gpu_layers == 0:
                args += ["--device", "none"]
        for projector in self.projectors:
            args += ["--mmproj", str(projector)]
        if self.projectors and self.gpu_layers == 0:
            # num_gpu 0 means "all on the CPU": the projector too, not only the layers.
            args += ["--no-mmproj-offload"]
        for adapter in self.adapters:
            args += ["--lora", str(adapter)]
        if self.embedding:
            args += ["--embeddings"]
        if self.batch_size:
            args += ["--batch-size", str(self.batch_size), "--ubatch-size", str(self.batch_size)]
        if self.use_mmap is False:
            args += ["--load-mode", "none"]
        if self.rpc:
            # -lv 4 logs each device's buffer sizes at load (app.runner.buffers):
            # where the model went matters most when part of it is elsewhere.
            args += ["--rpc", ",".join(self.rpc), "-lv", "4"]
        return args + list(self.extra_args)


def free_port() -> int:
    """A port that was free a moment ago (llama.cpp's own router does the same)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare_child(die_with_parent: bool) -> None:  # pragma: no cover - runs in the child
    """Unblock SIGTERM/SIGINT and, on Linux, ask to be SIGKILLed when Hearth dies.

    The desktop shell blocks SIGTERM/SIGINT in its own threads, and a child
    would otherwise inherit that mask, ignoring ``stop()``. The death signal
    comes however Hearth dies.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    if not die_with_parent:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except OSError:
        return
    if os.getppid() != _HEARTH_PID:
        # Hearth died between fork and prctl: the death signal will never come.
        os._exit(1)


def _child_setup(guarded: bool) -> Callable[[], None] | None:
    """What runs in a new child before llama-server (nothing on Windows, which has no fork)."""
    if sys.platform == "win32":
        return None
    die_with_parent = not guarded and sys.platform.startswith("linux")
    return functools.partial(_prepare_child, die_with_parent)


_HEARTH_PID = os.getpid()
"""The parent every llama-server must have (read in the child after ``prctl``)."""

# Linux delivers PR_SET_PDEATHSIG when the *thread* that forked the child
# exits, not the process. Children are therefore always spawned from this one
# long-lived thread, never from a short-lived loader thread.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-spawner")

CHILD_GUARD = ChildGuard()
"""This process's one guard, for platforms (or settings) without the parent-death signal."""


class LlamaServer:
    """A started (or starting) llama-server and the means to talk to it."""

    def __init__(
        self, binary: Path, config: LaunchConfig, log_path: Path, *, guarded: bool = False
    ) -> None:
        """``guarded``: announce the child to ``CHILD_GUARD`` instead of asking for
        the parent-death signal (which only Linux has)."""
        self.binary = binary
        self.guarded = guarded
        self.config = config
        self.log_path = log_path
        self.port = 0
        self.api_key = secrets.token_urlsafe(24)
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # never route loopback traffic via a proxy
        self.session.headers["Authorization"] = f"Bearer {self.api_key}"
        # llama-server closes idle keep-alive sockets after a few seconds, and a
        # POST on such a socket fails with no retry: one connection per request
        # (as Ollama does) costs ~0.1 ms on loopback and never goes stale.
        self.session.headers["Connection"] = "close"
        self._tail: deque[str] = deque(maxlen=60)
        self._reader: threading.Thread | None = None
        self.started_at = 0.0
        self.ready_at = 0.0
        self.buffers = BufferLog()
        self.stall_timeout: float | None = None
        """Seconds of silence after which a request to a split model's runner gives up."""
        """Per-device buffer sizes llama.cpp logged while loading."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = own_child_env(self.binary)
        env["LLAMA_API_KEY"] = self.api_key
        for name in ("LLAMA_ARG_MODEL", "LLAMA_ARG_PORT", "LLAMA_ARG_HOST", "LLAMA_ARG_RPC"):
            env.pop(name, None)
        command = [str(self.binary), *self.config.arguments(self.port)]
        self.started_at = time.monotonic()
        self.process = _SPAWNER.submit(
            subprocess.Popen,
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=str(self.binary.parent),
            env=env,
            preexec_fn=_child_setup(self.guarded),
            start_new_session=True,  # a Ctrl+C in Hearth's terminal is Hearth's to handle
        ).result()
        if self.guarded:
            CHILD_GUARD.watch(self.process.pid)
        self._reader = threading.Thread(target=self._pump_log, args=(command,), daemon=True)
        self._reader.start()

    def _pump_log(self, command: list[str]) -> None:
        """Copy the child's output to its log file and keep the last lines."""
        assert self.process is not None and self.process.stdout is not None
        with self.log_path.open("ab") as log:
            log.write(("\n$ " + " ".join(command) + "\n").encode())
            log.flush()
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                text = line.decode("utf-8", "replace").rstrip()
                self._tail.append(text)
                if not self.ready_at:
                    self.buffers.feed(text)

    def log_tail(self, lines: int = 25) -> str:
        return "\n".join(list(self._tail)[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        """Poll ``/health`` until 200; a dead child or a timeout is an error."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            if not self.alive():
                code = self.process.returncode if self.process else None
                self._join_reader()
                raise LlamaServerFailed(
                    f"llama-server {exit_words(code)} while loading the model",
                    self.log_tail(),
                )
            with contextlib.suppress(requests.RequestException):
                reply = self.session.get(f"{self.base_url}/health", timeout=2)
                if reply.status_code == 200:
                    self.ready_at = time.monotonic()
                    return
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise LlamaServerFailed(
                    f"llama-server did not become ready within {timeout:g} s", tail
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    @property
    def returncode(self) -> int | None:
        """The child's exit status (negative: the signal that ended it); None while it runs."""
        return self.process.poll() if self.process else None

    def wait_exit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the child to exit by itself; True when it has."""
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        self._join_reader()
        return True

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2)

    def memory(self) -> int:
        """Resident bytes of the child (weights it touched, KV cache, buffers)."""
        if not self.alive():
            return 0
        try:
            return int(psutil.Process(self.process.pid).memory_info().rss)  # type: ignore[union-attr]
        except psutil.Error:
            return 0

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout=5)
        if self.guarded:
            CHILD_GUARD.forget(process.pid)
        self._join_reader()
        self.session.close()
