"""``hearth run``, ``ps`` and ``stop`` as a person types them, against real llama-server runs.

Each command runs as its own process with its own HEARTH_HOME: alone (the
model runs inside the command) or next to a running ``hearth serve`` (the
command uses that Hearth's models). The chat is driven through a real
pseudo-terminal, so line editing, Ctrl+C and Ctrl+D go the way a terminal
sends them. A greedy copy of Gemma (temperature 0, a seed, few tokens) keeps
answers short and the same each time.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from app.api_types import CreateRequest
from app.cli_run import AnswerView, processor, until
from app.gofmt import go_duration
from app.hearth import Hearth
from app.settings import load_settings
from tests.conftest import GEMMA_NAME
from tests.hearth_process import REPO, HearthFactory, HearthProcess
from tests.waiting import wait_until

GREEDY = "greedy:latest"
PATIENCE = 300.0
"""Seconds to wait for an answer before calling the test stuck (a slow, busy CPU is fine)."""


@pytest.fixture(scope="module")
def home(make_module_hearth: HearthFactory) -> Path:
    """A home with Gemma imported and a greedy, short-answering copy of it."""
    home = make_module_hearth(models=[GEMMA_NAME], start=False).home
    hearth = Hearth(load_settings({"HEARTH_HOME": str(home)}))
    try:
        parameters = {"temperature": 0, "seed": 42, "num_predict": 12}
        statuses = list(
            hearth.create(
                CreateRequest.parse({"model": GREEDY, "from": GEMMA_NAME, "parameters": parameters})
            )
        )
        assert statuses[-1] == {"status": "success"}, statuses
    finally:
        hearth.close()
    return home


@pytest.fixture
def cli(home: Path, make_hearth: HearthFactory) -> HearthProcess:
    """The ``hearth`` command on that home (``cli(...)``), with no Hearth started."""
    return make_hearth(home=home, start=False)


@pytest.fixture
def served(home: Path, make_hearth: HearthFactory) -> HearthProcess:
    """A ``hearth serve`` owning the home, as the desktop app would."""
    return make_hearth(home=home)


# -- one answer -------------------------------------------------------------


def test_run_with_a_prompt_prints_an_answer_and_exits(cli: HearthProcess) -> None:
    done = cli.cli("run", GREEDY, "Say", "hello.", check=False, timeout=PATIENCE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "no answer printed"
    assert done.stdout.endswith("\n")


def test_run_reads_a_piped_prompt(cli: HearthProcess) -> None:
    done = cli.cli("run", GREEDY, input="Name a colour.\n", check=False, timeout=PATIENCE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_verbose_prints_ollamas_stats_on_stderr(cli: HearthProcess) -> None:
    done = cli.cli("run", GREEDY, "--verbose", "Say", "hi.", check=False, timeout=PATIENCE)
    assert done.returncode == 0, done.stderr
    for label in ("total duration:", "eval count:", "eval rate:", "tokens/s"):
        assert label in done.stderr, done.stderr
    assert "tokens/s" not in done.stdout


def test_an_unknown_model_says_how_to_get_it(cli: HearthProcess) -> None:
    done = cli.cli("run", "no-such-model", "hi", check=False)
    assert done.returncode != 0
    assert "not installed" in done.stderr and "hearth pull no-such-model" in done.stderr
    assert "Traceback" not in done.stderr


def test_ps_and_stop_with_no_hearth_running_say_nothing_is_loaded(cli: HearthProcess) -> None:
    ps = cli.cli("ps")
    assert "no models are loaded" in ps.stdout
    stop = cli.cli("stop", GREEDY)
    assert "not loaded" in stop.stdout


# -- with a running Hearth ---------------------------------------------------


def test_run_uses_the_running_hearth_and_ps_and_stop_see_it(served: HearthProcess) -> None:
    ps_url = f"{served.ollama_url}/api/ps"
    done = served.cli("run", GREEDY, "Say", "hello.", check=False, timeout=PATIENCE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    # The answer came from the served Hearth: its model stays loaded there.
    assert [m["name"] for m in requests.get(ps_url, timeout=10).json()["models"]] == [GREEDY]
    table = served.cli("ps").stdout.splitlines()
    assert table[0].split() == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    assert table[1].startswith(GREEDY) and "from now" in table[1], table

    stopped = served.cli("stop", GREEDY, check=False)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(
        lambda: requests.get(ps_url, timeout=10).json()["models"] == [],
        "the model was not unloaded",
        timeout=30,
    )
    assert served.cli("ps").stdout.splitlines()[1:] == []
    unknown = served.cli("stop", "no-such-model", check=False)
    assert unknown.returncode != 0 and "no-such-model" in unknown.stderr


def test_rm_goes_through_the_running_hearth_and_unloads_the_model(served: HearthProcess) -> None:
    """``ollama rm`` unloads a loaded model; files deleted behind the running Hearth's back
    would leave its runner in ``ps``, holding memory, with no name to ``stop`` it by."""
    api = served.ollama_url
    copy = "doomed:latest"
    requests.post(f"{api}/api/copy", json={"source": GREEDY, "destination": copy}, timeout=30)
    loaded = requests.post(f"{api}/api/generate", json={"model": copy}, timeout=PATIENCE)
    assert loaded.status_code == 200, loaded.text
    assert copy in [m["name"] for m in requests.get(f"{api}/api/ps", timeout=10).json()["models"]]

    done = served.cli("rm", copy, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"deleted '{copy}'\n"
    wait_until(
        lambda: (
            copy
            not in [m["name"] for m in requests.get(f"{api}/api/ps", timeout=10).json()["models"]]
        ),
        "the deleted model stayed loaded",
        timeout=30,
    )
    tags = requests.get(f"{api}/api/tags", timeout=10).json()["models"]
    assert copy not in [m["name"] for m in tags]
    missing = served.cli("rm", copy, check=False)
    assert missing.returncode == 1 and f"model '{copy}' not found" in missing.stderr


# -- the chat on a terminal ---------------------------------------------------


class Terminal:
    """``hearth`` in a pseudo-terminal of its own: type into it and read what it shows."""

    def __init__(self, cli: HearthProcess, *args: str) -> None:
        import pty  # POSIX only: the tests using it are skipped on Windows

        env = {**cli.env(), "TERM": "dumb"}
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes hearth, with the terminal as its controlling tty
            try:
                os.chdir(REPO)
                os.execve(sys.executable, [sys.executable, "-m", "app", *args], env)
            finally:
                os._exit(127)  # never back into pytest in the child
        self.pid, self.fd = pid, fd
        self.output = ""
        self.status: int | None = None

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def read(self, timeout: float) -> bool:
        """Take in what the terminal shows within ``timeout``; False once the child closed it."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not data:
            return False
        self.output += data.decode("utf-8", "replace")
        return True

    def enter(self, line: str, then: str, start: int) -> int:
        """Type ``line`` and Enter, then ``expect(then, start)``; its end offset."""
        self.type(line + "\r")
        return self.expect(then, start)

    def expect(self, text: str, start: int, timeout: float = PATIENCE) -> int:
        """Wait until ``text`` shows after offset ``start``; its end offset."""
        deadline = time.monotonic() + timeout
        while text not in self.output[start:]:
            assert time.monotonic() < deadline, f"{text!r} not shown; got:\n{self.output[start:]}"
            if not self.read(0.2):
                raise AssertionError(f"hearth ended before {text!r}:\n{self.output[start:]}")
        return self.output.index(text, start) + len(text)

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        raise AssertionError(f"hearth did not exit:\n{self.output}")

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ProcessLookupError:
                pass
        os.close(self.fd)


