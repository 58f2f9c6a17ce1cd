"""The manager facade: one object every front end (HTTP, CLI, desktop) calls.

It validates requests in Ollama's terms, resolves names against the store,
and hands generation to the scheduler's runners. Nothing here knows about
HTTP; errors are ``HearthError`` subclasses carrying their status.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from app.models.create import create_model, import_gguf
from app.models.digests import parse_digest
from app.models.download import PullTuning
from app.models.errors import BadRequest, HearthError, ModelNotFound
from app.models.names import ModelName, parse_name
from app.models.options import validate_options
from app.models.pending_pulls import PendingPulls
from app.models.pulls import ActivePull, FinishHook, PullRegistry
from app.models.show import check_landed_blob, resolve_for_run, show_model, tag_entry
from app.models.store import ModelStore
from app.runner import generation, token_count
from app.runner.abort import Abort
from app.runner.keepalive import DEFAULT_KEEP_ALIVE, parse_keep_alive
from app.runner.locate import locate_llama_server
from app.runner.rpc_workers import probe_workers
from app.runner.scheduler import Scheduler
from app.settings import Settings

log = logging.getLogger(__name__)

OLLAMA_COMPAT_VERSION = "0.12.6"
"""The Ollama release whose API we match; clients gate features on it."""


class ModelManager:
    """Models on disk plus the runners that serve them."""

    def __init__(self, settings: Settings, scheduler: Scheduler | None = None) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.store = ModelStore(settings.models_dir)
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
        tuning = PullTuning(
            max_bytes_per_second=settings.pull_max_bytes_per_second,
            exchange_deadline=settings.pull_manifest_timeout,
        )
        self.pending = PendingPulls(settings.data_dir / "pulls.json")
        self.pulls = PullRegistry(self.store, tuning=tuning, manifest_listener=self._note_blobs)

    # -- names ---------------------------------------------------------
    @staticmethod
    def parse(name: Any, field: str = "model") -> ModelName:
        if not name or not isinstance(name, str):
            raise BadRequest(f"{field} is required")
        return parse_name(name)

    def _run_spec(self, name: Any) -> Any:
        model = self.parse(name)
        try:
            return resolve_for_run(self.store, model)
        except ModelNotFound:
            raise ModelNotFound(f"model '{name}' not found") from None

    # -- store ---------------------------------------------------------
    def list_models(self) -> list[dict[str, Any]]:
        return [tag_entry(self.store, manifest) for manifest in self.store.list_manifests()]

    def show(self, name: Any, verbose: bool = False) -> dict[str, Any]:
        model = self.parse(name)
        manifest = self.store.read_manifest(model)
        return show_model(self.store, manifest, verbose=verbose)

    def create(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        name = self.parse(request.get("model") or request.get("name"))
        if "modelfile" in request and not (request.get("files") or request.get("from")):
            raise BadRequest("the Modelfile form of create is not supported; use 'files' or 'from'")
        if request.get("quantize") or request.get("quantization"):
            raise BadRequest("quantize is not supported yet")
        statuses = create_model(
            self.store,
            name,
            files=request.get("files"),
            from_=request.get("from"),
            template=request.get("template"),
            system=request.get("system"),
            parameters=request.get("parameters"),
            license=request.get("license"),
            messages=request.get("messages"),
            adapters=request.get("adapters"),
        )
        first = next(statuses)  # validation errors surface before any byte is sent
        return _chain(first, statuses)

    def import_gguf(
        self, path: Path, name: str, projector: Path | None = None
    ) -> Iterator[dict[str, Any]]:
        return import_gguf(self.store, path, self.parse(name, "name"), projector)

    def has_blob(self, digest: str) -> bool:
        return self.store.has_blob(parse_digest(digest))

    def put_blob(self, digest: str, chunks: Iterable[bytes]) -> bool:
        """Store an uploaded blob; False when it was already there (nothing read).

        A GGUF upload's header is read once here, so its result (a bad one
        too) is cached before any model uses it.
        """
        canonical = parse_digest(digest)
        if self.store.has_blob(canonical):
            return False
        self.store.write_blob(chunks, canonical)
        check_landed_blob(self.store, canonical)
        return True

    def copy(self, source: Any, destination: Any) -> None:
        src = self.parse(source, "source")
        dst = self.parse(destination, "destination")
        try:
            self.store.copy_model(src, dst)
        except ModelNotFound:
            raise ModelNotFound(f'model "{source}" not found') from None

    def delete(self, name: Any) -> None:
        model = self.parse(name)
        try:
            manifest = self.store.read_manifest(model)
        except ModelNotFound:
            raise ModelNotFound(f"model '{name}' not found") from None
        self.scheduler.retire(manifest.digest)
        self.store.delete_model(manifest.name)

    # -- pulls ---------------------------------------------------------
    def pull(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Start (or join) a pull and follow its progress lines.

        The pull itself runs in the background: a client that goes away does
        not stop it (only ``cancel_pull`` does), and its name is kept in
        ``pulls.json`` until it ends, so a restart resumes it.
        """
        name = self.parse(request.get("model") or request.get("name"))
        insecure = bool(request.get("insecure"))
        return self.pulls.pull(
            name, insecure=insecure, on_finish=self._remember_pull(name, insecure)
        )

    def start_pull(self, name_text: str, insecure: bool = False) -> dict[str, Any]:
        name = self.parse(name_text)
        active = self.pulls.start(
            name, insecure=insecure, on_finish=self._remember_pull(name, insecure)
        )
        return active.summary()

    def _remember_pull(self, name: ModelName, insecure: bool) -> FinishHook:
        """Keep ``name`` in ``pulls.json`` until its pull ends; the hook returned forgets it then.

        A pull that a cancel stopped is left to whoever cancelled it:
        ``cancel_pull`` forgets it, ``close`` keeps it for the next start.
        """
        self.pending.add(name.canonical, insecure)

        def forget(active: ActivePull) -> None:
            if not active.cancel.is_set() or active.error is None:
                self.pending.remove(name.canonical)

        return forget

    def _note_blobs(self, name: ModelName, digests: list[str]) -> None:
        """Which blobs a pending pull needs: the start-up prune keeps their partials."""
        self.pending.note_blobs(name.canonical, digests)

    def list_pulls(self) -> list[dict[str, Any]]:
        return self.pulls.list()

    def cancel_pull(self, name_text: str) -> bool:
        name = self.parse(name_text)
        cancelled = self.pulls.cancel(name)
        self.pending.remove(name.canonical)
        return cancelled

    def _active_pull(self, name_text: str) -> Any:
        try:
            return self.pulls.get(self.parse(name_text))
        except HearthError:
            return None

    def prune_leftovers(self) -> list[str]:
        """What killed or refused work left in the store; run at start, before pulls resume.

        The blobs of pending pulls (``pulls.json``) are kept, so they resume;
        if a pending pull's blobs are not known, no partial or unused blob is
        touched. ``OLLAMA_NOPRUNE`` (or ``HEARTH_NOPRUNE``) keeps unused blobs.
        """
        keep = self.pending.blobs_to_keep()
        no_prune = any(os.environ.get(v, "").strip() for v in ("OLLAMA_NOPRUNE", "HEARTH_NOPRUNE"))
        try:
            removed = self.store.prune_leftovers(keep, prune_unused=not no_prune)
        except OSError as error:
            log.warning("could not prune left-overs: %s", error)
            return []
        if removed:
            log.info("removed %d left-over file(s): %s", len(removed), ", ".join(removed[:20]))
        return removed

    def resume_pulls(self) -> list[str]:
        """Restart the pulls that were running when Hearth last stopped.

        First the left-overs go (``prune_leftovers``): this is the start-up
        step of both ``hearth serve`` and the desktop app.
        """
        self.prune_leftovers()
        resumed = []
        for name, insecure in self.pending.resumable():
            try:
                self.start_pull(name, insecure)
                resumed.append(name)
            except Exception as error:  # noqa: BLE001 - one bad entry must not stop start-up
                log.warning("could not resume the pull of %s: %s", name, error)
        return resumed

    # -- runners -------------------------------------------------------
    def _request_options(self, request: dict[str, Any]) -> dict[str, Any]:
        options = request.get("options") or {}
        if not isinstance(options, dict):
            raise BadRequest("options must be an object")
        return validate_options(options)

    def _keep_alive(self, request: dict[str, Any]) -> float:
        return parse_keep_alive(request.get("keep_alive"), self.default_keep_alive)

    def chat(self, request: dict[str, Any], abort: Abort | None = None) -> Iterator[dict[str, Any]]:
        """``/api/chat`` objects; setting ``abort`` (the client left) stops the work at once."""
        spec = self._run_spec(request.get("model"))
        if spec.is_embedding:
            raise BadRequest(f'"{spec.display}" does not support chat')
        messages = request.get("messages")
        if messages is not None and not isinstance(messages, list):
            raise BadRequest("messages must be a list")
        return generation.chat(
            self.scheduler,
            spec,
            request,
            self._request_options(request),
            self._keep_alive(request),
            abort,
        )

    def generate(
        self, request: dict[str, Any], abort: Abort | None = None
    ) -> Iterator[dict[str, Any]]:
        spec = self._run_spec(request.get("model"))
        if spec.is_embedding:
            raise BadRequest(f'"{spec.display}" does not support generate')
        return generation.generate(
            self.scheduler,
            spec,
            request,
            self._request_options(request),
            self._keep_alive(request),
            abort,
        )

    def embed(self, request: dict[str, Any]) -> dict[str, Any]:
        spec = self._run_spec(request.get("model"))
        raw = request.get("input")
        if raw is None or raw == "":
            inputs: list[str] = []
        elif isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            inputs = list(raw)
        else:
            raise BadRequest("invalid input type")
        dimensions = request.get("dimensions")
        if dimensions is not None and (not isinstance(dimensions, int) or dimensions <= 0):
            raise BadRequest("dimensions must be a positive integer")
        return generation.embed(
            self.scheduler,
            spec,
            inputs,
            self._request_options(request),
            self._keep_alive(request),
            truncate=request.get("truncate", True) is not False,
            dimensions=dimensions,
        )

    def embeddings(self, request: dict[str, Any]) -> dict[str, Any]:
        spec = self._run_spec(request.get("model"))
        prompt = request.get("prompt") or ""
        if not isinstance(prompt, str):
            raise BadRequest("prompt must be a string")
        return generation.embedding_legacy(
            self.scheduler, spec, prompt, self._request_options(request), self._keep_alive(request)
        )

    def count_tokens(self, name: Any, text: str) -> int | None:
        """Tokens of ``text`` by model ``name``'s own tokenizer while it is loaded, else None.

        For attached documents: the UI shows the exact count when it can and an
        estimate (said to be one) otherwise, rather than loading a model to count.
        """
        return token_count.count_with_loaded(self.scheduler, self._run_spec(name).digest, text)

    def runner_log(self, name: Any, max_bytes: int = 256 * 1024) -> tuple[str, str]:
        """(path, last ``max_bytes`` of text) of the llama-server log for model ``name``.

        Why: the error a person sees carries only the last lines of the log;
        the cause of a failed load (an unsupported architecture, a GPU
        driver) is often further up. Empty text when the model never ran.
        """
        spec = self._run_spec(name)
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

    def close(self) -> None:
        """Stop pulls (their parts stay on disk and resume next start) and runners."""
        pending = self.pending.read()
        running = {name: self._active_pull(name) for name in pending}
        self.pulls.cancel_all(wait=5)
        # One that finished by itself just now is done, not pending: keep only the rest.
        pending = {
            name: info
            for name, info in pending.items()
            if not ((a := running[name]) is not None and a.finished and a.error is None)
        }
        self.pending.replace(pending)  # cancelling at shutdown is not the user's cancel
        self.scheduler.shutdown()


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()  # type: ignore[attr-defined]
