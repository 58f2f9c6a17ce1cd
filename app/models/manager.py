"""The model library: the store on disk, its pulls, and the names that reach them.

It validates library requests in Ollama's terms (list, show, create, copy,
delete, pull) and resolves a name into the :class:`app.spec.RunSpec` the
runner serves. It knows nothing of runners or HTTP: :class:`app.hearth.Hearth`
puts it beside the scheduler (a deleted model's runners are stopped through
the ``on_delete`` hook), and errors are ``HearthError`` subclasses with their status.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from app.api_types import CreateRequest
from app.models.create import create_model, import_gguf
from app.models.digests import parse_digest
from app.models.download import PullTuning
from app.models.errors import BadRequest, HearthError, ModelNotFound
from app.models.names import ModelName, parse_name
from app.models.pending_pulls import PendingPulls
from app.models.pulls import ActivePull, FinishHook, PullRegistry
from app.models.show import check_landed_blob, resolve_for_run, show_model, tag_entry
from app.models.store import ModelStore
from app.settings import Settings
from app.spec import RunSpec

log = logging.getLogger(__name__)

OLLAMA_COMPAT_VERSION = "0.12.6"
"""The Ollama release whose API we match; clients gate features on it."""


class ModelManager:
    """Models on disk and the pulls that bring them."""

    def __init__(
        self, settings: Settings, on_delete: Callable[[str], object] = lambda digest: None
    ) -> None:
        """``on_delete(digest)`` runs before a model's files go (the facade stops its runners)."""
        settings.ensure_dirs()
        self.settings = settings
        self.store = ModelStore(settings.models_dir)
        self._on_delete = on_delete
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

    def run_spec(self, name: Any) -> RunSpec:
        """What the runner needs to serve stored model ``name``; a 404 in Ollama's words."""
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

    def create(self, request: CreateRequest) -> Iterator[dict[str, Any]]:
        name = self.parse(request.model_name)
        request.check_supported()
        statuses = create_model(
            self.store,
            name,
            files=request.files,
            from_=request.from_,
            template=request.template,
            system=request.system,
            parameters=request.parameters,
            license=request.license,
            messages=request.messages,
            adapters=request.adapters,
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
        self._on_delete(manifest.digest)
        self.store.delete_model(manifest.name)

    # -- pulls ---------------------------------------------------------
    def pull(self, name_text: Any, insecure: bool = False) -> Iterator[dict[str, Any]]:
        """Start (or join) a pull and follow its progress lines.

        The pull itself runs in the background: a client that goes away does
        not stop it (only ``cancel_pull`` does), and its name is kept in
        ``pulls.json`` until it ends, so a restart resumes it.
        """
        name = self.parse(name_text)
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

    def close(self) -> None:
        """Stop pulls: their parts stay on disk and ``pulls.json`` resumes them next start."""
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


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()  # type: ignore[attr-defined]
