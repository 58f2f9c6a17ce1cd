"""Why a llama-server broke off an answer, in the words the error shows.

Why its own module: the connection to llama-server breaking says only
that it broke. What a person needs is how the runner ended (a signal, an
assert in its log), which worker of a split model went away, or that a
worker went silent; all of that is read from the process, its log and the
workers, never from the HTTP exchange (``app.runner.llama_client``).
"""

from __future__ import annotations

import re

import requests

from app.runner.process import LlamaServer, exit_words
from app.runner.worker_plan import lost_workers

CRASH_WAIT = 2.0
"""Seconds a broken stream waits for llama-server to exit, so the error can say how it ended.

Why wait: the stream breaks the moment the socket closes, a little before
the process is reaped; without the wait the error could only guess."""
EXIT_WAIT = 20.0
"""Seconds a split model's runner may take to finish aborting before its workers are checked."""
LOG_LINES_SEARCHED = 20
ERROR_WORDS = re.compile(
    r"GGML_ASSERT|terminate called|\berror\b|\bfatal\b|\baborted\b|out of memory"
    r"|segmentation fault|failed to allocate",
    re.I,
)
NOT_AN_ERROR = re.compile(r"^\s*[\d.]+ [DIW] ")
"""A line llama.cpp logged as debug, info or a warning (``0.00.003.149 W srv ...``)."""
RPC_ABORTS = ("Remote RPC server crashed", "Failed to connect to", "RPC handshake failed")
"""What the pinned llama.cpp says as it aborts when a worker is lost (``ggml-rpc.cpp``)."""


def crash_message(server: LlamaServer, error: BaseException) -> str:
    """What a request to ``server`` that broke with ``error`` tells the person.

    May take seconds: it waits for the process to exit (``CRASH_WAIT``), or
    for a split model's runner to finish aborting (``EXIT_WAIT``), and a
    stalled split runner is stopped here.
    """
    if server.config.rpc and timed_out(error):
        return _stalled_message(server)
    lost = _lost_workers_message(server)
    if lost:
        return lost
    if not server.wait_exit(CRASH_WAIT):
        return (
            "model runner stopped responding: the connection to llama-server broke while it"
            " was still running. It is restarted for the next request; its log may say why."
        )
    said = last_error_line(server.log_tail(LOG_LINES_SEARCHED))
    return (
        f"model runner has unexpectedly stopped: llama-server {exit_words(server.returncode)}"
        " while answering. It is started again for the next request"
        + (f"; its log says: {said}" if said else "; its log may say why")
        + "."
    )


def timed_out(error: BaseException) -> bool:
    """A read timeout, however requests wraps it (``ReadTimeout`` or mid-stream)."""
    return isinstance(error, requests.Timeout) or "timed out" in str(error)


def last_error_line(tail: str) -> str:
    """The last line of a log tail that names an error (an assert, an abort), or "".

    Why one line: the error a person reads is words, not a page of log; the
    full log is one click away (``GET /api/v1/logs/llama-server``).
    """
    for line in reversed(tail.splitlines()):
        if ERROR_WORDS.search(line) and not NOT_AN_ERROR.match(line):
            return line.strip()[:240]
    return ""


def _lost_workers_message(server: LlamaServer) -> str:
    """Name the workers a split model lost, or "": llama.cpp aborts when one stops answering.

    The workers are checked once the runner has exited (it prints a
    backtrace first, for a second or so): until then the ones still alive
    are held by it and would only answer "busy".
    """
    workers = server.config.rpc
    if not workers:
        return ""
    server.wait_exit(EXIT_WAIT)
    lost = [status for status in lost_workers(workers) if status.state != "busy"]
    if not lost:
        return ""
    names = "; ".join(status.describe() for status in lost)
    said = next(
        (
            line
            for line in reversed(server.log_tail(60).splitlines())
            if any(text in line for text in RPC_ABORTS)
        ),
        "",
    )
    return (
        f"a worker holding part of the model stopped answering ({names}), so the model runner"
        " stopped and the answer was cut. The next request loads the model without it."
        + (f" llama.cpp said: {said.rsplit(': ', 1)[-1]}" if said else "")
    )


def _stalled_message(server: LlamaServer) -> str:
    """A split runner said nothing for the stall bound: stop it and say which worker went."""
    server.stop(grace=1)
    lost = [status for status in lost_workers(server.config.rpc) if status.state != "busy"]
    which = "; ".join(status.describe() for status in lost) or ", ".join(server.config.rpc)
    return (
        f"the model runner said nothing for {server.stall_timeout:g} s while part of the model"
        f" is on workers ({which}): a worker may have left the network. The runner was"
        " stopped and the answer was cut; the next request checks the workers again."
    )
