"""``hearth run``, ``hearth ps`` and ``hearth stop``, as an Ollama user expects them.

``run MODEL PROMPT`` (or text piped on stdin) answers once and exits; ``run
MODEL`` on a terminal opens the chat in ``app.cli_repl``. Where the model
runs (the running Hearth, or this process) is ``app.cli_client``'s choice.

A model that is not installed is not pulled on its own, unlike Ollama: Hearth
goes to the network only when asked to (``hearth pull``), so a mistyped name
never reaches a registry. The error says which command gets the model.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from app.cli_client import Backend, InProcess, ModelHost, find_running
from app.cli_format import human_size, print_table
from app.errors import HearthError, NotFound
from app.gofmt import go_duration
from app.runner.abort import Abort
from app.settings import Settings

DIM, RESET = "\x1b[2m", "\x1b[0m"
ABORT_GRACE_SECONDS = 5.0
"""How long Ctrl+C waits for the stopped answer's stream to end before going on anyway."""


@dataclass
class Session:
    """What one ``hearth run`` asks for; the chat's ``/set`` commands change it."""

    model: str
    verbose: bool = False
    think: bool | str | None = None
    hide_thinking: bool = False
    keep_alive: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    system: str | None = None

    def request(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.options:
            body["options"] = dict(self.options)
        if self.think is not None:
            body["think"] = self.think
        if self.keep_alive is not None:
            body["keep_alive"] = self.keep_alive
        return body


@dataclass
class Answer:
    """How one streamed answer ended."""

    content: str = ""
    final: dict[str, Any] | None = None
    interrupted: bool = False
    error: str | None = None


class AnswerView:
    """Writes an answer as it streams: thinking dimmed (or left out), then the words.

    Thinking is shown as Ollama shows it, between ``Thinking...`` and
    ``...done thinking.``; dimmed on a terminal that has colours. Left out when asked
    (``--hidethinking``) or when the output is not a terminal and thinking
    was not asked for (``--think``), so a script reading stdout gets the answer.
    """

    def __init__(self, out: TextIO, show_thinking: bool) -> None:
        self.out = out
        self.show_thinking = show_thinking
        self.tty = _colours(out)
        self.thinking = False
        self.last = "\n"

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self.last = text[-1]

    def add(self, message: dict[str, Any]) -> None:
        thought = message.get("thinking") or ""
        if thought and self.show_thinking:
            if not self.thinking:
                self.thinking = True
                self._write((DIM if self.tty else "") + "Thinking...\n")
            self._write(thought)
        content = message.get("content") or ""
        if content:
            self._end_thinking()
            self._write(content)

    def _end_thinking(self) -> None:
        if self.thinking:
            self.thinking = False
            self._write("\n...done thinking.\n\n" + (RESET if self.tty else ""))

    def end(self) -> None:
        """Close the thinking block and the line, so what comes next starts on its own line."""
        self._end_thinking()
        if self.last != "\n":
            self._write("\n")


def _colours(out: TextIO) -> bool:
    """Dim text only on a terminal that shows it: not with ``NO_COLOR`` set or ``TERM=dumb``."""
    return out.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def stream_answer(backend: Backend, request: dict[str, Any], view: AnswerView | None) -> Answer:
    """One chat request, streamed to ``view``; Ctrl+C stops this answer, not the program.

    Why a reader thread and a SIGINT handler that only sets ``abort``: a
    KeyboardInterrupt raised wherever the main thread happens to be (inside
    the scheduler's bookkeeping when in-process, inside urllib3 when remote)
    could leave either half-done. Setting ``abort`` shuts the connection to
    llama-server (or to the running Hearth), which stops the work properly.
    """
    abort = Abort()
    items: queue.Queue[tuple[str, Any]] = queue.Queue()

    def read() -> None:
        try:
            for item in backend.chat(request, abort):
                items.put(("item", item))
        except Exception as error:  # shown as words below, whatever it is
            items.put(("error", error))
        finally:
            items.put(("end", None))

    answer = Answer()
    threading.Thread(target=read, name="hearth-run-reader", daemon=True).start()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda *_: abort.set()) if in_main else None
    try:
        _pump(items, abort, answer, view)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    answer.interrupted = abort.is_set()
    if view is not None:
        view.end()
    return answer