POSIX_TERMINAL = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


@pytest.fixture
def terminal(cli: HearthProcess) -> Iterator[Terminal]:
    chat = Terminal(cli, "run", GREEDY)
    yield chat
    chat.close()


@POSIX_TERMINAL
def test_chat_answers_keeps_going_and_quits(terminal: Terminal) -> None:
    at = terminal.expect(">>> ", 0)
    at = terminal.enter("/?", "/bye", at)
    at = terminal.expect(">>> ", at)
    at = terminal.enter("Say hello.", "Say hello.", at)
    answer_end = terminal.expect(">>> ", at)
    assert terminal.output[at : answer_end - 4].strip(), "no answer shown"
    at = terminal.enter('"""Two', "... ", answer_end)
    at = terminal.enter('lines."""', ">>> ", at)
    at = terminal.enter("/clear", "Cleared session context", at)
    at = terminal.enter("/nonsense", "Unknown command '/nonsense'", at)
    terminal.expect(">>> ", at)
    terminal.type("/bye\r")
    assert terminal.wait() == 0


@POSIX_TERMINAL
@pytest.mark.parametrize("served_too", [False, True], ids=["alone", "served"])
def test_ctrl_c_stops_the_answer_not_the_chat(
    cli: HearthProcess, home: Path, make_hearth: HearthFactory, served_too: bool
) -> None:
    """Alone, Ctrl+C cuts this process's stream from llama-server; served, the socket to the
    running Hearth, which then stops the answer itself."""
    with contextlib.ExitStack() as stack:
        if served_too:
            server = make_hearth(home=home)
            stack.callback(server.stop)
        terminal = Terminal(cli, "run", GREEDY)
        stack.callback(terminal.close)
        at = terminal.expect(">>> ", 0)
        # A long answer, with stats: they come only after an answer that ran to its end.
        at = terminal.enter("/set parameter num_predict 400", ">>> ", at)
        at = terminal.enter("/set verbose", ">>> ", at)
        at = terminal.enter("Write a long story about a dragon and a knight.", "knight.", at)
        at = terminal.expect("\n", at)
        deadline = time.monotonic() + PATIENCE
        while not terminal.output[at:].strip():  # the answer has begun
            assert time.monotonic() < deadline, "no answer began"
            terminal.read(0.2)
        cancelled = _cancelled_tasks(home)
        terminal.type("\x03")
        back = terminal.expect(">>> ", at)
        assert "eval count" not in terminal.output[at:back], "the answer ran to its end"
        # And llama-server stopped making it (not only the terminal showing it).
        wait_until(
            lambda: _cancelled_tasks(home) > cancelled, "llama-server went on", timeout=PATIENCE
        )
        terminal.type("\x04")  # Ctrl+D at an empty prompt leaves, as /bye does
        assert terminal.wait() == 0


