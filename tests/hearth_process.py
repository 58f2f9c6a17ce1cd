"""Start a real ``hearth serve`` process for tests and talk to it.

Real parts only: the server runs as its own process, on its own port, with
the real llama-server binary from the build cache and a temporary home.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

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

    def cli(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a ``hearth`` CLI command against the same home."""
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=REPO,
            env=self.env(),
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
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith("Serving on "):
                self.url = line.split("Serving on ", 1)[1].strip()
                return
        self.stop()
        raise RuntimeError("hearth serve did not start:\n" + "".join(self.output))

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
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
