"""The Linux package as a user gets it: build, ``apt-get install``, use, ``apt-get remove``.

``bash packaging/dev.sh package`` builds (cached: only changed inputs
rebuild) the portable llama-server, the PyInstaller folder and the .deb;
the .deb is installed into this machine with apt-get, and everything
after that runs ``/usr/bin/hearth`` from a bare PATH with no venv, no
PYTHONPATH and a fresh home: doctor, import of the real test model, a
streamed chat through ``hearth serve``, the window under Xvfb, quit.
Then ``apt-get remove`` must leave nothing under /opt or /usr.

Needs root and apt (it installs a system package): skipped otherwise,
with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from app.runner.locate import RPC_SERVER, build_key
from tests import x11
from tests.hearth_process import REPO
from tests.test_desktop import display, image_spread, screenshot  # noqa: F401 - fixture
from tests.waiting import wait_until

OPT = Path("/opt/hearth")
BUNDLED_SERVER = OPT / "_internal" / "llama-server"
BARE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "installing the .deb needs root"
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        return "installing the .deb needs apt-get and dpkg (a Debian or Ubuntu system)"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


def _run(command: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, (
        f"{command}: {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def deb() -> Path:
    """dist/hearth_*.deb, built (or found up to date) by the documented command."""
    log = REPO / "build" / "test-package.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run(
            ["bash", "packaging/dev.sh", "package"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=3 * 3600,
        )
    text = log.read_text()
    print(text[-2000:])
    assert done.returncode == 0, text[-4000:]
    debs = sorted((REPO / "dist").glob("hearth_*_amd64.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_the_bundle_runs_on_glibc_2_35(deb: Path) -> None:
    """Ubuntu 22.04's glibc: the highest GLIBC_ symbol any file in the bundle needs.

    Measured (objdump over every ELF file, packaging/linux_deps.py), not run:
    no glibc-2.35 system can be had here.
    """
    record = json.loads((REPO / "dist" / "package-inputs.json").read_text())
    glibc = tuple(int(part) for part in record["glibc"].split("."))
    assert glibc <= (2, 35), f"GLIBC_{record['glibc']} needed by {record['glibc_file']}"
    control = _run(["dpkg-deb", "-f", str(deb), "Depends"], 60).stdout
    assert "libstdc++6 (>= " in control, control


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[list[str]]:
    """The .deb installed with apt-get; yields the files dpkg says it owns."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "install", "-y", "--no-install-recommends", str(deb)], 900, env=env)
    files = _run(["dpkg", "-L", "hearth"], 60).stdout.split()
    try:
        yield files
    finally:
        if subprocess.run(["dpkg", "-s", "hearth"], capture_output=True).returncode == 0:
            subprocess.run(["apt-get", "remove", "-y", "hearth"], capture_output=True, env=env)


def _bare_env(home: Path, **extra: str) -> dict[str, str]:
    """What a user's shell gives: PATH without any venv, a home, no Hearth checkout."""
    return {"PATH": BARE_PATH, "HOME": str(home), "HEARTH_HOME": str(home / "hearth"),
            "LANG": "C.UTF-8", **extra}  # fmt: skip


def _our_servers() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["exe"]):
        if (process.info["exe"] or "").startswith(str(OPT)) and "llama-server" in (
            process.info["exe"] or ""
        ):
            found.append(process)
    return found


def _serving_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Serving on "):
            return line.split("Serving on ", 1)[1].strip()
    raise AssertionError(f"hearth exited with {process.wait()} before serving")


