"""How a llama-server ended, in the words an error shows (app.runner.process, crash_words).

Real child processes end by themselves or by a real signal; their real
return codes are put into words.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from app.runner.crash_words import last_error_line
from app.runner.process import exit_words


def ended(code: str) -> int:
    """The return code of a Python child that runs ``code``."""
    return subprocess.run([sys.executable, "-c", code], check=False).returncode


@pytest.mark.skipif(sys.platform == "win32", reason="signals end processes on POSIX")
@pytest.mark.parametrize(
    ("number", "words"),
    [
        (signal.SIGKILL, "exited with signal 9 (SIGKILL)"),
        (signal.SIGSEGV, "exited with signal 11 (SIGSEGV)"),
        (signal.SIGABRT, "exited with signal 6 (SIGABRT)"),
    ],
)
def test_a_signal_is_named(number: int, words: str) -> None:
    code = ended(f"import os; os.kill(os.getpid(), {int(number)})")
    assert code == -number
    assert exit_words(code) == words


def test_an_exit_status_is_a_status() -> None:
    assert exit_words(ended("raise SystemExit(3)")) == "exited with status 3"
    assert exit_words(0) == "exited with status 0"
    assert exit_words(None) == "is still running"
    assert exit_words(-200) == "exited with signal 200"  # no such signal: the number alone


def test_the_last_error_line_of_a_log() -> None:
    tail = "\n".join(
        [
            "main: server is listening on http://127.0.0.1:40000",
            "0.00.003.149 E llama_init: error: unsupported model architecture",
            "/src/ggml.c:1234: GGML_ASSERT(ne > 0) failed",
            "srv  update_slots: all slots are idle",
        ]
    )
    assert last_error_line(tail) == "/src/ggml.c:1234: GGML_ASSERT(ne > 0) failed"
    assert last_error_line("slot 0 | task 3 | n_past = 40\nprompt done") == ""
    # a warning that merely names an error is none (seen in a real log)
    warning = "0.00.003.149 W srv  llama_server: setting n_batch = 512 to avoid assertion failure"
    assert last_error_line(f"{tail}\n{warning}").endswith("GGML_ASSERT(ne > 0) failed")
    assert last_error_line(warning + "\n0.00.003.150 W a warning, not an error: x") == ""
    assert last_error_line("0.01.000.001 E llama_init: error: x").endswith("error: x")
    assert len(last_error_line("error: " + "x" * 1000)) == 240
