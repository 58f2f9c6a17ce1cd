"""The guard that stops llama-servers when Hearth dies, where PR_SET_PDEATHSIG is missing.

macOS and Windows cannot be had here, so these tests run the guard on Linux
with the parent-death signal turned off (``HEARTH_CHILD_WATCH=guard-process``):
the same code, real processes, real pipes, real ``kill -9``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
import requests

from app.runner.child_guard import GUARD_FLAG, ChildGuard
from app.settings import SettingsError, load_settings
from tests.hearth_process import REPO, HearthFactory, HearthProcess


def sleeper() -> subprocess.Popen[bytes]:
    """A stand-in child in its own session, as llama-servers are started."""
    command = [sys.executable, "-c", "import time; time.sleep(120)"]
    return subprocess.Popen(command, start_new_session=True)


def guard_processes(parent_pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(parent_pid).children()
    except psutil.NoSuchProcess:
        return []
    return [child for child in children if GUARD_FLAG in child.cmdline()]


FAKE_HEARTH = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from app.runner.child_guard import ChildGuard
    guard = ChildGuard()
    spawn = lambda: subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    watched, forgotten = spawn(), spawn()
    guard.watch(watched.pid)
    guard.watch(forgotten.pid)
    guard.forget(forgotten.pid)
    print(json.dumps({"watched": watched.pid, "forgotten": forgotten.pid, "guard": guard.pid}))
    sys.stdout.flush()
    time.sleep(120)
    """
)


def test_kill_9_of_the_parent_stops_only_the_watched_children() -> None:
    """A stand-in Hearth (real ChildGuard, real children) is SIGKILLed."""
    parent = subprocess.Popen(
        [sys.executable, "-c", FAKE_HEARTH], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pids = json.loads(parent.stdout.readline())
    watched, forgotten, guard = (psutil.Process(pids[k]) for k in ("watched", "forgotten", "guard"))
    try:
        parent.kill()
        parent.wait()
        gone, alive = psutil.wait_procs([watched, guard], timeout=10)
        assert not alive, f"still running after the parent died: {alive}"
        assert forgotten.is_running(), "a forgotten pid must be left alone"
    finally:
        for process in (watched, forgotten, guard):
            if process.is_running():
                process.kill()


def test_a_killed_guard_is_replaced_and_told_every_watched_pid() -> None:
    guard = ChildGuard()
    first, second = sleeper(), sleeper()
    try:
        guard.watch(first.pid)
        assert guard.pid is not None
        old = psutil.Process(guard.pid)
        old.kill()
        old.wait(5)
        guard.watch(second.pid)  # notices the dead guard and starts another
        assert guard.pid != old.pid
        guard.close()  # end-of-file: the new guard stops both
        assert first.wait(10) is not None
        assert second.wait(10) is not None
    finally:
        for child in (first, second):
            child.kill()
            child.wait()


def test_a_child_that_ignores_sigterm_is_killed() -> None:
    ignore_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    command = [sys.executable, "-c", f"{ignore_term}; print(1, flush=True); time.sleep(120)"]
    stubborn = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # its handler is in place
    guard = ChildGuard()
    try:
        guard.watch(stubborn.pid)
        guard.close()
        assert stubborn.wait(10) == -9
    finally:
        stubborn.kill()
        stubborn.wait()


def test_child_watch_setting() -> None:
    assert load_settings({}).child_watch == "parent-death-signal"  # this is Linux
    chosen = load_settings({"HEARTH_CHILD_WATCH": "guard-process"})
    assert chosen.child_watch == "guard-process"
    with pytest.raises(SettingsError, match="HEARTH_CHILD_WATCH"):
        load_settings({"HEARTH_CHILD_WATCH": "hope"})


def test_kill_9_of_serve_with_the_guard_stops_its_llama_server(
    tmp_path: Path, llama_server_binary: Path, gemma_gguf_path: Path
) -> None:
    """The real thing: ``hearth serve`` as on macOS/Windows, a loaded model, ``kill -9``.

    To show it is the guard and not the kernel that stops llama-server, the
    guard is paused (SIGSTOP) while Hearth is killed: llama-server must
    outlive Hearth until the guard runs again, then go.
    """
    own = HearthProcess(tmp_path, llama_server_binary, {"HEARTH_CHILD_WATCH": "guard-process"})
    own.cli("import", str(gemma_gguf_path), "g:1")
    own.start()
    started: list[psutil.Process] = []
    try:
        requests.post(
            f"{own.ollama_url}/api/generate", json={"model": "g:1"}, timeout=120
        ).raise_for_status()
        (runner,) = own.llama_servers()
        assert own.process is not None
        (guard,) = guard_processes(own.process.pid)
        started += [runner, guard]
        guard.suspend()
        own.process.kill()
        own.process.wait()
        gone, alive = psutil.wait_procs([runner], timeout=2)
        assert alive, "llama-server died with Hearth: the parent-death signal is still set"
        guard.resume()
        gone, alive = psutil.wait_procs([runner, guard], timeout=10)
        assert not alive, f"left running after kill -9: {alive}"
    finally:
        own.stop()
        for process in started:  # a failed run must not leave them behind either
            if process.is_running():
                process.resume()
                process.kill()


def test_a_normal_quit_with_the_guard_leaves_nothing_running(make_hearth: HearthFactory) -> None:
    own = make_hearth(env={"HEARTH_CHILD_WATCH": "guard-process"}, models=["g:1"])
    requests.post(f"{own.ollama_url}/api/generate", json={"model": "g:1"}, timeout=120)
    assert own.process is not None
    left = own.llama_servers() + guard_processes(own.process.pid)
    assert len(left) == 2
    own.stop()
    assert own.process.returncode == 0
    gone, alive = psutil.wait_procs(left, timeout=10)
    assert not alive


SPAWN_A_GRANDCHILD = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


def test_the_guard_refuses_pids_that_are_not_its_parents_children() -> None:
    """A pid Hearth did not start (here: a grandchild of the test) is never signalled."""
    middle = subprocess.Popen([sys.executable, "-c", SPAWN_A_GRANDCHILD], stdout=subprocess.PIPE)
    assert middle.stdout is not None
    stranger = psutil.Process(int(middle.stdout.readline()))
    guard = ChildGuard()
    try:
        guard.watch(stranger.pid)
        guard.close()
        assert stranger.status() != psutil.STATUS_ZOMBIE  # not even stopped and left unreaped
    finally:
        stranger.kill()
        middle.kill()
        middle.wait()
