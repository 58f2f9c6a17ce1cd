"""One line in ``hearth.log`` per request: what a client asked and what it got.

Why a WSGI wrapper rather than Flask hooks: a streamed answer is still being
written long after ``after_request`` ran, and its duration is the one that
matters. The WSGI server calls the response's ``close()`` once the last byte
is out (or the client left), so the line is written there.

What a line holds: method, path (never the query string, which may carry
``?token=``), status, duration in ms, the model the body named (routes put it
in the environ, see :data:`MODEL_KEY`), and the bytes sent when the response
declared a ``Content-Length``. Never headers (``Authorization``, cookies),
never bodies (prompts). Streams are not counted chunk by chunk: iteration is
handed straight to the inner iterator, so a token costs nothing extra here.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger("hearth.request")

MODEL_KEY = "hearth.model"
"""Environ key where a route leaves the model name its body named."""
_UNSAFE = re.compile(r"[^\x21-\x7e]")
_MAX_FIELD = 200


def safe_field(text: str) -> str:
    """``text`` fit for one log line: no spaces or control characters, bounded."""
    text = text[:_MAX_FIELD]
    return _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}" if ord(m.group()) < 256 else "?", text)


def note_model(environ: dict[str, Any], body: Any) -> None:
    """Remember the model a JSON body names, for this request's log line."""
    if isinstance(body, dict):
        name = body.get("model") or body.get("name") or body.get("source")
        if isinstance(name, str) and name:
            environ[MODEL_KEY] = name


class _Logged:
    """The app's response, iterated as it is; ``close()`` closes it and logs the line."""

    def __init__(self, inner: Iterable[bytes], done: Callable[[], None]) -> None:
        self._inner = inner
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


class RequestLog:
    """WSGI middleware: wraps ``app`` and logs each request once, when it has ended."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        seen: dict[str, Any] = {}

        def recording_start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            for name, value in headers:
                if name.lower() == "content-length":
                    seen["bytes"] = value
            return start_response(status, headers, *rest)

        def done() -> None:
            self._write(environ, seen.get("status", "-"), started, seen.get("bytes"))

        try:
            inner = self.app(environ, recording_start)
        except BaseException:
            self._write(environ, "500", started, None)
            raise
        return _Logged(inner, done)

    @staticmethod
    def _write(environ: dict[str, Any], status: str, started: float, size: str | None) -> None:
        millis = (time.perf_counter() - started) * 1000
        path = safe_field(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        line = f"{safe_field(environ.get('REQUEST_METHOD', '-'))} {path} {status} {millis:.1f}ms"
        model = environ.get(MODEL_KEY)
        if model:
            line += f" model={safe_field(model)}"
        if size is not None:
            line += f" bytes={safe_field(size)}"
        log.info("%s", line)