def _pump(
    items: queue.Queue[tuple[str, Any]], abort: Abort, answer: Answer, view: AnswerView | None
) -> None:
    """Print what the reader passes on until its stream ends (or, stopped, until a grace ends)."""
    deadline: float | None = None
    while True:
        try:
            kind, value = items.get(timeout=0.1)
        except queue.Empty:
            if abort.is_set():
                deadline = deadline or time.monotonic() + ABORT_GRACE_SECONDS
                if time.monotonic() > deadline:
                    return
            continue
        if kind == "end":
            return
        if abort.is_set():
            continue  # stopped: what was still on its way is not shown
        if kind == "error":
            answer.error = _words(value)
            continue
        message = value.get("message") or {}
        answer.content += message.get("content") or ""
        if view is not None:
            view.add(message)
        if value.get("done"):
            answer.final = value


def _words(error: BaseException) -> str:
    return str(error) if isinstance(error, HearthError) else f"{type(error).__name__}: {error}"


def print_stats(final: dict[str, Any], out: TextIO) -> None:
    """``ollama run --verbose``'s lines, to stderr as Ollama writes them (``Metrics.Summary``)."""
    total = int(final.get("total_duration") or 0)
    load = int(final.get("load_duration") or 0)
    prompt_count = int(final.get("prompt_eval_count") or 0)
    prompt_ns = int(final.get("prompt_eval_duration") or 0)
    count = int(final.get("eval_count") or 0)
    eval_ns = int(final.get("eval_duration") or 0)
    lines = []
    if total > 0:
        lines.append(f"total duration:       {go_duration(total)}")
    if load > 0:
        lines.append(f"load duration:        {go_duration(load)}")
    if prompt_count > 0:
        lines.append(f"prompt eval count:    {prompt_count} token(s)")
    if prompt_ns > 0:
        lines.append(f"prompt eval duration: {go_duration(prompt_ns)}")
        lines.append(f"prompt eval rate:     {prompt_count / (prompt_ns / 1e9):.2f} tokens/s")
    if count > 0:
        lines.append(f"eval count:           {count} token(s)")
    if eval_ns > 0:
        lines.append(f"eval duration:        {go_duration(eval_ns)}")
        lines.append(f"eval rate:            {count / (eval_ns / 1e9):.2f} tokens/s")
    if lines:
        out.write("\n".join(lines) + "\n")
        out.flush()


def check_model(backend: Backend, name: str) -> dict[str, Any]:
    """The model's ``show``; a missing one is an error saying how to get it."""
    try:
        info = backend.show(name)
    except NotFound:
        raise NotFound(
            f"model '{name}' is not installed. Get it with: hearth pull {name}"
            " (or add a GGUF file with: hearth import FILE NAME)"
        ) from None
    capabilities = info.get("capabilities") or []
    if capabilities and "completion" not in capabilities:
        raise HearthError(f"'{name}' cannot chat (it is an embedding model)")
    return info


