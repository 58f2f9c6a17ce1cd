"""Start a real ``hearth serve`` process for tests and talk to it.

Real parts only: the server runs as its own process, on its own port, with
the real llama-server binary from the build cache and a temporary home.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

REPO = Path(__file__).resolve().parent.parent


class HearthProcess:
    def __init__(self, home: Path, llama_server: Path, extra_env: dict[str, str] | None = None):
        self.home = home
        self.llama_server = llama_server
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    @property
    def ollama_url(self) -> str:
        return f"{self.url}/ollama"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HEARTH_HOME=str(self.home),
            HEARTH_LLAMA_SERVER=str(self.llama_server),
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        env.pop("HEARTH_MODELS", None)
        return env

    def ollama_post(self, path: str, body: dict[str, Any], timeout: float = 300) -> Any:
        """POST ``body`` to ``path`` of the Ollama API ("/api/chat"); asserts a 200; its JSON."""
        reply = requests.post(f"{self.ollama_url}{path}", json=body, timeout=timeout)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def cli(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a ``hearth`` CLI command against the same home (``input``: its stdin)."""
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=REPO,
            env=self.env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def start(
        self,
        timeout: float = 30,
        extra_args: tuple[str, ...] = (),
        global_args: tuple[str, ...] = (),
    ) -> None:
        """``hearth [global_args] serve --port 0 [extra_args]``; returns once it serves."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", *global_args, "serve", "--port", "0", *extra_args],
            cwd=REPO,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = wait_for_line(self.process, self.output, "Serving on ", timeout)
        if line is not None:
            self.url = line.split("Serving on ", 1)[1].strip()
            return
        self.stop()
        raise RuntimeError("hearth serve did not start:\n" + "".join(self.output))

    def printed_token(self) -> str:
        """The access token ``hearth serve`` printed at its start (token required, LAN mode)."""
        output = "".join(self.output)
        return output.split("stored hashed):\n", 1)[1].split("\n", 1)[0].strip()

    def llama_servers(self) -> list[psutil.Process]:
        """llama-server children of this Hearth process."""
        if self.process is None:
            return []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [child for child in children if child.name().startswith("llama-server")]

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, grace=20)


class HearthFactory:
    """Makes ``hearth serve`` processes, each on a fresh home from ``new_home``; ``close``
    stops them all and kills what they left running."""

    def __init__(self, request: pytest.FixtureRequest, new_home: Callable[[], Path]) -> None:
        self.request = request
        self.new_home = new_home
        self.made: list[HearthProcess] = []

    def __call__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        global_args: tuple[str, ...] = (),
        models: Iterable[str] = (),
        home: Path | None = None,
        llama_server: Path | None = None,
        start: bool = True,
        timeout: float = 30,
    ) -> HearthProcess:
        """A Hearth on ``home`` (default: a fresh one) with ``env`` added to its environment,
        the test Gemma imported under each name in ``models``, started with
        ``hearth [global_args] serve --port 0 [args]`` unless ``start`` is False.
        ``llama_server`` replaces the real binary (a path that does not exist: no runner)."""
        if llama_server is None:
            llama_server = self.request.getfixturevalue("llama_server_binary")
        process = HearthProcess(
            home if home is not None else self.new_home(), llama_server, extra_env=dict(env or {})
        )
        self.made.append(process)
        for name in models:
            gemma = self.request.getfixturevalue("gemma_gguf_path")
            process.cli("import", str(gemma), name)
        if start:
            process.start(timeout=timeout, extra_args=args, global_args=global_args)
        return process

    def __enter__(self) -> HearthFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for process in self.made:
            left: list[psutil.Process] = []
            if process.process is not None and process.process.poll() is None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    left = psutil.Process(process.process.pid).children(recursive=True)
            process.stop()
            _, alive = psutil.wait_procs(left, timeout=5)
            for straggler in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    straggler.kill()


def wait_for_line(
    process: subprocess.Popen[str], output: list[str], prefix: str, timeout: float
) -> str | None:
    """Collect ``process``'s stdout into ``output`` (a thread goes on doing it) and return
    the first line that starts with ``prefix``; None when it exits or ``timeout`` passes first."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line.startswith(prefix):
            return line
    return None


def stop_process(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns once the process is gone."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
