"""Network failures worded as Ollama words them (Go's net/http errors).

Why: clients show a failed pull's text to people, and some match on it.
``requests`` describes an unreachable registry as
``HTTPConnectionPool(host=..., port=1): Max retries exceeded with url: ...
(Caused by NewConnectionError(...))``; Ollama says
``Get "http://host:1/v2/...": dial tcp host:1: connect: connection refused``.
This module reads the cause out of the exception chain and says it Go's way.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import MaxRetryError

_CONNECT_ERRNOS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network is unreachable",
}


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what caused it (urllib3's ``reason``, ``__cause__``, ``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, MaxRetryError) and isinstance(current.reason, BaseException):
            current = current.reason
        elif current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
        else:
            current = current.__cause__ or current.__context__


def _host_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    shown = f"[{host}]" if ":" in host else host
    return host, f"{shown}:{port}"


def network_failure(method: str, error: Exception) -> str:
    """``Get "URL": <cause>`` with the cause in Go's words where we know them.

    The URL is the one that failed (after any redirect), as Go's error names it;
    an error that knows no request (``http.client``'s own) is said as it is.
    """
    request = getattr(error, "request", None)
    url = str(getattr(request, "url", "") or "")
    if not url:
        return str(error)
    host, address = _host_port(url)
    verb = method.capitalize()
    for cause in _causes(error):
        if isinstance(cause, socket.gaierror):
            return f'{verb} "{url}": dial tcp: lookup {host}: no such host'
        if isinstance(cause, ssl.SSLError):
            return f'{verb} "{url}": tls: {cause.reason or cause}'
        if isinstance(cause, OSError) and cause.errno in _CONNECT_ERRNOS:
            return f'{verb} "{url}": dial tcp {address}: connect: {_CONNECT_ERRNOS[cause.errno]}'
    if isinstance(error, requests.ConnectTimeout):
        return f'{verb} "{url}": dial tcp {address}: i/o timeout'
    if isinstance(error, requests.ReadTimeout):
        return f'{verb} "{url}": net/http: timeout awaiting response headers'
    text = str(error)
    return f'{verb} "{url}": {text if len(text) < 300 else text[:300] + "..."}'
