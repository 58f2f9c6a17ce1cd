"""The one object that owns every directory and knob a Hearth process uses.

Precedence, highest first: CLI flags (passed as ``overrides``), environment
variables (``HEARTH_HOME``, ``HEARTH_MODELS``, ``HEARTH_LLAMA_SERVER``,
``HEARTH_HOST``, ``HEARTH_PORT``, ``HEARTH_WORKERS`` and the runner knobs below),
then platformdirs defaults for the app name "Hearth". Nothing else in the code
base computes a directory.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from app.errors import HearthException
from app.runner.rpc_workers import WorkerAddressError, parse_workers

APP_NAME = "Hearth"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
CHILD_WATCHES = ("parent-death-signal", "guard-process")
"""How llama-servers learn that Hearth died: the kernel tells them (Linux only), or a guard."""


def default_child_watch() -> str:
    return CHILD_WATCHES[0] if sys.platform.startswith("linux") else CHILD_WATCHES[1]


@dataclass(frozen=True)
class Settings:
    """Resolved directories and server knobs for one Hearth process."""

    data_dir: Path
    models_dir: Path
    cache_dir: Path
    log_dir: Path
    llama_server: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allowed_hosts: tuple[str, ...] = ()
    """Extra Host names accepted besides loopback ones (e.g. host.docker.internal)."""
    origins: tuple[str, ...] = ()
    """Extra browser origins allowed to call the API (``*`` wildcards), like OLLAMA_ORIGINS."""
    require_token: bool = False
    """Ask for the access token even on loopback (``HEARTH_REQUIRE_TOKEN=1``)."""
    ollama_port: int | None = None
    """Opt-in drop-in listener serving the Ollama API at ``/api`` (e.g. 11434)."""
    pull_max_bytes_per_second: float | None = None
    """Bandwidth cap for pulls (``HEARTH_PULL_MAX_BPS``), for metered links."""
    pull_manifest_timeout: float = 30.0
    """Seconds for a whole manifest or token exchange (``HEARTH_PULL_MANIFEST_TIMEOUT``)."""
    num_parallel: int | None = None
    """Slots per llama-server (``HEARTH_NUM_PARALLEL``); None chooses from memory (1 or 2)."""
    max_loaded_models: int = 3
    """Models kept loaded at once (``HEARTH_MAX_LOADED_MODELS``); the idlest is unloaded."""
    context_length: int | None = None
    """Default ``num_ctx`` per slot (``HEARTH_CONTEXT_LENGTH``), capped by the model's own;
    None chooses per model from memory, 4096 to 32768 (``app.runner.context_size``)."""
    load_timeout: float = 300.0
    """Seconds a llama-server may take to become ready (``HEARTH_LOAD_TIMEOUT``)."""
    child_watch: str = field(default_factory=default_child_watch)
    """``HEARTH_CHILD_WATCH``: "parent-death-signal" (Linux) or "guard-process" (elsewhere)."""
    workers: tuple[str, ...] = ()
    """``hearth worker`` addresses (``--workers``, ``HEARTH_WORKERS``: ``host:port,...``) whose
    devices take part of each model; the ``workers`` app setting, once saved, replaces them."""
    worker_stall_timeout: float = 120.0
    """Seconds a model split across workers may say nothing mid-answer before Hearth stops it
    (``HEARTH_WORKER_STALL_TIMEOUT``): a worker that left the network never says it left."""

    @property
    def llama_server_cache(self) -> Path:
        """Where built llama-server binaries live, one folder per build key."""
        return self.cache_dir / "llama-server"

    @property
    def token_required(self) -> bool:
        """Bound beyond loopback (LAN mode), or asked for (a shared machine)."""
        loopback = self.host in {"localhost", "::1"} or self.host.startswith("127.")
        return self.require_token or not loopback

    @property
    def database_path(self) -> Path:
        return self.data_dir / "hearth.db"

    def ensure_dirs(self) -> None:
        """Create the directories Hearth writes to (and nothing else)."""
        for path in (self.data_dir, self.models_dir, self.cache_dir, self.log_dir):
            path.mkdir(parents=True, exist_ok=True)

    def with_overrides(self, **changes: object) -> Settings:
        clean = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **clean)  # type: ignore[arg-type]


SYSTEM_DIRS = (
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/run", "/sbin", "/sys", "/usr", "/var", "/home", "/root", "/opt", "/srv", "/mnt",
    "/media", "/tmp", "/System", "/Library", "/Applications", "/Users", "/private",
)  # fmt: skip
"""Directories that are never a models directory themselves (their sub-folders may be)."""
SYSTEM_TREES = ("/dev", "/proc", "/sys", "/etc", "/boot", "/run", "/bin", "/sbin", "/usr/bin")
"""Trees no models directory may be in at all: devices, kernel views, system config."""


def _within(path: Path, tree: str) -> bool:
    return path == Path(tree) or Path(tree) in path.parents


def _writable_here(directory: Path) -> bool:
    """True when a file can really be made in ``directory`` (root passes every access check)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def models_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold the model store, or None when it can.

    It must be absolute, not a system directory (``/``, ``/etc``, a drive's
    root, anything under ``/proc`` or ``/dev``...), and either a writable
    directory or one that can be made inside a writable one. Why check:
    a bad stored value used to crash every later start with a traceback.
    """
    path = path.expanduser()
    if not path.is_absolute():
        return "it is not an absolute path"
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return "it cannot be resolved (a symlink loop?)"
    windows_dir = os.environ.get("SYSTEMROOT")
    if (
        real.parent == real
        or str(real) in SYSTEM_DIRS
        or any(_within(real, tree) for tree in SYSTEM_TREES)
        or (windows_dir and _within(real, windows_dir))
    ):
        return "it is a system directory"
    existing = real
    while not existing.exists():
        existing = existing.parent
    if existing == real and not real.is_dir():
        return "it exists and is not a directory"
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not _writable_here(existing):
        return f"{existing} is not writable"
    return None


def _path_env(env: dict[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else None


def _list_env(env: dict[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


class SettingsError(HearthException, ValueError):
    """An environment variable or flag Hearth cannot use; the message says which."""


def _number_env(env: dict[str, str], name: str, kind: type, low: float) -> Any:
    """A numeric variable, or None when unset; a bad value is a clear error at start."""
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {text!r}") from None
    if value < low:
        raise SettingsError(f"{name} must be at least {low:g}")
    return value


def _child_watch_env(env: dict[str, str]) -> str:
    text = env.get("HEARTH_CHILD_WATCH", "").strip().lower() or default_child_watch()
    if text not in CHILD_WATCHES:
        raise SettingsError(f"HEARTH_CHILD_WATCH must be one of {', '.join(CHILD_WATCHES)}")
    if text == CHILD_WATCHES[0] and not sys.platform.startswith("linux"):
        raise SettingsError("HEARTH_CHILD_WATCH=parent-death-signal works on Linux only")
    return text


def _workers_env(env: dict[str, str]) -> tuple[str, ...]:
    try:
        return parse_workers(env.get("HEARTH_WORKERS", ""))
    except WorkerAddressError as error:
        raise SettingsError(f"HEARTH_WORKERS: {error}") from None


def default_llama_server_cache() -> Path:
    """The build cache used when no ``HEARTH_HOME`` is set.

    Shared by the setup scripts and the test suite so that llama-server is
    compiled once per machine, whatever home a test process uses.
    """
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "llama-server"


def load_settings(env: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Resolve settings from the environment, then apply CLI ``overrides``."""
    env = dict(os.environ if env is None else env)
    home = _path_env(env, "HEARTH_HOME")
    if home is not None:
        data_dir, cache_dir, log_dir = home, home / "cache", home / "logs"
    else:
        data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        cache_dir = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
        log_dir = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    models_dir = _path_env(env, "HEARTH_MODELS") or data_dir / "models"
    port_text = env.get("HEARTH_PORT", "").strip()
    hosts = _list_env(env, "HEARTH_ALLOWED_HOSTS")
    origins = _list_env(env, "HEARTH_ORIGINS") + _list_env(env, "OLLAMA_ORIGINS")
    settings = Settings(
        data_dir=data_dir,
        models_dir=models_dir,
        cache_dir=cache_dir,
        log_dir=log_dir,
        llama_server=_path_env(env, "HEARTH_LLAMA_SERVER"),
        host=env.get("HEARTH_HOST", "").strip() or DEFAULT_HOST,
        port=int(port_text) if port_text else DEFAULT_PORT,
        allowed_hosts=hosts,
        origins=origins,
        pull_max_bytes_per_second=float(cap) if (cap := env.get("HEARTH_PULL_MAX_BPS")) else None,
        ollama_port=int(drop_in) if (drop_in := env.get("HEARTH_OLLAMA_PORT")) else None,
        require_token=env.get("HEARTH_REQUIRE_TOKEN", "").strip().lower() in {"1", "true", "yes"},
        num_parallel=_number_env(env, "HEARTH_NUM_PARALLEL", int, 1),
        child_watch=_child_watch_env(env),
        workers=_workers_env(env),
    )
    runner_knobs = {
        "max_loaded_models": _number_env(env, "HEARTH_MAX_LOADED_MODELS", int, 1),
        "context_length": _number_env(env, "HEARTH_CONTEXT_LENGTH", int, 256),
        "load_timeout": _number_env(env, "HEARTH_LOAD_TIMEOUT", float, 0.1),
        "pull_manifest_timeout": _number_env(env, "HEARTH_PULL_MANIFEST_TIMEOUT", float, 0.1),
        "worker_stall_timeout": _number_env(env, "HEARTH_WORKER_STALL_TIMEOUT", float, 1),
    }
    return settings.with_overrides(**runner_knobs).with_overrides(**overrides)
