"""Only the owner's own programs get in: Host and Origin checks for every request.

Why: a web page in the user's browser can reach 127.0.0.1. DNS rebinding
(a hostile name that resolves to 127.0.0.1) arrives with a foreign ``Host``
header; a cross-site ``fetch`` arrives with a foreign ``Origin``. Both are
refused before any route runs, which is what stopped the 2024 attacks on
Ollama.

Which origins get in, everywhere: the page's own origin (``Origin`` equal to
the scheme and ``Host`` of the request itself: the Svelte UI in the window,
or a LAN browser on ``http://machine:8080``), and the patterns the user
configured (``HEARTH_ORIGINS``/``OLLAMA_ORIGINS``, e.g. ``https://*.example.org``).

On the model API (``/ollama/...``, and every path of the drop-in port) also
Ollama's own default list: pages on ``http(s)://localhost``, ``127.0.0.1``
and ``0.0.0.0`` at any port, ``app://``, ``file://``, ``tauri://``, VS Code
webviews and browser extensions. Browser front ends served from localhost
(a dev server, a Tauri app) are built against Ollama and expect exactly that,
and they get CORS answers as Ollama gives them. The app API (``/api/v1``:
chats, settings) stays with the page's own origin and the configured
patterns: another local page must not read or change a person's chats.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable

from flask import Flask, Response, jsonify, request

from app.web.access import COOKIE, Verifier

LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
CORS_HEADERS = ", ".join(
    [
        "Authorization",
        "Content-Type",
        "User-Agent",
        "Accept",
        "X-Requested-With",
        "OpenAI-Beta",
        # What the openai JavaScript client sends from a browser page.
        *(
            f"x-stainless-{name}"
            for name in [
                "arch",
                "async",
                "custom-poll-interval",
                "helper-method",
                "lang",
                "os",
                "package-version",
                "poll-helper",
                "retry-count",
                "runtime",
                "runtime-version",
                "timeout",
            ]
        ),
    ]
)
OLLAMA_LOCAL_ORIGIN = re.compile(r"https?://(localhost|127\.0\.0\.1|0\.0\.0\.0)(:[0-9]{1,5})?")
"""Ollama's ``http(s)://{localhost,127.0.0.1,0.0.0.0}[:*]``, the port digits only."""
OLLAMA_DEFAULT_PATTERNS = (
    "app://*",
    "file://*",
    "tauri://*",
    "vscode-webview://*",
    "vscode-file://*",
    # Ollama's server allows browser extensions too (gin-contrib/cors' list).
    "chrome-extension://*",
    "moz-extension://*",
    "safari-extension://*",
    "safari-web-extension://*",
    "ms-browser-extension://*",
)


def _split_host(value: str) -> str:
    """The host part of a ``Host`` header, without port, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host_header: str, extra_hosts: Iterable[str]) -> bool:
    host = _split_host(host_header)
    if not host or host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    if host in {h.lower() for h in extra_hosts}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def same_origin(origin: str, host_header: str, scheme: str) -> bool:
    """True when ``Origin`` names the very server the request came to."""
    if not host_header:
        return False
    return origin.strip().lower().rstrip("/") == f"{scheme}://{host_header.strip().lower()}"


def configured_origin(origin: str, extra_origins: Iterable[str]) -> bool:
    """True when ``Origin`` matches one of the user's patterns (``*`` wildcards)."""
    origin = origin.strip()
    return bool(origin) and any(fnmatch.fnmatchcase(origin, p) for p in extra_origins)


def ollama_default_origin(origin: str) -> bool:
    """True for an origin on Ollama's default list (local pages, apps, webviews, extensions)."""
    origin = origin.strip()
    return bool(OLLAMA_LOCAL_ORIGIN.fullmatch(origin)) or configured_origin(
        origin, OLLAMA_DEFAULT_PATTERNS
    )


def cors_origin(origin: str, extra_origins: Iterable[str], model_api: bool) -> bool:
    """True when ``origin`` gets CORS answers: configured, or Ollama's list on the model API."""
    return configured_origin(origin, extra_origins) or (model_api and ollama_default_origin(origin))


def origin_admitted(
    origin: str, host_header: str, scheme: str, extra_origins: Iterable[str], model_api: bool
) -> bool:
    """True when a request with this ``Origin`` may run at all."""
    return same_origin(origin, host_header, scheme) or cors_origin(origin, extra_origins, model_api)


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE) or request.args.get("token")


def install_guard(
    app: Flask,
    extra_hosts: list[str],
    extra_origins: list[str],
    verifier: Verifier | None = None,
    model_api_prefix: str = "/ollama/",
) -> None:
    """Refuse foreign Host/Origin headers; answer CORS for allowed origins only.

    With a ``verifier`` (LAN mode) every request needs the access token and
    the Host check is left to it, since LAN clients use the machine's name.
    Paths under ``model_api_prefix`` (``"/"`` on the drop-in port) are the
    Ollama API, where Ollama's default origins are let in as well.
    """

    def on_model_api() -> bool:
        return request.path.startswith(model_api_prefix)

    @app.before_request
    def check_request() -> Response | None:
        if verifier is not None:
            if not verifier.check(_presented_token()):
                response = jsonify(error="unauthorized: this Hearth needs its access token")
                response.status_code = 401
                response.headers["WWW-Authenticate"] = 'Bearer realm="hearth"'
                return response
        elif not host_allowed(request.headers.get("Host", ""), extra_hosts):
            response = jsonify(error="forbidden: unknown Host header")
            response.status_code = 403
            return response
        origin = request.headers.get("Origin")
        host = request.headers.get("Host", "")
        if origin is not None and not origin_admitted(
            origin, host, request.scheme, extra_origins, on_model_api()
        ):
            response = jsonify(error="forbidden: cross-site request")
            response.status_code = 403
            return response
        if request.method == "OPTIONS" and origin is not None:
            # A preflight from an allowed origin: the CORS headers are added below.
            return Response(status=204)
        return None

    @app.after_request
    def cors(response: Response) -> Response:
        if verifier is not None and request.args.get("token") and response.status_code < 400:
            # A browser opened /?token=...: keep it in an HttpOnly cookie from now on.
            response.set_cookie(COOKIE, request.args["token"], httponly=True, samesite="Strict")
        origin = request.headers.get("Origin")
        if origin is not None and cors_origin(origin, extra_origins, on_model_api()):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, HEAD"
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Vary"] = "Origin"
        return response
