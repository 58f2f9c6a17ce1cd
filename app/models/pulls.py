"""Pulls in progress: one per model, run in the background, watched by any number of clients.

Why a registry of pulls rather than pulling inside the HTTP request:

* A second ``/api/pull`` for a model that is already being pulled attaches
  to the running pull and sees the same progress from that point on,
  including the final ``success`` or error, instead of racing it.
* The pull runs on its own thread, so a client that disconnects (a closed
  terminal, a browser tab) does not stop it. This differs from Ollama,
  which cancels a download when its last waiting client goes away; we
  prefer finishing a multi-gigabyte download the user asked for. A pull
  is stopped only by ``cancel`` (the UI's cancel button / ``hearth`` CLI),
  and even then its parts stay on disk so the next pull resumes.

Whoever starts or joins a pull may pass an ``on_finish`` hook; the pull's
own thread calls it once the pull has ended, so nobody needs a thread of
their own to wait for the end (the manager forgets a finished pull in
``pulls.json`` this way).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.models.download import PullStats
from app.models.errors import HearthError, storage_failure
from app.models.names import ModelName
from app.models.pull import DEFAULT_PARTS, pull_model
from app.models.pull_errors import PullError
from app.models.store import ModelStore

log = logging.getLogger(__name__)

PullFunction = Callable[..., Iterator[dict[str, Any]]]
BACKLOG = 512
"""Progress lines kept per pull; a slow watcher skips older ones (they are only progress)."""
FinishHook = Callable[["ActivePull"], None]
"""Told the pull once it has ended: ``finished`` is set, ``error`` says how it ended."""


@dataclass
class ActivePull:
    """One running pull and the lines it produced, numbered so watchers can follow."""

    name: ModelName
    insecure: bool
    started: float = field(default_factory=time.time)
    cancel: threading.Event = field(default_factory=threading.Event)
    stats: PullStats = field(default_factory=PullStats)
    lines: collections.deque[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: collections.deque(maxlen=BACKLOG)
    )
    next_seq: int = 0
    error: BaseException | None = None
    finished: bool = False
    latest: dict[str, Any] = field(default_factory=dict)
    first: dict[str, Any] | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)
    finish_hooks: list[FinishHook] = field(default_factory=list, repr=False)
    """Called once the pull has ended, by its thread (``PullRegistry``'s lock guards the list)."""

    def publish(self, line: dict[str, Any]) -> None:
        with self.changed:
            self.lines.append((self.next_seq, line))
            self.next_seq += 1
            if self.first is None:
                self.first = line
            self.latest = line
            self.changed.notify_all()

    def finish(self, error: BaseException | None) -> None:
        with self.changed:
            self.error = error
            self.finished = True
            self.changed.notify_all()

    def follow(self, from_seq: int) -> Iterator[dict[str, Any]]:
        """Lines from ``from_seq`` on; ends after the last one, raising the pull's error."""
        seq = from_seq
        while True:
            with self.changed:
                while not self.finished and (not self.lines or self.lines[-1][0] < seq):
                    self.changed.wait(1.0)
                pending = [line for number, line in self.lines if number >= seq]
                if pending:
                    seq = self.lines[-1][0] + 1
                finished, error = self.finished, self.error
            yield from pending
            if finished and not pending:
                if error is not None:
                    raise error
                return

    def summary(self) -> dict[str, Any]:
        latest = dict(self.latest)
        return {
            "model": self.name.display,
            "name": self.name.canonical,
            "started_at": self.started,
            "status": latest.get("status", "starting"),
            "digest": latest.get("digest"),
            "total": latest.get("total", 0),
            "completed": latest.get("completed", 0),
            "bytes_downloaded": self.stats.bytes_downloaded,
            "cancelling": self.cancel.is_set(),
        }


class PullRegistry:
    """Starts, deduplicates, lists and cancels pulls into one store."""

    def __init__(
        self,
        store: ModelStore,
        pull: PullFunction = pull_model,
        parts: int = DEFAULT_PARTS,
        manifest_listener: Callable[[ModelName, list[str]], None] | None = None,
        **pull_options: Any,
    ):
        """``manifest_listener(name, digests)`` hears which blobs each pull needs."""
        self.store = store
        self._manifest_listener = manifest_listener
        self._pull = pull
        self.parts = parts
        """Ranged requests at once per blob (the ``pull_concurrency`` setting); read per pull."""
        self._options = pull_options
        self._active: dict[tuple[str, str, str, str], ActivePull] = {}
        self._lock = threading.Lock()

    def pull(
        self, name: ModelName, *, insecure: bool = False, on_finish: FinishHook | None = None
    ) -> Iterator[dict[str, Any]]:
        """Start (or join) the pull of ``name``; iterate for its progress.

        Abandoning the iterator does not stop the pull. Errors are raised
        from the iterator as ``HearthError`` after the lines before them.
        """
        active, seq = self._start_or_join(name, insecure, on_finish)
        if seq > 0 and active.first is not None:
            return _chain([active.first], active.follow(seq))
        return active.follow(seq)

    def start(
        self, name: ModelName, *, insecure: bool = False, on_finish: FinishHook | None = None
    ) -> ActivePull:
        """Start (or join) a pull without watching it."""
        return self._start_or_join(name, insecure, on_finish)[0]

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            pulls = list(self._active.values())
        return [active.summary() for active in pulls]

    def get(self, name: ModelName) -> ActivePull | None:
        with self._lock:
            return self._active.get(name.folded())

    def cancel(self, name: ModelName) -> bool:
        """Ask the pull of ``name`` to stop; False if none is running."""
        active = self.get(name)
        if active is None:
            return False
        active.cancel.set()
        return True

    def cancel_all(self, wait: float = 0) -> None:
        """For shutdown: stop every pull, optionally waiting for them to save progress."""
        with self._lock:
            pulls = list(self._active.values())
        for active in pulls:
            active.cancel.set()
        deadline = time.monotonic() + wait
        for active in pulls:
            with active.changed:
                while not active.finished and time.monotonic() < deadline:
                    active.changed.wait(max(0.0, deadline - time.monotonic()))

    # -- internals -----------------------------------------------------
    def _start_or_join(
        self, name: ModelName, insecure: bool, on_finish: FinishHook | None
    ) -> tuple[ActivePull, int]:
        key = name.folded()
        with self._lock:
            running = self._active.get(key)
            active = running if running is not None else ActivePull(name, insecure)
            self._active[key] = active
            if on_finish is not None:
                active.finish_hooks.append(on_finish)
            if running is not None:
                with active.changed:
                    # Replay the first line ("pulling manifest", which clients expect
                    # first) and the newest, so a late watcher sees where things are.
                    seq = active.lines[-1][0] if active.lines else 0
                return active, seq
        thread = threading.Thread(
            target=self._run, args=(active,), name=f"pull {name.display}", daemon=True
        )
        thread.start()
        return active, 0

    def _run(self, active: ActivePull) -> None:
        error: BaseException | None = None
        options = dict(self._options)
        listener = self._manifest_listener
        if listener is not None:
            options["on_manifest"] = lambda digests: listener(active.name, digests)
        try:
            lines = self._pull(
                self.store,
                active.name,
                insecure=active.insecure,
                cancel=active.cancel,
                stats=active.stats,
                parts=self.parts,
                **options,
            )
            for line in lines:
                active.publish(line)
        except HearthError as caught:
            error = caught
        except Exception as caught:  # noqa: BLE001 - surfaced to every watcher
            error = storage_failure(caught) or PullError(
                f"pull failed: {type(caught).__name__}: {caught}"
            )
        finally:
            with self._lock:
                if self._active.get(active.name.folded()) is active:
                    del self._active[active.name.folded()]
                hooks = list(active.finish_hooks)  # no one can join from here on
            active.finish(error)
            for hook in hooks:
                try:
                    hook(active)
                except Exception:  # noqa: BLE001 - one hook must not keep the others from running
                    log.exception("a hook after the pull of %s failed", active.name.display)


def _chain(head: list[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    # A generator, not itertools.chain: callers close() the stream they were given.
    yield from head
    yield from rest