# -- what the terminal shows ----------------------------------------------------


def test_thinking_is_shown_apart_from_the_answer_or_left_out() -> None:
    shown = io.StringIO()
    view = AnswerView(shown, show_thinking=True)
    for message in ({"thinking": "Hmm, "}, {"thinking": "two."}, {"content": "2"}):
        view.add(message)
    view.end()
    assert shown.getvalue() == "Thinking...\nHmm, two.\n...done thinking.\n\n2\n"
    hidden = io.StringIO()
    view = AnswerView(hidden, show_thinking=False)
    view.add({"thinking": "Hmm"})
    view.add({"content": "2"})
    view.end()
    assert hidden.getvalue() == "2\n"


def test_stats_and_ps_columns_read_as_ollamas() -> None:
    assert [go_duration(n) for n in (0, 812, 1500, 35_200_000, 62_050_000_000)] == [
        "0s",
        "812ns",
        "1.5µs",
        "35.2ms",
        "1m2.05s",
    ]
    assert processor(100, 0) == "100% CPU" and processor(100, 100) == "100% GPU"
    assert processor(100, 25) == "75%/25% CPU/GPU"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert until((now + timedelta(minutes=4, seconds=30)).isoformat(), now) == "4 minutes from now"
    assert until((now + timedelta(days=365 * 300)).isoformat(), now) == "Forever"
    assert until((now - timedelta(seconds=1)).isoformat(), now) == "Stopping..."


def _cancelled_tasks(home: Path) -> int:
    """How many answers llama-server has stopped part-way for this model, from its log."""
    return sum(
        log.read_text(errors="replace").count("cancel task")
        for log in (home / "logs").glob("llama-server-greedy*.log")
    )