def _stdin_text() -> str | None:
    """What was piped on stdin, or None when stdin is a terminal (or closed)."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    return sys.stdin.read()


def run_model(
    args: argparse.Namespace,
    settings: Settings,
    make_host: Callable[[], ModelHost],
    chat_loop: Callable[[Backend, Session], int],
) -> int:
    """``hearth run MODEL [PROMPT...]``.

    As Ollama: piped stdin comes first, then the words on the command line,
    joined by a space; with either, one answer and exit; with neither, on a
    terminal, the chat (``chat_loop``: app.cli_repl's, which builds on this module).
    """
    think, first_word = _think_value(args.think)
    session = Session(
        model=args.model,
        verbose=args.verbose,
        think=think,
        hide_thinking=args.hidethinking,
        keep_alive=args.keepalive,
    )
    piped = _stdin_text()
    words = " ".join([*first_word, *args.prompt])
    # Stripped: ``echo question | hearth run`` ends with a newline the person did not
    # mean to ask (Gemma 3 270M answers "question\n" with nothing at all).
    prompt = " ".join(part for part in (piped, words) if part).strip()
    interactive = piped is None and not words
    remote = find_running(settings.data_dir)
    backend: Backend = remote if remote is not None else InProcess(make_host())
    try:
        check_model(backend, session.model)
        if interactive:
            return chat_loop(backend, session)
        return _answer_once(backend, session, prompt)
    finally:
        backend.close()


def _think_value(raw: str | None) -> tuple[bool | str | None, list[str]]:
    """(``think``, words of the prompt ``--think`` took for its value).

    ``--think`` alone is true, ``--think false`` false, ``low``/``medium``/
    ``high``/``max`` as given. Anything else was the prompt's first word
    (``run MODEL --think why is...``: argparse hands it to the option), so
    it goes back to the prompt and thinking is on.
    """
    if raw is None:
        return None, []
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true", []
    if lowered in ("low", "medium", "high", "max"):
        return lowered, []
    return True, [raw]


def show_thinking(session: Session, out: TextIO) -> bool:
    """On a terminal thinking shows unless hidden; elsewhere only when ``--think`` asked for it."""
    if session.hide_thinking or session.think is False:
        return False
    return out.isatty() or session.think is not None


def _answer_once(backend: Backend, session: Session, prompt: str) -> int:
    if not prompt:
        # Nothing to ask (an empty pipe): load the model, as ``ollama run`` does.
        answer = stream_answer(backend, session.request([]), None)
    else:
        messages = [{"role": "user", "content": prompt}]
        if session.system:
            messages.insert(0, {"role": "system", "content": session.system})
        view = AnswerView(sys.stdout, show_thinking(session, sys.stdout))
        answer = stream_answer(backend, session.request(messages), view)
    if answer.interrupted:
        return 130
    if answer.error is not None:
        print(f"Error: {answer.error}", file=sys.stderr)
        return 1
    if session.verbose and answer.final is not None and prompt:
        print_stats(answer.final, sys.stderr)
    return 0


def show_ps(settings: Settings) -> int:
    """``hearth ps``: the running Hearth's loaded models, in ``ollama ps``'s columns."""
    remote = find_running(settings.data_dir)
    if remote is None:
        print("no Hearth is running here, so no models are loaded")
        return 0
    rows = [("NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL")]
    for model in remote.ps():
        size, vram = int(model.get("size") or 0), int(model.get("size_vram") or 0)
        rows.append(
            (
                str(model.get("name", "")),
                str(model.get("digest", ""))[:12],
                human_size(size),
                processor(size, vram),
                str(model.get("context_length") or ""),
                until(str(model.get("expires_at", ""))),
            )
        )
    print_table(rows)
    return 0


def processor(size: int, vram: int) -> str:
    """Ollama's PROCESSOR column: where the loaded model's memory is."""
    if vram == 0:
        return "100% CPU"
    if vram == size:
        return "100% GPU"
    if vram > size or size == 0:
        return "Unknown"
    cpu = round((size - vram) / size * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def until(expires_at: str, now: datetime | None = None) -> str:
    """Ollama's UNTIL column: ``4 minutes from now``, ``Forever``, or ``Stopping...``."""
    try:
        when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    left = (when - (now or datetime.now(UTC))).total_seconds()
    if left < 0:
        return "Stopping..."
    if left > 20 * 365 * 86400:
        return "Forever"
    return f"{human_duration(left)} from now"


def human_duration(seconds: float) -> str:
    """Go Ollama's ``format.humanDuration``, so the words match ``ollama ps``."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 14:
        return f"{hours // 24} days"
    if hours < 24 * 60:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 730:
        return f"{hours // (24 * 30)} months"
    return f"{int(seconds / 86400 / 365)} years"


def stop_model(settings: Settings, name: str) -> int:
    """``hearth stop MODEL``: unload it in the running Hearth; silent on success, as Ollama."""
    remote = find_running(settings.data_dir)
    if remote is None:
        print(f"no Hearth is running here, so '{name}' is not loaded")
        return 0
    try:
        remote.unload(name)
    except NotFound:
        raise NotFound(f"couldn't find model '{name}' to stop") from None
    return 0
