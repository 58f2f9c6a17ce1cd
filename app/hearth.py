"""One Hearth: model library, pulls, runners and chat store, started and closed once.

Why a facade one level above the rooms: the CLI's ``serve``, the web app
factory and the desktop shell each need all four parts, started in one
order (prune what a killed run left, resume its pulls) and stopped in the
reverse one (the chat database, then pulls, then every llama-server).
Written once here, they cannot drift apart. It is also where the model
library (``app.models``) meets the runner (``app.runner``), so neither
imports the other: a run request is resolved into a :class:`app.spec.RunSpec`
by the library and served by the scheduler.

Each front end reaches the same method: an HTTP route, a CLI command, a
desktop menu action. Nothing here knows about HTTP; errors are
``HearthError`` subclasses carrying their status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from app.api_types import (
    ChatRequest,
    CreateRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    RunRequest,
)
from app.chats import ChatStore
from app.errors import BadRequest
from app.keep_alive import DEFAULT_KEEP_ALIVE, parse_keep_alive
from app.models.manager import ModelManager
from app.models.names import ModelName
from app.models.pulls import PullRegistry
from app.runner import generation, token_count
from app.runner.abort import Abort
from app.runner.locate import locate_llama_server
from app.runner.rpc_workers import probe_workers
from app.runner.scheduler import Scheduler
from app.settings import Settings


class Hearth:
    """The parts one running Hearth owns; ``start()`` once serving, ``close()`` at the end."""

    def __init__(self, settings: Settings, scheduler: Scheduler | None = None) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.default_keep_alive = DEFAULT_KEEP_ALIVE
        self.scheduler = scheduler or Scheduler(
            lambda: locate_llama_server(settings),
            settings.log_dir,
            max_loaded=settings.max_loaded_models,
            parallel=settings.num_parallel,
            default_num_ctx=settings.context_length,
            load_timeout=settings.load_timeout,
            child_watch=settings.child_watch,
            workers=settings.workers,
            stall_timeout=settings.worker_stall_timeout,
        )
        self.models = ModelManager(settings, on_delete=self.scheduler.retire)
        self._chats: ChatStore | None = None
        self._chats_lock = threading.Lock()
        self._closed = False

    # -- lifecycle -----------------------------------------------------
    @property
    def chats(self) -> ChatStore:
        """The chat database, opened (and migrated) on first use.

        Why not at construction: the CLI's model commands (``hearth list``,
        ``hearth pull``) never touch chats and must not migrate the database.
        """
        with self._chats_lock:
            if self._chats is None:
                self._chats = ChatStore(self.settings.database_path)
            return self._chats

    def start(self) -> list[str]:
        """The start-up step of ``hearth serve`` and the desktop app, once the HTTP server is up.

        Left-overs of a killed run go, then the pulls that were running
        resume in the background; returns their names.
        """
        return self.models.resume_pulls()

    def close(self) -> None:
        """Close the chat database, stop pulls (they resume next start), stop every runner.

        Safe to call twice (a signal and the window's close may both ask).
        """
        if self._closed:
            return
        self._closed = True
        with self._chats_lock:
            if self._chats is not None:
                self._chats.close()
        self.models.close()
        self.scheduler.shutdown()

    # -- the model library (``app.models``) ----------------------------
    @property
    def pulls(self) -> PullRegistry:
        return self.models.pulls

    def parse(self, name: Any, field: str = "model") -> ModelName:
        return self.models.parse(name, field)

    def list_models(self) -> list[dict[str, Any]]:
        return self.models.list_models()

    def show(self, name: Any, verbose: bool = False) -> dict[str, Any]:
        return self.models.show(name, verbose=verbose)

    def create(self, request: CreateRequest) -> Iterator[dict[str, Any]]:
        """``/api/create`` progress objects."""
        return self.models.create(request)

    def import_gguf(
        self, path: Path, name: str, projector: Path | None = None
    ) -> Iterator[dict[str, Any]]:
        return self.models.import_gguf(path, name, projector)

    def has_blob(self, digest: str) -> bool:
        return self.models.has_blob(digest)

    def put_blob(self, digest: str, chunks: Iterable[bytes]) -> bool:
        return self.models.put_blob(digest, chunks)

    def copy(self, source: Any, destination: Any) -> None:
        self.models.copy(source, destination)

    def delete(self, name: Any) -> None:
        """Delete a stored model; its runners stop once their answers end (``on_delete``)."""
        self.models.delete(name)

    def pull(self, name: Any, insecure: bool = False) -> Iterator[dict[str, Any]]:
        return self.models.pull(name, insecure)

    def start_pull(self, name_text: str, insecure: bool = False) -> dict[str, Any]:
        return self.models.start_pull(name_text, insecure)

    def list_pulls(self) -> list[dict[str, Any]]:
        return self.models.list_pulls()

    def cancel_pull(self, name_text: Any) -> bool:
        return self.models.cancel_pull(name_text)

    # -- runners -------------------------------------------------------
    def _keep_alive(self, request: RunRequest) -> float:
        """How long the model stays loaded after ``request``, in seconds."""
        return parse_keep_alive(request.keep_alive, self.default_keep_alive)

    def chat(self, request: ChatRequest, abort: Abort | None = None) -> Iterator[dict[str, Any]]:
        """``/api/chat`` objects; setting ``abort`` (the client left) stops the work at once."""
        return self._answer(request, "chat", generation.chat, abort)

    def generate(
        self, request: GenerateRequest, abort: Abort | None = None
    ) -> Iterator[dict[str, Any]]:
        """``/api/generate`` objects, as :meth:`chat`."""
        return self._answer(request, "generate", generation.generate, abort)

    def _answer(
        self,
        request: ChatRequest | GenerateRequest,
        verb: str,
        answer: Callable[..., Iterator[dict[str, Any]]],
        abort: Abort | None,
    ) -> Iterator[dict[str, Any]]:
        """The model resolved and the request checked, then ``answer``'s objects."""
        spec = self.models.run_spec(request.model)
        if spec.is_embedding:
            raise BadRequest(f'"{spec.display}" does not support {verb}')
        options = request.checked_options()
        return answer(self.scheduler, spec, request, options, self._keep_alive(request), abort)

    def embed(self, request: EmbedRequest) -> dict[str, Any]:
        spec = self.models.run_spec(request.model)
        inputs = request.checked_inputs()
        dimensions = request.checked_dimensions()
        return generation.embed(
            self.scheduler,
            spec,
            inputs,
            request.checked_options(),
            self._keep_alive(request),
            truncate=request.truncates,
            dimensions=dimensions,
        )

    def embeddings(self, request: EmbeddingsRequest) -> dict[str, Any]:
        spec = self.models.run_spec(request.model)
        prompt = request.prompt_text
        return generation.embedding_legacy(
            self.scheduler, spec, prompt, request.checked_options(), self._keep_alive(request)
        )

    def count_tokens(self, name: Any, text: str) -> int | None:
        """Tokens of ``text`` by model ``name``'s own tokenizer while it is loaded, else None.

        For attached documents: the UI shows the exact count when it can and an
        estimate (said to be one) otherwise, rather than loading a model to count.
        """
        return token_count.count_with_loaded(
            self.scheduler, self.models.run_spec(name).digest, text
        )

    def runner_log(self, name: Any, max_bytes: int = 256 * 1024) -> tuple[str, str]:
        """(path, last ``max_bytes`` of text) of the llama-server log for model ``name``.

        Why: the error a person sees carries only the last lines of the log;
        the cause of a failed load (an unsupported architecture, a GPU
        driver) is often further up. Empty text when the model never ran.
        """
        spec = self.models.run_spec(name)
        path = self.scheduler.log_path(spec.display)
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(0, size - max_bytes))
                data = handle.read(max_bytes)
        except FileNotFoundError:
            return str(path), ""
        text = data.decode("utf-8", "replace")
        if len(data) == max_bytes and "\n" in text:
            text = text[text.index("\n") + 1 :]  # start at a whole line
        return str(path), text

    def ps(self) -> list[dict[str, Any]]:
        models = []
        for entry in self.scheduler.ps():
            runner = entry["runner"]
            spec = runner.spec
            models.append(
                {
                    "name": spec.display,
                    "model": spec.display,
                    "size": entry["size"],
                    "digest": spec.digest,
                    # Ollama's ps leaves parent_model empty, but its JSON has the
                    # key (no omitempty), and clients typed on it expect it.
                    "details": spec.details,
                    "expires_at": entry["expires_at"].isoformat(timespec="microseconds"),
                    "size_vram": entry["size_vram"],
                    "context_length": entry["context_length"],
                    # Hearth's own: where the model went when split across workers.
                    "workers": entry["workers"],
                    "workers_left_out": entry["workers_left_out"],
                    "devices": entry["devices"],
                }
            )
        return models

    def set_workers(self, stored: list[str] | None) -> None:
        """The workers setting: a saved list, or None for ``--workers``/``HEARTH_WORKERS``."""
        self.scheduler.set_workers(self.settings.workers if stored is None else tuple(stored))

    def workers(self) -> dict[str, Any]:
        """Each configured worker: in use by a loaded model, or what a check finds now.

        A worker held by one of our models is not checked: it serves one
        client at a time, so a check would only wait and answer "busy".
        """
        in_use = self.scheduler.workers_in_use()
        configured = self.scheduler.workers
        checked = {s.address: s for s in probe_workers([a for a in configured if a not in in_use])}
        rows = []
        for address in configured:
            if address in in_use:
                rows.append({"address": address, "state": "in_use", "model": in_use[address]})
            else:
                rows.append(checked[address].as_dict())
        return {"configured": list(configured), "workers": rows}

    def unload_all(self) -> int:
        return self.scheduler.unload(None)