def test_installed_hearth_runs_from_path(
    installed: list[str],
    tmp_path: Path,
    gemma_gguf_path: Path,
    display: str,  # noqa: F811
) -> None:
    assert shutil.which("hearth", path=BARE_PATH) == "/usr/bin/hearth"
    assert "/usr/share/applications/hearth.desktop" in installed
    assert "/usr/share/icons/hicolor/48x48/apps/hearth.png" in installed
    env = _bare_env(tmp_path)

    report = json.loads(_run(["hearth", "doctor", "--json"], 120, env=env).stdout)
    server = report["llama_server"]
    assert server["path"] == str(BUNDLED_SERVER), server
    assert server["starts"] and server["portable"] and server["backend"] == "cpu", server

    _run(["hearth", "import", str(gemma_gguf_path), "pkg:1"], 300, env=env)

    serve = subprocess.Popen(
        ["hearth", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _serving_url(serve)
        body = {"model": "pkg:1", "messages": [{"role": "user", "content": "Say hi."}],
                "stream": True, "options": {"num_predict": 8, "seed": 1}}  # fmt: skip
        with requests.post(f"{url}/ollama/api/chat", json=body, stream=True, timeout=300) as reply:
            assert reply.status_code == 200, reply.text
            chunks = [json.loads(line) for line in reply.iter_lines() if line]
        assert len(chunks) >= 2 and chunks[-1]["done"]
        assert "".join(c["message"]["content"] for c in chunks).strip()
        running = _our_servers()
        assert running and all(p.exe() == str(BUNDLED_SERVER) for p in running)
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
    wait_until(lambda: not _our_servers(), "hearth serve left its llama-server", timeout=20)

    started = time.monotonic()
    window = subprocess.Popen(
        ["hearth"],
        env={**env, "DISPLAY": display, "QTWEBENGINE_DISABLE_SANDBOX": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _serving_url(window)

        def interactive() -> bool:
            try:
                return bool(requests.get(f"{url}/desktop/state", timeout=2).json()["interactive"])
            except requests.RequestException:
                return False

        wait_until(interactive, "the installed app's window never loaded its page", timeout=90)
        seconds = time.monotonic() - started
        tree = [psutil.Process(window.pid), *psutil.Process(window.pid).children(recursive=True)]
        rss = sum(p.memory_info().rss for p in tree if p.is_running())
        print(
            f"installed app: launch to interactive page {seconds:.2f} s, tree RSS {rss >> 20} MiB"
        )
        with x11.connect(display) as connection:
            shown = x11.app_window(connection, window.pid)
            assert shown is not None, "no viewable window of the installed Hearth"
            # Interactive is the page's own mark; Qt paints it into the X window a moment
            # later (the screenshot showed "Loading…" without this, as tests/test_desktop).
            time.sleep(1.0)
            shot = screenshot(display, "package-window.png", window=shown.id)
        assert image_spread(shot) > 0.01, "the installed app's window is blank"
        requests.post(f"{url}/ollama/api/generate", json={"model": "pkg:1"}, timeout=300)
        assert _our_servers()
        requests.post(f"{url}/desktop/menu/quit", json={}, timeout=10)
        assert window.wait(timeout=60) == 0
    finally:
        if window.poll() is None:
            window.kill()
    wait_until(lambda: not _our_servers(), "quitting the window left a llama-server", timeout=20)


def test_bundled_llama_server_runs_without_the_system_libgomp(
    installed: list[str], tmp_path: Path, gemma_gguf_path: Path
) -> None:
    """In a mount namespace an empty file covers the system libgomp: the bundle's copy must load."""
    system = Path("/usr/lib/x86_64-linux-gnu/libgomp.so.1")
    if not system.exists():
        pytest.skip("no system libgomp here to hide")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    port = 0
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = (
        f'mount --bind "{empty}" "{system.resolve()}" && '
        f'exec "{BUNDLED_SERVER}" -m "{gemma_gguf_path}" --host 127.0.0.1 --port {port} -c 512'
    )
    server = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", script],
        env={"PATH": BARE_PATH},
        cwd=str(BUNDLED_SERVER.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def ready() -> bool:
            assert server.poll() is None, server.communicate()[0][-3000:]
            try:
                return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok
            except requests.RequestException:
                return False

        wait_until(ready, "the bundled llama-server did not come up", timeout=120)
        maps = Path(f"/proc/{server.pid}/maps").read_text()
        gomp = {line.split()[-1] for line in maps.splitlines() if "libgomp" in line}
        assert gomp == {str(OPT / "_internal" / "libgomp.so.1")}, gomp
        reply = requests.post(
            f"http://127.0.0.1:{port}/completion",
            json={"prompt": "Hello", "n_predict": 4},
            timeout=120,
        )
        assert reply.ok and reply.json()["content"], reply.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def _stand_in_engine(folder: Path) -> Path:
    """A CUDA engine's build folder whose llama-server is a stand-in script.

    A stand-in because no GPU (nor a CUDA build) can be had here: what is
    tested is the engine package and the installed app's choice; that choice
    reads ``--list-devices`` in the real binary's format
    (tests/test_settings_locate.py checks the real one).
    """
    folder = folder / build_key("cuda", True)
    folder.mkdir(parents=True)
    server = folder / "llama-server"
    server.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  --version) echo "version: 0 (stand-in CUDA engine)" ;;\n'
        "  --list-devices) printf 'Available devices:\\n  CUDA0: Stand-in GPU"
        " (81079 MiB, 80500 MiB free)\\n' ;;\n"
        "esac\n"
    )
    server.chmod(0o755)
    (folder / RPC_SERVER).write_text("#!/bin/sh\nexit 1\n")
    (folder / RPC_SERVER).chmod(0o755)
    (folder / "build-info.json").write_text('{"backend": "cuda", "portable": true}\n')
    return folder


def test_a_gpu_engine_package_is_taken_when_it_sees_a_device(
    installed: list[str], tmp_path: Path
) -> None:
    """``package_linux.py --engine-dir`` makes hearth-engine-cuda; installed, the app runs it."""
    engine = _stand_in_engine(tmp_path / "build")
    python = Path.home() / ".cache" / "Hearth" / "package-venv" / "bin" / "python"
    made = _run(
        [str(python), "packaging/package_linux.py", "--engine-dir", str(engine)], 600, cwd=REPO
    )
    debs = sorted((REPO / "dist").glob("hearth-engine-cuda_*_amd64.deb"))
    assert len(debs) == 1, made.stdout[-2000:]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    home = _bare_env(tmp_path)
    _run(["apt-get", "install", "-y", "--no-install-recommends", str(debs[0])], 300, env=env)
    try:
        report = json.loads(_run(["hearth", "doctor", "--json"], 120, env=home).stdout)
        server = report["llama_server"]
        assert server["path"] == str(OPT / "engines" / engine.name / "llama-server"), server
        assert server["backend"] == "cuda" and server["devices"], server
    finally:
        _run(["apt-get", "remove", "-y", "hearth-engine-cuda"], 300, env=env)
    assert not (OPT / "engines").exists()
    report = json.loads(_run(["hearth", "doctor", "--json"], 120, env=home).stdout)
    assert report["llama_server"]["path"] == str(BUNDLED_SERVER), report["llama_server"]


def test_apt_remove_leaves_nothing(installed: list[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "remove", "-y", "hearth"], 600, env=env)
    assert not OPT.exists(), sorted(str(p) for p in OPT.rglob("*"))[:20]
    left = [
        path
        for path in installed
        if path.startswith(("/opt/", "/usr/")) and (Path(path).is_symlink() or Path(path).is_file())
    ]
    assert left == []
    assert not Path("/usr/bin/hearth").exists()
