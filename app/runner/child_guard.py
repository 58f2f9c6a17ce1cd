"""A guard process that stops Hearth's llama-servers when Hearth dies without stopping them.

Why: on Linux a child can ask the kernel for a signal when its parent dies
(``PR_SET_PDEATHSIG``, see ``app.runner.process``). macOS has nothing of
the kind; Windows has job objects, a second mechanism that could not be
tested here, and llama-server is not ours to change. So there, one
mechanism for both: Hearth starts one small guard process and tells it, over a pipe, the
pid of every llama-server it starts and stops. Hearth holds the pipe's only
write end (pipes are not inherited by other children), so however Hearth
ends, ``kill -9`` included, the operating system closes that end; the guard
reads end-of-file and stops every llama-server still on its list.

Only pids that are Hearth's own children when announced are taken, and
each is checked against the start time recorded then (psutil's identity
check), so a pid the system has since given to another program is never
signalled. The guard costs one idle process (about 14 MB RSS, measured)
and only exists once a model is loaded. One gap is left: a llama-server
started in the instant before Hearth is killed, not yet announced, stays
(Linux's variant closes it by checking the parent in the child).

Wire format, one line per change: ``+PID`` (watch) and ``-PID`` (forget).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

import psutil

GUARD_FLAG = "--child-guard"
"""The argument ``python -m app`` (or the frozen Hearth) takes to run as the guard."""

STOP_GRACE_SECONDS = 3.0


def guard_command() -> list[str]:
    """How to start the guard: the frozen Hearth itself, or this interpreter on ``app``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, GUARD_FLAG]
    return [sys.executable, "-m", "app", GUARD_FLAG]


class ChildGuard:
    """Hearth's side: starts the guard on first use and keeps it told.

    Thread-safe; a guard that died (someone killed it) is started again on
    the next change and told every pid still watched.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._watched: set[int] = set()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def watch(self, pid: int) -> None:
        with self._lock:
            self._watched.add(pid)
            self._send(f"+{pid}\n")

    def forget(self, pid: int) -> None:
        with self._lock:
            if pid not in self._watched:
                return
            self._watched.discard(pid)
            self._send(f"-{pid}\n")

    def close(self) -> None:
        """End the guard (it finds nothing left to stop); used at a normal quit and in tests."""
        with self._lock:
            process, self._process = self._process, None
            self._watched.clear()
        if process is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # type: ignore[union-attr]
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_SECONDS + 2)

    def _send(self, line: str) -> None:
        """Write one change; a dead guard is replaced and given the whole list."""
        if self._process is None or self._process.poll() is not None:
            self._process = _start_guard()
            line = "".join(f"+{pid}\n" for pid in sorted(self._watched))
        try:
            self._process.stdin.write(line.encode())  # type: ignore[union-attr]
            self._process.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            self._process = None  # it died just now; the next change starts another


def _start_guard() -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])  # so ``-m app`` finds this Hearth
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    extra: dict[str, object] = {}
    if sys.platform == "win32":
        extra["creationflags"] = subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
    else:
        extra["start_new_session"] = True  # Ctrl+C in a terminal is Hearth's to handle
    return subprocess.Popen(  # type: ignore[call-overload]
        guard_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        **extra,
    )


# -- the guard process itself ------------------------------------------------------------


def run_guard(changes: BinaryIO | None = None) -> int:
    """Follow the changes until end-of-file, then stop what is still watched."""
    with contextlib.suppress(AttributeError, ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if changes is None:
        changes = sys.stdin.buffer if sys.stdin is not None else open(0, "rb", closefd=False)  # noqa: SIM115
    hearth = os.getppid()
    watched: dict[int, psutil.Process] = {}
    for raw in changes:
        line = raw.strip()
        try:
            pid = int(line[1:])
        except ValueError:
            continue
        if line[:1] == b"+":
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)  # records its start time
                if process.ppid() == hearth:  # only ever Hearth's own children
                    watched[pid] = process
        elif line[:1] == b"-":
            watched.pop(pid, None)
    stop_all(list(watched.values()))
    return 0


def stop_all(processes: list[psutil.Process]) -> None:
    """Terminate, wait a little, then kill; psutil refuses pids reused by other programs."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=STOP_GRACE_SECONDS)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
