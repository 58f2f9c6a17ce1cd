"""Which models are loaded, for how long, and who is using them.

Imitates Ollama's scheduler: one llama-server per model (and per set of
load-time options), reused while its options match; the keep-alive timer
starts only when the last request on a runner ends; ``keep_alive: 0``
unloads right after the request; a runner that crashed is dropped so the
next request starts a fresh one; past ``max_loaded`` the idle runner that
expires first is unloaded to make room.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psutil

from app.chat_templates import is_jinja_template
from app.runner.context_size import auto_context, kv_bytes_per_token
from app.runner.drm import device_memory_of
from app.runner.errors import LlamaServerFailed
from app.runner.hardware import detect_hardware, nvidia_memory_by_pid, unified_memory
from app.runner.process import LaunchConfig, LlamaServer
from app.runner.worker_plan import fit_problem, plan_workers
from app.settings import default_child_watch
from app.spec import RunSpec

log = logging.getLogger(__name__)

DEFAULT_PARALLEL = 2
"""Slots when memory allows: two chats (or a chat and its title) stream at once."""
LOAD_TIMEOUT = 300.0
GIB = 2**30
FAR_FUTURE = datetime(2318, 1, 1, tzinfo=UTC)


@dataclass
class Runner:
    """A loaded model: its process, its users, and when it expires."""

    key: tuple[str, LaunchConfig]
    name: str
    spec: RunSpec
    server: LlamaServer
    keep_alive: float
    load_seconds: float = 0.0
    active: int = 0
    expires_at: datetime | None = None
    failed: bool = False
    loaded: threading.Event = field(default_factory=threading.Event)
    load_error: Exception | None = None
    workers_in_use: dict[str, str] = field(default_factory=dict)
    """Configured workers held by our other busy models when this one loads: left out."""
    stop_first: list[LlamaServer] = field(default_factory=list)
    """Idle runners holding this one's workers: stopped before it loads (one client each)."""
    left_out: list[str] = field(default_factory=list)
    """Why each configured worker left out of this load was left out."""

    @property
    def config(self) -> LaunchConfig:
        return self.key[1]

    def holds(self) -> tuple[str, ...]:
        """The workers this runner uses, or will try to use while it is still loading."""
        if self.loaded.is_set() and not self.server.alive():
            return ()  # stopped or crashed: its workers are free again
        return self.server.config.rpc if self.server.process else self.config.rpc

    def deadline(self) -> datetime:
        if self.active or self.expires_at is None:
            return _expiry(self.keep_alive)
        return self.expires_at


def _expiry(keep_alive: float) -> datetime:
    if math.isinf(keep_alive):
        return FAR_FUTURE
    return datetime.now(UTC) + timedelta(seconds=keep_alive)


@dataclass
class Lease:
    """A request's hold on a runner; releasing it starts the keep-alive timer."""

    runner: Runner
    load_seconds: float
    _release: Callable[[Lease], None]
    _released: bool = False

    @property
    def server(self) -> LlamaServer:
        return self.runner.server

    def mark_failed(self) -> None:
        """The runner misbehaved (crashed mid-answer): never hand it out again."""
        self.runner.failed = True

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release(self)


def auto_parallel(model_bytes: int, available: int) -> int:
    """Two slots when the weights, two slots' caches and 1 GiB to spare fit in free memory.

    A slot's KV cache and buffers at the default context are taken as a
    quarter of the weights (about right for 4-bit models at 4096 tokens).
    Where that does not fit, one slot: a second chat then waits its turn
    instead of pushing the machine into swap. GPU offload is left to
    llama-server's own ``--fit``, which sizes layers to free VRAM at load.
    """
    needed = model_bytes + 2 * (model_bytes // 4) + GIB
    return DEFAULT_PARALLEL if available >= needed else 1


def runner_memory(server: LlamaServer, on_gpu: dict[int, int]) -> tuple[int, int]:
    """(total, in VRAM) bytes of one llama-server, as Ollama's ``size``/``size_vram``.

    Resident memory plus what the process holds on NVIDIA GPUs (``nvidia-smi``)
    or on other Linux GPUs (DRM fdinfo: AMD, Intel); on Apple
    silicon memory is shared, so all of it counts as VRAM, as Ollama does.
    A CPU-only runner has ``size_vram`` 0.
    """
    resident = server.memory()
    if unified_memory():
        return resident, resident
    pid = server.pid or -1
    vram = on_gpu.get(pid, 0) or device_memory_of(pid)  # 0 for a pid /proc lacks
    return resident + vram, vram


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _safe_log_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:100]


