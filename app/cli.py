"""``hearth`` command line: serve, doctor, model management, and chat (``run``, ``ps``, ``stop``).

Every command reaches the same :class:`app.hearth.Hearth` method the HTTP API uses;
nothing here talks HTTP to itself. The exceptions go to the running Hearth
that owns the data directory: ``pull`` (one registry of pulls) and
``run``/``ps``/``stop`` (its loaded models; see ``app.cli_client``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import __version__
from app.cli_format import ago, human_size, model_lines, print_table
from app.errors import HearthError
from app.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from app.cli_client import Remote
    from app.hearth import Hearth
    from app.web.access import Verifier


def _settings(args: argparse.Namespace) -> Settings:
    env = dict(os.environ)
    if args.home:
        env["HEARTH_HOME"] = args.home
    if args.models:
        env["HEARTH_MODELS"] = args.models
    if args.llama_server:
        env["HEARTH_LLAMA_SERVER"] = args.llama_server
    if getattr(args, "workers", None) is not None:
        env["HEARTH_WORKERS"] = args.workers
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    if getattr(args, "ollama_port", None) is not None:
        overrides["ollama_port"] = args.ollama_port
    return _with_stored_settings(load_settings(env, **overrides), env, overrides)


def _with_stored_settings(
    settings: Settings, env: dict[str, str], overrides: dict[str, Any]
) -> Settings:
    """Apply the restart-time settings saved through /api/v1/settings.

    Flags and environment variables win over what the app stored, so
    ``--models`` or ``HEARTH_MODELS`` always mean what they say. A stored
    models directory that cannot be used (gone read-only, a file, a system
    directory saved by an older Hearth) is skipped with a warning rather
    than crashing the start: the user can then fix it in the settings.
    """
    from app.settings import models_dir_problem
    from app.settings.stored import read_stored

    stored = read_stored(settings.database_path)
    changes: dict[str, Any] = {}
    if stored.get("models_dir") and not env.get("HEARTH_MODELS", "").strip():
        chosen = Path(stored["models_dir"]).expanduser()
        problem = models_dir_problem(chosen)
        if problem:
            _warn(
                f"the models directory in the settings, {chosen}, cannot be used ({problem});"
                f" using {settings.models_dir} instead. Change it in Settings."
            )
        else:
            changes["models_dir"] = chosen
    if (
        stored.get("ollama_port")
        and "ollama_port" not in overrides
        and not env.get("HEARTH_OLLAMA_PORT")
    ):
        changes["ollama_port"] = stored["ollama_port"]
    return settings.with_overrides(**changes)


_early_warnings: list[str] = []
"""Warnings from before logging is set up; ``_setup_logging`` writes them to the log."""


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
    _early_warnings.append(message)


def _hearth(settings: Settings) -> Hearth:
    from app.hearth import Hearth

    return Hearth(settings)


def _setup_logging(settings: Settings, verbose: bool) -> None:
    settings.ensure_dirs()
    # Rotated (10 MB x 5): every request writes a line now (app.web.request_log).
    log_file = RotatingFileHandler(
        settings.log_dir / "hearth.log", maxBytes=10 * 2**20, backupCount=5, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [log_file]
    if verbose:
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
    for message in _early_warnings:
        logging.getLogger("hearth").warning(message)
    _early_warnings.clear()


def cmd_serve(args: argparse.Namespace) -> int:
    from app.desktop.instance import InstanceLock, running_url

    settings = _settings(args)
    _setup_logging(settings, args.verbose)
    lock = InstanceLock(settings.data_dir)
    if not lock.acquire():
        # One Hearth per data directory: two servers on one database and store race.
        where = running_url(settings.data_dir)
        print(
            f"error: Hearth is already running on {settings.data_dir}"
            + (f" at {where}" if where else "")
            + "; use that one, or pick another --home",
            file=sys.stderr,
        )
        return 1
    try:
        return _serve(args, settings, lock)
    finally:
        lock.release()


def _serve(args: argparse.Namespace, settings: Settings, lock: Any) -> int:
    from app.server import HTTPServer
    from app.web import create_app
    from app.web.factory import create_ollama_app

    verifier = _lan_verifier(settings)
    hearth = _hearth(settings)
    web_app = create_app(settings, hearth, verifier)
    servers = [HTTPServer(web_app, settings.host, settings.port)]
    drop_in_port = _drop_in_port(args, settings)
    if drop_in_port:
        drop_in = create_ollama_app(settings, hearth, verifier)
        servers.append(HTTPServer(drop_in, settings.host, drop_in_port))
    server = servers[0]
    for each in list(servers):
        try:
            each.bind()
        except OSError as error:
            if each is not server and not _drop_in_port_asked(args):
                # From the settings: the app still works without it (as the window does).
                message = f"cannot serve the Ollama API on port {each.port}: {error}"
                print(f"warning: {message}; change ollama_port in Settings", file=sys.stderr)
                logging.getLogger("hearth").warning(message)
                servers.remove(each)
                continue
            # Stop what is bound already: its worker threads would keep this
            # process alive, with the main port open and answering nobody.
            for bound in servers:
                bound.stop()
            hearth.close()
            what = "the Ollama drop-in port" if each is not server else "the port"
            print(
                f"error: cannot listen on {settings.host}:{each.port} ({what}): {error}",
                file=sys.stderr,
            )
            return 1
    # Signals only ask for the stop; the main thread does it. Why not raise
    # KeyboardInterrupt from the handler: landing inside the HTTP server's own
    # code (a lock taken, a loop's bookkeeping) it could leave the shutdown
    # waiting on something that never ends. Installed before the URL is
    # printed, so a supervisor that signals as soon as it reads the URL gets
    # a clean stop too.
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for each in servers:
            each.start_in_thread()
        for extra in servers[1:]:
            print(f"Ollama drop-in API: {extra.url}/api", flush=True)
        for name in hearth.start():
            print(f"Resuming the pull of {name}", flush=True)
        logging.getLogger("hearth").info("Serving on %s", server.url)
        lock.publish(server.url)
        print(f"Serving on {server.url}", flush=True)
        print(f"Ollama API: {server.url}/ollama", flush=True)
        while not stopping.wait(0.5):
            if not all(each.serving for each in servers):
                logging.getLogger("hearth").error("the HTTP server stopped by itself")
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        for each in servers:
            each.stop()
        hearth.close()
    return 0


def _drop_in_port(args: argparse.Namespace, settings: Settings) -> int | None:
    """The drop-in port to open, or None; one equal to the main port is skipped with a warning.

    Why not fail: the value may come from the settings, and a start that
    always fails leaves no way to change it but editing the database.
    """
    port = settings.ollama_port
    if port and port == settings.port:
        source = (
            "--ollama-port" if getattr(args, "ollama_port", None) else "the ollama_port setting"
        )
        message = (
            f"{source} ({port}) is the main port too; not opening the Ollama drop-in port."
            " The Ollama API is still served at /ollama."
        )
        print(f"warning: {message}", file=sys.stderr, flush=True)
        logging.getLogger("hearth").warning(message)
        return None
    return port


def _drop_in_port_asked(args: argparse.Namespace) -> bool:
    """True when the drop-in port came from a flag or the environment, not the settings."""
    return getattr(args, "ollama_port", None) is not None or bool(
        os.environ.get("HEARTH_OLLAMA_PORT", "").strip()
    )


def _lan_verifier(settings: Settings) -> Verifier | None:
    """In LAN mode, the access token's verifier (made, and shown once, on first use)."""
    if not settings.token_required:
        return None
    from app.web.access import AccessToken

    token = AccessToken(settings.data_dir)
    if not token.exists():
        secret = token.create()
        print(
            f"LAN mode: every request needs this access token (shown once, stored hashed):\n"
            f"    {secret}\n"
            f"Send it as 'Authorization: Bearer <token>', or open /?token=<token> in a browser."
            f" New token: hearth token --reset",
            flush=True,
        )
    return token.verifier()


