"""Where ``hearth run``, ``ps`` and ``stop`` reach the models: a running Hearth, or this process.

Why two ways: a running Hearth (the desktop app or ``hearth serve``) owns
the data directory and the loaded models, so a terminal chat must use its
runners (one copy of the model in memory, seen by ``ps`` and the window),
and ``ps``/``stop`` only mean something there. With none running,
``hearth run`` still works on its own, in this process, like llama.cpp's
CLI: its llama-server lives and dies with the command.

Both sides speak Ollama's ``/api/chat`` objects, so the terminal code above
reads one stream whichever way it came.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from app.api_types import ChatRequest
from app.errors import HearthError, NotFound
from app.runner.abort import Abort, cut_upstream

TOKEN_ENV = "HEARTH_TOKEN"
"""The access token of a LAN-mode Hearth (``hearth serve --host ...``), for the CLI's requests."""


class ModelHost(Protocol):
    """What the CLI needs from an in-process Hearth (``app.hearth.Hearth`` is one).

    Why a protocol and not the class: only the front ends' own modules make a
    Hearth (``tests/test_layering.py``); ``app.cli`` makes it and hands it here.
    """

    def show(self, name: Any, verbose: bool = False) -> dict[str, Any]: ...

    def chat(
        self, request: ChatRequest, abort: Abort | None = None
    ) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class Backend(Protocol):
    """One place the models run; ``chat`` yields Ollama ``/api/chat`` objects."""

    where: str

    def show(self, name: str) -> dict[str, Any]: ...

    def chat(self, request: dict[str, Any], abort: Abort) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class InProcess:
    """A Hearth made by this command, closed (its llama-server stopped) when the command ends.

    ``start()`` is not called: it resumes pulls and prunes left-overs, which
    is the job of the Hearth that owns the data directory, not of a chat in
    a terminal (the same reason ``hearth list`` does not start one).
    """

    where = "this process"

    def __init__(self, host: ModelHost) -> None:
        self.host = host

    def show(self, name: str) -> dict[str, Any]:
        return self.host.show(name)

    def chat(self, request: dict[str, Any], abort: Abort) -> Iterator[dict[str, Any]]:
        yield from self.host.chat(ChatRequest.parse(request), abort)

    def close(self) -> None:
        self.host.close()


class Remote:
    """The running Hearth's Ollama API (``<url>/ollama``) over HTTP on this machine."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.where = f"the running Hearth at {url}"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _post(self, path: str, body: dict[str, Any], **options: Any) -> Any:
        import requests

        try:
            return requests.post(
                f"{self.url}/ollama{path}", json=body, headers=self.headers, **options
            )
        except requests.RequestException as error:
            raise HearthError(f"lost {self.where}: {error}") from None

    def show(self, name: str) -> dict[str, Any]:
        reply = self._post("/api/show", {"model": name}, timeout=30)
        if reply.status_code != 200:
            raise _remote_error(reply)
        return dict(reply.json())

    def chat(self, request: dict[str, Any], abort: Abort) -> Iterator[dict[str, Any]]:
        """Stream a chat; setting ``abort`` shuts the socket, and the running Hearth,
        seeing its client gone, stops the answer (``app.web.disconnect``).

        No read timeout: a first load or a long prompt can take minutes, and
        Ctrl+C (which sets ``abort``) is how a person gives up waiting.
        """
        import requests

        if abort.is_set():
            return
        body = {**request, "stream": True}
        reply = self._post("/api/chat", body, stream=True, timeout=(10, None))
        with reply:
            abort.on_abort(cut_upstream(reply))
            if reply.status_code != 200:
                raise _remote_error(reply)
            try:
                for line in reply.iter_lines():
                    if not line:
                        continue
                    item = json.loads(line)
                    if "error" in item:
                        raise HearthError(str(item["error"]))
                    yield item
            except requests.RequestException as error:
                raise HearthError(f"lost {self.where}: {error}") from None

    def ps(self) -> list[dict[str, Any]]:
        import requests

        try:
            reply = requests.get(f"{self.url}/ollama/api/ps", headers=self.headers, timeout=30)
        except requests.RequestException as error:
            raise HearthError(f"lost {self.where}: {error}") from None
        if reply.status_code != 200:
            raise _remote_error(reply)
        return list(reply.json()["models"])

    def unload(self, name: str) -> None:
        """Ollama's unload: a generate with no prompt and ``keep_alive: 0`` (what ``ollama stop``
        and Open WebUI send); it answers at once, loaded or not, and 404s an unknown model."""
        reply = self._post(
            "/api/generate", {"model": name, "keep_alive": 0, "stream": False}, timeout=30
        )
        if reply.status_code != 200:
            raise _remote_error(reply)

    def delete(self, name: str) -> None:
        """Ollama's ``DELETE /api/delete``: the running Hearth removes the model and stops
        its runner. Deleting the files from another process would leave that runner
        loaded, in ``ps`` and holding memory, with no name left to ``stop`` it by."""
        import requests

        try:
            reply = requests.delete(
                f"{self.url}/ollama/api/delete",
                json={"model": name},
                headers=self.headers,
                timeout=30,
            )
        except requests.RequestException as error:
            raise HearthError(f"lost {self.where}: {error}") from None
        if reply.status_code != 200:
            raise _remote_error(reply)

    def close(self) -> None:
        """Nothing to close: the running Hearth keeps its models loaded for their keep-alive."""


def _remote_error(reply: Any) -> HearthError:
    """The running Hearth's ``{"error": ...}`` as the same error class an in-process call raises."""
    try:
        text = str(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        text = f"Hearth answered {reply.status_code}"
    return NotFound(text) if reply.status_code == 404 else HearthError(text)


def find_running(data_dir: Path) -> Remote | None:
    """The Hearth serving this data directory, if one is up and answering; else None.

    A LAN-mode Hearth answers 401 without its token: that is an error in
    words (set ``HEARTH_TOKEN``), not "none running", or ``run`` would load
    a second copy of the model here and ``ps`` would say nothing is loaded.
    """
    import requests

    from app.desktop.instance import running_url

    url = running_url(data_dir)
    if url is None:
        return None
    remote = Remote(url, os.environ.get(TOKEN_ENV) or None)
    try:
        answer = requests.get(f"{url}/ollama/api/version", headers=remote.headers, timeout=3)
    except requests.RequestException:
        return None  # a stale instance.json: that Hearth is gone
    if answer.status_code == 401:
        raise HearthError(
            f"the Hearth running at {url} asks for its access token (LAN mode):"
            f" set {TOKEN_ENV} to it"
        )
    return remote if answer.status_code == 200 else None