def _template_args(spec: RunSpec) -> tuple[str, ...]:
    """A Jinja ``template`` layer replaces the GGUF's chat template in llama-server.

    Go templates (what Ollama's library ships) are rendered by Hearth
    (``app.runner.ollama_prompt``) and sent as a raw prompt, so llama-server
    needs no template for them.
    """
    if spec.template and spec.template_path and is_jinja_template(spec.template):
        return ("--chat-template-file", str(spec.template_path))
    return ()


class Scheduler:
    """Starts, shares, times out and stops llama-server runners."""

    def __init__(
        self,
        binary_locator: Callable[[], Path],
        log_dir: Path,
        *,
        max_loaded: int = 3,
        parallel: int | None = None,
        default_num_ctx: int | None = None,
        threads: int | None = None,
        load_timeout: float = LOAD_TIMEOUT,
        child_watch: str | None = None,
        workers: tuple[str, ...] = (),
        stall_timeout: float = 120.0,
    ) -> None:
        self._locate = binary_locator
        self.log_dir = log_dir
        self.max_loaded = max_loaded
        self.parallel = parallel
        """Configured slots per runner; None chooses per model (``auto_parallel``)."""
        self._auto_parallel: dict[str, int] = {}
        self.default_num_ctx = default_num_ctx
        """Configured ``num_ctx``; None chooses per model from memory (``auto_context``)."""
        self._auto_ctx: dict[str, int] = {}
        self.load_timeout = load_timeout
        self.child_watch = child_watch or default_child_watch()
        """How runners are stopped if Hearth dies (see ``app.runner.child_guard``)."""
        self.threads = threads or detect_hardware().physical_cores
        self.workers = tuple(workers)
        """Configured RPC workers (``host:port``); each load uses those it finds usable."""
        self.stall_timeout = stall_timeout
        """Seconds a split model's runner may say nothing mid-request (a worker gone quiet)."""
        self._runners: dict[tuple[str, LaunchConfig], Runner] = {}
        self._retired: list[Runner] = []
        self._stopping: set[LlamaServer] = set()
        """Servers being stopped: a load that wants their workers waits for them to go."""
        """Runners of deleted or replaced models still finishing an answer: never leased
        again, not listed, stopped when their last request ends."""
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._reaper = threading.Thread(target=self._reap_loop, name="keepalive", daemon=True)
        self._reaper.start()

    # -- configuration -------------------------------------------------
    def launch_config(self, spec: RunSpec, options: dict[str, Any]) -> LaunchConfig:
        """Map a model and the request's load-time options to llama-server flags."""
        parallel = self._parallel_for(spec)
        num_ctx = int(options.get("num_ctx") or self._default_ctx_for(spec, parallel))
        if spec.context_length_train:
            num_ctx = min(num_ctx, int(spec.context_length_train))
        num_ctx = max(num_ctx, 256)
        num_gpu = options.get("num_gpu")
        num_thread = options.get("num_thread")
        num_batch = options.get("num_batch")
        return LaunchConfig(
            model_path=Path(spec.model_path),
            ctx_per_slot=num_ctx,
            parallel=parallel,
            threads=int(num_thread) if num_thread else self.threads,
            gpu_layers=None if num_gpu is None or int(num_gpu) < 0 else int(num_gpu),
            projectors=tuple(Path(p) for p in spec.projector_paths),
            adapters=tuple(Path(p) for p in spec.adapter_paths),
            # One process serves chat and embeddings, as one Ollama runner does;
            # mean pooling gives generative models a usable sentence vector.
            embedding=True,
            batch_size=int(num_batch) if num_batch else None,
            use_mmap=options.get("use_mmap"),
            alias=spec.display,
            extra_args=_template_args(spec) + (() if spec.is_embedding else ("--pooling", "mean")),
            # num_gpu 0 keeps every layer on this CPU (--device none): no worker could help.
            rpc=() if num_gpu is not None and int(num_gpu) == 0 else self.workers,
        )

    def _default_ctx_for(self, spec: RunSpec, parallel: int) -> int:
        """``num_ctx`` when the request sets none: configured, or chosen once per model.

        Chosen once for the same reason as the slot count (``_parallel_for``).
        """
        if self.default_num_ctx:
            return self.default_num_ctx
        with self._lock:
            chosen = self._auto_ctx.get(spec.digest)
            if chosen is None:
                chosen = auto_context(
                    kv_bytes_per_token(spec.metadata),
                    _file_size(Path(spec.model_path)),
                    psutil.virtual_memory().available,
                    parallel,
                )
                self._auto_ctx[spec.digest] = chosen
            return chosen

    def set_workers(self, workers: tuple[str, ...]) -> None:
        """A new worker list, used from the next load (loaded models keep theirs)."""
        with self._lock:
            self.workers = tuple(workers)

    def _parallel_for(self, spec: RunSpec) -> int:
        """Slots for a model: configured, or chosen once per model from free memory.

        Chosen once because the slot count is part of the launch config: a
        choice that followed every change in free memory would reload the
        model between two requests.
        """
        if spec.is_embedding:
            return 1
        if self.parallel:
            return self.parallel
        with self._lock:
            chosen = self._auto_parallel.get(spec.digest)
            if chosen is None:
                model_bytes = _file_size(Path(spec.model_path))
                chosen = auto_parallel(model_bytes, psutil.virtual_memory().available)
                self._auto_parallel[spec.digest] = chosen
            return chosen

    # -- leasing -------------------------------------------------------
    def lease(self, spec: RunSpec, options: dict[str, Any], keep_alive: float) -> Lease:
        """Return a lease on a ready runner for ``spec``, loading it if needed."""
        config = self.launch_config(spec, options)
        key = (spec.digest, config)
        started = time.monotonic()
        with self._lock:
            if self._closed:
                raise LlamaServerFailed("Hearth is shutting down")
            runner = self._runners.get(key)
            if runner is not None and (runner.failed or not self._usable(runner)):
                self._drop(runner)
                runner = None
            if runner is None:
                self._replace_other_configs(spec.digest, key)
                self._retire_same_name(spec.display, spec.digest)
                self._make_room()
                runner = self._spawn(key, spec, keep_alive)
            runner.active += 1
            runner.keep_alive = keep_alive
        if not runner.loaded.is_set():
            runner.loaded.wait()
        if runner.load_error is not None:
            with self._lock:
                runner.active -= 1
            raise runner.load_error
        waited = time.monotonic() - started
        return Lease(runner=runner, load_seconds=waited, _release=self._release)

    @contextlib.contextmanager
    def leased(self, spec: RunSpec, options: dict[str, Any], keep_alive: float) -> Iterator[Lease]:
        lease = self.lease(spec, options, keep_alive)
        try:
            yield lease
        finally:
            lease.release()

    def _usable(self, runner: Runner) -> bool:
        return not runner.loaded.is_set() or runner.server.alive()

    def _spawn(self, key: tuple[str, LaunchConfig], spec: RunSpec, keep_alive: float) -> Runner:
        binary = self._locate()
        server = LlamaServer(
            binary, key[1], self.log_path(spec.display), guarded=self.child_watch == "guard-process"
        )
        server.stall_timeout = self.stall_timeout
        runner = Runner(key=key, name=spec.display, spec=spec, server=server, keep_alive=keep_alive)
        if key[1].rpc:
            self._claim_workers(runner)
        self._runners[key] = runner
        threading.Thread(target=self._load, args=(runner,), daemon=True).start()
        return runner

    def log_path(self, display: str) -> Path:
        """The file a model's llama-server writes its output to (kept across runs)."""
        return self.log_dir / f"llama-server-{_safe_log_name(display)}.log"

    def _claim_workers(self, runner: Runner) -> None:
        """Free this load's workers from our idle models; note those our busy models hold.

        A worker serves one llama-server at a time (a second one would wait
        for it until the load times out), so an idle model holding one is
        unloaded, as when memory runs short, and a busy one keeps it.
        """
        wanted = set(runner.config.rpc)
        for other in list(self._runners.values()) + self._retired:
            held = wanted.intersection(other.holds())
            if not held:
                continue
            if other.active == 0 and other in self._runners.values():
                del self._runners[other.key]
                runner.stop_first.append(other.server)
            else:
                runner.workers_in_use.update(dict.fromkeys(held, other.name))
        for server in self._stopping:
            if wanted.intersection(server.config.rpc):
                runner.stop_first.append(server)

    def _choose_workers(self, runner: Runner) -> None:
        """Check the configured workers now and launch with the usable ones (in the loader)."""
        for server in runner.stop_first:
            server.stop()
        plan = plan_workers(runner.config.rpc, runner.workers_in_use)
        runner.left_out = plan.left_out
        for line in plan.left_out:
            log.warning("loading %s without worker %s", runner.name, line)
        try:
            model_bytes = Path(runner.spec.model_path).stat().st_size
        except OSError:
            model_bytes = 0
        problem = fit_problem(model_bytes, psutil.virtual_memory().available, plan)
        if problem:
            raise LlamaServerFailed(f"cannot load {runner.name}: {problem}")
        runner.server.config = replace(runner.server.config, rpc=plan.chosen)

    def _load(self, runner: Runner) -> None:
        started = time.monotonic()
        try:
            if runner.config.rpc:
                self._choose_workers(runner)
            runner.server.start()
            runner.server.wait_ready(self.load_timeout)
        except Exception as error:  # noqa: BLE001 - handed to every waiting request
            log.warning("loading %s failed: %s", runner.name, error)
            runner.load_error = error
            runner.server.stop()
            with self._lock:
                if self._runners.get(runner.key) is runner:
                    del self._runners[runner.key]
        runner.load_seconds = time.monotonic() - started
        runner.loaded.set()

    def _release(self, lease: Lease) -> None:
        runner = lease.runner
        with self._lock:
            runner.active -= 1
            if runner.active > 0:
                return
            if runner in self._retired:
                self._retired.remove(runner)
                threading.Thread(target=runner.server.stop, daemon=True).start()
            elif runner.failed or runner.keep_alive <= 0:
                self._drop(runner)
            else:
                runner.expires_at = _expiry(runner.keep_alive)
                self._wake.notify_all()

    def _replace_other_configs(self, digest: str, key: tuple[str, LaunchConfig]) -> None:
        """A request with new load-time options reloads the model (idle copies go)."""
        for other in list(self._runners.values()):
            if other.key[0] == digest and other.key != key and other.active == 0:
                self._drop(other)

    def _retire_same_name(self, name: str, digest: str) -> None:
        """One runner per name: a model re-created under its name replaces the old one's."""
        for other in list(self._runners.values()):
            if other.name == name and other.key[0] != digest:
                self._retire(other)

    def _retire(self, runner: Runner) -> None:
        """Stop ``runner`` now if idle, else once its answers end; never lease it again."""
        if runner.active:
            del self._runners[runner.key]
            self._retired.append(runner)
        else:
            self._drop(runner)

    def _make_room(self) -> None:
        while len(self._runners) >= self.max_loaded:
            idle = [r for r in self._runners.values() if r.active == 0 and r.loaded.is_set()]
            if not idle:
                return  # every runner is busy: load anyway rather than fail the request
            self._drop(min(idle, key=lambda r: r.deadline()))

    def _drop(self, runner: Runner) -> None:
        if self._runners.get(runner.key) is runner:
            del self._runners[runner.key]
        self._stopping.add(runner.server)
        threading.Thread(target=self._stop_server, args=(runner.server,), daemon=True).start()

    def _stop_server(self, server: LlamaServer) -> None:
        try:
            server.stop()
        finally:
            with self._lock:
                self._stopping.discard(server)

    # -- keep-alive ----------------------------------------------------
    def _reap_loop(self) -> None:
        with self._lock:
            while not self._closed:
                now = datetime.now(UTC)
                for runner in list(self._runners.values()):
                    if runner.loaded.is_set() and runner.active == 0:
                        if runner.expires_at is not None and runner.expires_at <= now:
                            log.info("keep_alive expired: unloading %s", runner.name)
                            self._drop(runner)
                        elif not runner.server.alive():
                            self._drop(runner)
                self._wake.wait(timeout=0.5)

    # -- management ----------------------------------------------------
    def unload(self, digest: str | None = None) -> int:
        """Unload idle runners of one model (or all when ``digest`` is None).

        A runner still answering is marked to unload when its last request ends.
        """
        count = 0
        with self._lock:
            for runner in list(self._runners.values()):
                if digest is None or runner.key[0] == digest:
                    count += 1
                    if runner.active:
                        runner.keep_alive = 0
                    else:
                        self._drop(runner)
        return count

    def retire(self, digest: str) -> int:
        """A model was deleted: its runners stop once their answers end, and are not reused.

        Unlike ``unload``, a runner still answering is taken out of the table at
        once, so a model re-created under the same name loads afresh and
        ``/api/ps`` lists one runner for the name.
        """
        with self._lock:
            runners = [r for r in self._runners.values() if r.key[0] == digest]
            for runner in runners:
                self._retire(runner)
        return len(runners)

    def workers_in_use(self) -> dict[str, str]:
        """Worker address -> the name of our model using (or loading onto) it."""
        with self._lock:
            return {
                address: runner.name
                for runner in list(self._runners.values()) + self._retired
                for address in runner.holds()
            }

    def loaded(self) -> list[Runner]:
        with self._lock:
            return [r for r in self._runners.values() if r.loaded.is_set()]

    def ps(self) -> list[dict[str, Any]]:
        """Loaded models in ``/api/ps`` order (latest expiry first)."""
        entries = []
        loaded = self.loaded()
        on_gpu = nvidia_memory_by_pid() if loaded else {}
        for runner in loaded:
            size, vram = runner_memory(runner.server, on_gpu)
            entries.append(
                {
                    "runner": runner,
                    "size": size,
                    "size_vram": vram,
                    "expires_at": runner.deadline(),
                    "context_length": runner.config.ctx_per_slot,
                    "workers": list(runner.server.config.rpc),
                    "workers_left_out": list(runner.left_out),
                    "devices": runner.server.buffers.devices(),
                }
            )
        entries.sort(key=lambda e: cast(datetime, e["expires_at"]), reverse=True)
        return entries

    def shutdown(self) -> None:
        """Stop every runner (graceful, then forced) and the keep-alive thread."""
        with self._lock:
            self._closed = True
            runners = list(self._runners.values()) + self._retired
            self._runners.clear()
            self._retired = []
            self._wake.notify_all()
        threads = [threading.Thread(target=r.server.stop) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