def cmd_token(args: argparse.Namespace) -> int:
    from app.web.access import AccessToken

    settings = _settings(args)
    token = AccessToken(settings.data_dir)
    if not args.reset:
        state = "set" if token.exists() else "not set (made on the first LAN start)"
        print(f"access token: {state}; it is stored hashed and cannot be shown again")
        return 0
    print(token.create())
    print(
        "The old token no longer works: a running Hearth uses the new one from its next request.",
        file=sys.stderr,
    )
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    """The desktop window; without a display (or pywebview), ``hearth serve``."""
    from app.desktop.shell import has_display

    settings = _settings(args)
    try:
        import webview  # noqa: F401
    except ImportError:
        print("pywebview is not installed: running as `hearth serve`", flush=True)
        return cmd_serve(args)
    if not has_display():
        print("No display available: running as `hearth serve`", flush=True)
        return cmd_serve(args)
    from app.desktop.shell import run_desktop

    _setup_logging(settings, getattr(args, "verbose", False))
    return run_desktop(settings)


def cmd_doctor(args: argparse.Namespace) -> int:
    from app.doctor import doctor_report, format_report
    from app.settings.stored import read_stored

    settings = _settings(args)
    stored = read_stored(settings.database_path).get("workers")
    workers = settings.workers if stored is None else tuple(stored)
    report = doctor_report(settings, workers=workers)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    server = report["llama_server"]
    if server["found"] and not server["starts"]:
        print(f"error: llama-server cannot start: {server['error']}", file=sys.stderr)
    return 0 if server["found"] and server["starts"] else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from app.runner.locate import LlamaServerNotFound, locate_rpc_server
    from app.worker import WorkerError, run_worker

    settings = _settings(args)
    try:
        binary = locate_rpc_server(settings)
        return run_worker(
            binary,
            args.host,
            args.port,
            trusted_network=args.trusted_network,
            threads=args.threads,
            devices=args.device,
            cache=args.cache,
        )
    except (LlamaServerNotFound, WorkerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def cmd_import(args: argparse.Namespace) -> int:
    hearth = _hearth(_settings(args))
    try:
        projector = Path(args.mmproj) if args.mmproj else None
        for status in hearth.import_gguf(Path(args.file), args.name, projector):
            print(status["status"])
    finally:
        hearth.close()
    return 0


def _running_hearth(settings: Settings) -> Remote | None:
    """The Hearth serving this data directory, if one is up and answering.

    Why: pulls belong to one registry of pulls, the running app's, so that a
    terminal pull, the window and the API see, join and cancel the same pull.
    The same check as ``run``/``ps``/``rm`` (``find_running``): a LAN-mode
    Hearth is reached with ``HEARTH_TOKEN``, and without it the error says so,
    where the pull used to run in this process beside the running Hearth, on
    its data, unseen by it and by ``hearth pulls``.
    """
    from app.cli_client import find_running

    return find_running(settings.data_dir)


def cmd_pull(args: argparse.Namespace) -> int:
    """Pull with a progress bar per layer: bytes, speed and time left.

    With a Hearth running on the same data, the pull runs in it (and goes on
    if this terminal closes); otherwise in this process.
    """
    settings = _settings(args)
    remote = _running_hearth(settings)
    if args.cancel:
        return _cancel_pull(remote, args.name)
    if remote is not None:
        return _pull_through(remote, args.name, args.insecure)
    hearth = _hearth(settings)
    bar = ProgressBar()
    try:
        _show_progress(bar, hearth.pull(args.name, args.insecure))
    except KeyboardInterrupt:
        bar.finish()
        hearth.cancel_pull(args.name)
        print("cancelled: run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        hearth.close()
    return 0


def _show_progress(bar: ProgressBar, statuses: Any) -> None:
    for status in statuses:
        if "error" in status:
            bar.finish()
            raise HearthError(status["error"])
        if "total" in status and status.get("digest"):
            bar.update(status["status"], status.get("completed", 0), status["total"])
        else:
            bar.finish()
            print(status["status"], flush=True)


def _pull_through(remote: Remote, name: str, insecure: bool) -> int:
    import requests

    url = remote.url
    print(f"pulling in the running Hearth at {url}", flush=True)
    bar = ProgressBar()
    try:
        with requests.post(
            f"{url}/ollama/api/pull",
            json={"model": name, "insecure": insecure},
            headers=remote.headers,
            stream=True,
            timeout=(10, 600),
        ) as reply:
            if reply.status_code != 200:
                raise HearthError(_error_text(reply))
            lines = (json.loads(line) for line in reply.iter_lines() if line)
            _show_progress(bar, lines)
    except KeyboardInterrupt:
        bar.finish()
        print(
            f"the pull goes on in the running Hearth; stop it with: hearth pull --cancel {name}",
            file=sys.stderr,
        )
        return 130
    except requests.RequestException as error:
        raise HearthError(f"lost the running Hearth at {url}: {error}") from None
    return 0


def _cancel_pull(remote: Remote | None, name: str) -> int:
    import requests

    if remote is None:
        print("no Hearth is running here, so no pull to cancel", file=sys.stderr)
        return 1
    reply = requests.delete(
        f"{remote.url}/ollama/api/pulls",
        json={"model": name},
        headers=remote.headers,
        timeout=10,
    )
    if reply.status_code != 200:
        raise HearthError(_error_text(reply))
    print(f"cancelled the pull of {name}; pulling it again resumes where it stopped")
    return 0


def _error_text(reply: Any) -> str:
    try:
        return str(reply.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"Hearth answered {reply.status_code}"


def cmd_pulls(args: argparse.Namespace) -> int:
    """Pulls in progress in the running Hearth."""
    import requests

    remote = _running_hearth(_settings(args))
    if remote is None:
        print("no Hearth is running here (a pull in a terminal shows its own progress)")
        return 0
    reply = requests.get(f"{remote.url}/ollama/api/pulls", headers=remote.headers, timeout=10)
    pulls = reply.json()["pulls"]
    if not pulls:
        print("no pulls in progress")
        return 0
    rows = [("NAME", "PROGRESS", "STATUS")]
    for pull in pulls:
        total = pull.get("total") or 0
        done = pull.get("completed") or 0
        progress = f"{human_size(done)}/{human_size(total)}" if total else "-"
        rows.append((pull["model"], progress, pull.get("status", "")))
    print_table(rows)
    return 0


class ProgressBar:
    """One terminal line per layer, redrawn in place."""

    def __init__(self) -> None:
        import time

        self._now = time.monotonic
        self.label = ""
        self.started = 0.0
        self.first = 0

    def update(self, label: str, completed: int, total: int) -> None:
        if label != self.label:
            self.finish()
            self.label, self.started, self.first = label, self._now(), completed
        elapsed = max(self._now() - self.started, 1e-6)
        speed = (completed - self.first) / elapsed
        left = (total - completed) / speed if speed > 0 else 0
        width = 30
        filled = int(width * completed / total) if total else width
        line = (
            f"\r{label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{human_size(completed)}/{human_size(total)} "
            f"{human_size(int(speed))}/s ETA {int(left // 60)}:{int(left % 60):02d}"
        )
        sys.stdout.write(line)
        sys.stdout.flush()

    def finish(self) -> None:
        if self.label:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.label = ""


def cmd_list(args: argparse.Namespace) -> int:
    hearth = _hearth(_settings(args))
    try:
        rows = [("NAME", "ID", "SIZE", "MODIFIED")]
        for model in hearth.list_models():
            rows.append(
                (
                    model["name"],
                    model["digest"][:12],
                    human_size(model["size"]),
                    ago(model["modified_at"]),
                )
            )
        print_table(rows)
    finally:
        hearth.close()
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    hearth = _hearth(_settings(args))
    try:
        info = hearth.show(args.name, verbose=args.verbose)
    finally:
        hearth.close()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print("\n".join(model_lines(info, verbose=args.verbose)))
    return 0


def cmd_cp(args: argparse.Namespace) -> int:
    hearth = _hearth(_settings(args))
    try:
        hearth.copy(args.source, args.destination)
    finally:
        hearth.close()
    print(f"copied '{args.source}' to '{args.destination}'")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    """Remove models: through the running Hearth when there is one, as ``ollama rm`` does.

    Why: that Hearth may have the model loaded; deleting only the files would
    leave its runner in ``ps``, holding memory until its keep-alive ends, and
    ``stop`` could not name it any more. The running Hearth unloads it too.
    """
    from app.cli_client import find_running

    settings = _settings(args)
    remote = find_running(settings.data_dir)
    if remote is not None:
        _delete_each(remote.delete, args.names)
        return 0
    hearth = _hearth(settings)
    try:
        _delete_each(hearth.delete, args.names)
    finally:
        hearth.close()
    return 0


def _delete_each(delete: Callable[[str], None], names: list[str]) -> None:
    """Delete the names in order, saying each; the first that fails stops the rest, as Ollama."""
    for name in names:
        delete(name)
        print(f"deleted '{name}'")


def cmd_run(args: argparse.Namespace) -> int:
    """Chat with a model (``app.cli_run``): in the running Hearth if any, else in this process."""
    from app.cli_repl import chat_loop
    from app.cli_run import run_model

    settings = _settings(args)

    def in_process() -> Hearth:
        # Logged where a served Hearth logs, not on the terminal the chat uses.
        _setup_logging(settings, False)
        return _hearth(settings)

    return run_model(args, settings, in_process, chat_loop)


def cmd_ps(args: argparse.Namespace) -> int:
    from app.cli_run import show_ps

    return show_ps(_settings(args))


def cmd_stop(args: argparse.Namespace) -> int:
    from app.cli_run import stop_model

    return stop_model(_settings(args), args.model)


WORKERS_HELP = (
    "hearth worker addresses host:port,... whose devices take part of each model"
    " (env HEARTH_WORKERS; the workers setting, once saved, replaces them)"
)


def _add_place_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """``--home``, ``--models`` and ``--llama-server``: where Hearth's data and engine are."""
    parser.add_argument(
        "--home",
        default=default,
        help="data directory (default: platform data dir; env HEARTH_HOME)",
    )
    parser.add_argument("--models", default=default, help="models directory (env HEARTH_MODELS)")
    parser.add_argument(
        "--llama-server", default=default, help="llama-server binary (env HEARTH_LLAMA_SERVER)"
    )


def _place_options_after_commands(commands: Any) -> None:
    """Let ``hearth serve --home DIR`` mean ``hearth --home DIR serve``.

    Why: ``hearth --help`` lists ``--home`` and a person puts it after the
    command (``serve --home /tmp/x``, as with ``--port``); argparse refused
    that as unrecognized. Suppressed defaults keep a value given before the
    command when none is given after it.
    """
    for sub in {id(sub): sub for sub in commands.choices.values()}.values():
        _add_place_options(sub, argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearth", description="Private, offline chat with local models."
    )
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    _add_place_options(parser, None)
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the HTTP server without a window")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("-v", "--verbose", action="store_true", help="log to the terminal too")
    serve.add_argument(
        "--ollama-port",
        type=int,
        help="also serve the Ollama API at /api on this port, e.g. 11434 (env HEARTH_OLLAMA_PORT)",
    )
    serve.add_argument("--workers", help=WORKERS_HELP)
    serve.set_defaults(func=cmd_serve)

    token = commands.add_parser("token", help="the LAN-mode access token")
    token.add_argument("--reset", action="store_true", help="make a new token and print it")
    token.set_defaults(func=cmd_token)

    app_cmd = commands.add_parser("app", help="open the desktop window (the default)")
    app_cmd.add_argument("-v", "--verbose", action="store_true", help="log to the terminal too")
    app_cmd.add_argument(
        "--ollama-port", type=int, help="also serve the Ollama API at /api on this port"
    )
    app_cmd.add_argument("--workers", help=WORKERS_HELP)
    app_cmd.set_defaults(func=cmd_app, host=None, port=None)

    worker = commands.add_parser(
        "worker",
        help="lend this machine's devices to another Hearth (llama.cpp RPC; trusted networks only)",
        description="Run llama.cpp's RPC server for this machine's devices. The protocol has"
        " no authentication: use it only on a trusted network.",
    )
    worker.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    worker.add_argument("--port", type=int, default=50052, help="port (default 50052; 0: any)")
    worker.add_argument(
        "--trusted-network",
        action="store_true",
        help="allow an address other machines can reach (no authentication: trusted LANs only)",
    )
    worker.add_argument("--threads", type=int, help="CPU threads (default: physical cores)")
    worker.add_argument("--device", help="devices to lend, e.g. CUDA0,CUDA1 (default: all GPUs)")
    worker.add_argument(
        "--cache", action="store_true", help="keep received weights on disk for faster reloads"
    )
    worker.set_defaults(func=cmd_worker)

    doctor = commands.add_parser("doctor", help="versions, directories, llama-server, hardware")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=cmd_doctor)

    imp = commands.add_parser("import", help="create a model from a GGUF file")
    imp.add_argument("file")
    imp.add_argument("name")
    imp.add_argument(
        "--mmproj",
        metavar="PROJECTOR",
        help="a vision projector GGUF (mmproj) for the model: it can then see images",
    )
    imp.set_defaults(func=cmd_import)

    pull = commands.add_parser("pull", help="pull a model from a registry")
    pull.add_argument("name")
    pull.add_argument("--insecure", action="store_true", help="allow plain http")
    pull.add_argument(
        "--cancel", action="store_true", help="stop this model's pull in the running Hearth"
    )
    pull.set_defaults(func=cmd_pull)

    commands.add_parser("pulls", help="pulls in progress in the running Hearth").set_defaults(
        func=cmd_pulls
    )

    commands.add_parser("list", aliases=["ls"], help="list models").set_defaults(func=cmd_list)

    show = commands.add_parser("show", help="show a model's details")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.add_argument("--verbose", action="store_true")
    show.set_defaults(func=cmd_show)

    cp = commands.add_parser("cp", help="copy a model")
    cp.add_argument("source")
    cp.add_argument("destination")
    cp.set_defaults(func=cmd_cp)

    run = commands.add_parser(
        "run",
        help="chat with a model, or answer one prompt",
        description="Answer PROMPT (or text piped on stdin) and exit; with neither, chat"
        " on the terminal (/? for help). Uses the running Hearth when there is one.",
    )
    run.add_argument("model")
    run.add_argument("prompt", nargs="*", help="the message; stdin, when piped, comes first")
    run.add_argument(
        "--verbose", action="store_true", help="show timings and tokens/s after each answer"
    )
    run.add_argument(
        "--think",
        nargs="?",
        const="true",
        metavar="LEVEL",
        help="thinking models: true (alone), false, or low, medium, high",
    )
    run.add_argument(
        "--hidethinking", action="store_true", help="let the model think, but show only the answer"
    )
    run.add_argument(
        "--keepalive", metavar="DURATION", help="how long the model stays loaded, e.g. 5m, 1h"
    )
    run.set_defaults(func=cmd_run)

    commands.add_parser("ps", help="models loaded in the running Hearth").set_defaults(func=cmd_ps)

    stop = commands.add_parser("stop", help="unload a model in the running Hearth")
    stop.add_argument("model")
    stop.set_defaults(func=cmd_stop)

    rm = commands.add_parser("rm", help="remove models")
    rm.add_argument("names", nargs="+")
    rm.set_defaults(func=cmd_rm)
    _place_options_after_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # Words of ``run``'s prompt after an option (``run MODEL --verbose why is...``),
        # which argparse leaves over; Ollama takes flags anywhere on the line.
        if args.command != "run" or any(word.startswith("-") for word in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.prompt = [*args.prompt, *extra]
    if args.command is None:
        args = parser.parse_args([*(sys.argv[1:] if argv is None else argv), "app"])
    try:
        return int(args.func(args))
    except (HearthError, SettingsError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
