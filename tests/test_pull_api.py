"""Pulls end to end: a real registry, a real Hearth, the official client, then chat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import ollama
import pytest
import requests

from app.models.download import PullTuning, plan_parts
from tests.hearth_process import REPO, HearthFactory, HearthProcess
from tests.registry import RegistryServer, push_model
from tests.relay import CountingRelay

PARAMS = b'{"temperature": 0.7}'
CONFIG = {"model_format": "gguf", "model_family": "gemma3", "file_type": "Q4_K_M"}


def start_pull(process: HearthProcess, name: str, past_bytes: int = 0) -> None:
    """Start a pull in ``process`` without watching it; wait until it has passed ``past_bytes``."""
    requests.post(
        f"{process.ollama_url}/api/pull", json={"model": name}, stream=True, timeout=30
    ).close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pulls = requests.get(f"{process.ollama_url}/api/pulls", timeout=5).json()["pulls"]
        if pulls and pulls[0]["completed"] > past_bytes:
            return
        time.sleep(0.1)


def wait_for_tag(process: HearthProcess, name: str, timeout: float = 60) -> list[str]:
    """The model names listed once ``name`` is among them (or when ``timeout`` runs out)."""
    deadline = time.monotonic() + timeout
    names: list[str] = []
    while time.monotonic() < deadline:
        tags = requests.get(f"{process.ollama_url}/api/tags", timeout=5).json()["models"]
        names = [m["name"] for m in tags]
        if name in names:
            break
        time.sleep(0.2)
    return names


@pytest.fixture(scope="module")
def pushed_gemma(registry: RegistryServer, gemma_gguf_path: Path) -> str:
    push_model(
        registry.url,
        "library/pullme",
        "270m",
        [("model", gemma_gguf_path), ("params", PARAMS)],
        CONFIG,
    )
    return f"{registry.host}/library/pullme:270m"


def test_pull_with_the_ollama_client_then_chat(hearth: HearthProcess, pushed_gemma: str) -> None:
    client = ollama.Client(host=hearth.ollama_url)
    statuses = [progress.status for progress in client.pull(pushed_gemma, stream=True)]
    assert statuses[0] == "pulling manifest"
    assert any(s and s.startswith("pulling ") and s != "pulling manifest" for s in statuses)
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert pushed_gemma in [m.model for m in client.list().models]
    info = client.show(pushed_gemma)
    assert info.details.family == "gemma3"
    reply = client.chat(
        model=pushed_gemma,
        messages=[{"role": "user", "content": "Hello"}],
        options={"num_predict": 4},
    )
    assert reply.done and reply.eval_count == 4
    again = client.pull(pushed_gemma)  # everything present: nothing to fetch
    assert again.status == "success"
    client.delete(pushed_gemma)


def test_pull_errors(hearth: HearthProcess, registry: RegistryServer) -> None:
    missing = requests.post(
        f"{hearth.ollama_url}/api/pull",
        json={"model": f"{registry.host}/library/absent:1", "stream": False},
        timeout=30,
    )
    assert missing.status_code >= 400 and "does not exist" in missing.json()["error"]
    invalid = requests.post(f"{hearth.ollama_url}/api/pull", json={"model": "a/b/c/d"}, timeout=30)
    assert invalid.status_code == 400
    streamed = requests.post(
        f"{hearth.ollama_url}/api/pull",
        json={"model": f"{registry.host}/library/absent:2"},
        timeout=30,
    )
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert "error" in lines[-1] or streamed.status_code >= 400


def test_cli_pull_shows_progress(hearth: HearthProcess, pushed_gemma: str) -> None:
    result = hearth.cli("pull", pushed_gemma)
    assert "success" in result.stdout and "/s ETA" in result.stdout
    assert pushed_gemma in hearth.cli("list").stdout
    hearth.cli("rm", pushed_gemma)


def test_pull_resumes_after_hearth_restart(
    make_hearth: HearthFactory,
    registry: RegistryServer,
    gemma_gguf_path: Path,
    pushed_gemma: str,
) -> None:
    """Hearth is killed mid-pull and started again: the pull resumes by itself.

    The download is slowed with HEARTH_PULL_MAX_BPS, a named stand-in for a
    slow network (the registry is on loopback and would finish at once). A
    relay in front of the registry counts what it really served.
    """
    relay = CountingRelay(registry.port)
    name = f"127.0.0.1:{relay.port}/library/pullme:270m"
    size = gemma_gguf_path.stat().st_size
    slow = {"HEARTH_PULL_MAX_BPS": str(40 * 2**20)}
    first = make_hearth(env=slow)
    home = first.home
    start_pull(first, name, past_bytes=50 * 2**20)
    assert first.process is not None
    first.process.kill()
    first.process.wait()
    partials = list((home / "models" / "blobs").glob("*-partial"))
    assert partials, "the interrupted pull left no partial data to resume from"
    served_before_restart = relay.bytes_down
    assert served_before_restart < size

    second = make_hearth(home=home)
    assert "Resuming the pull of 127.0.0.1" in "".join(second.output)
    assert name in wait_for_tag(second, name)
    assert not list((home / "models" / "blobs").glob("*-partial*"))
    # It resumed: what the registry served twice is under one 100 MB part, not the blob.
    refetched = relay.bytes_down - size - 256 * 1024
    assert refetched < 100 * 10**6, f"{refetched} B served twice"


def test_quit_mid_pull_saves_it_for_the_next_start(
    make_hearth: HearthFactory, pushed_gemma: str
) -> None:
    """A clean quit (SIGTERM) in the middle of a pull keeps it; the next start finishes it."""
    first = make_hearth(env={"HEARTH_PULL_MAX_BPS": "20e6"})
    home = first.home
    start_pull(first, pushed_gemma, past_bytes=20 * 2**20)
    first.stop()  # SIGTERM: a graceful quit
    assert first.process is not None and first.process.returncode == 0
    pending = json.loads((home / "pulls.json").read_text())
    assert len(pending) == 1 and "pullme" in next(iter(pending))
    second = make_hearth(home=home)
    try:
        assert pushed_gemma in wait_for_tag(second, pushed_gemma)
    finally:
        second.stop()
    assert json.loads((home / "pulls.json").read_text()) == {}


def test_system_pulls_cancel_and_pull_concurrency_setting(
    tmp_path_factory: pytest.TempPathFactory, make_hearth: HearthFactory, registry: RegistryServer
) -> None:
    """/api/v1/system shows loaded models and running pulls; the settings reach the manager.

    HEARTH_PULL_MAX_BPS slows the loopback download (a named stand-in for a
    slow network) so the pull is still running while the test looks at it.
    """
    # A blob of its own (not Gemma's, which the import below puts in the store).
    big = tmp_path_factory.mktemp("big") / "random.bin"
    with big.open("wb") as handle:
        for _ in range(25):
            handle.write(os.urandom(10**7))
    push_model(registry.url, "library/bigrandom", "1", [("model", big)], CONFIG)
    pushed = f"{registry.host}/library/bigrandom:1"
    process = make_hearth(env={"HEARTH_PULL_MAX_BPS": str(20 * 2**20)}, models=["local:1"])
    home = process.home
    api = f"{process.url}/api/v1"
    # Parts are planned per worker: the setting changes how the blob is cut.
    patched = requests.patch(f"{api}/settings", json={"pull_concurrency": 2}, timeout=10)
    assert patched.status_code == 200 and patched.json()["pull_concurrency"] == 2
    requests.post(
        f"{process.ollama_url}/api/generate", json={"model": "local:1"}, timeout=120
    ).raise_for_status()
    requests.post(
        f"{process.ollama_url}/api/pull", json={"model": pushed}, stream=True, timeout=30
    ).close()
    deadline = time.monotonic() + 30
    system: dict = {}
    while time.monotonic() < deadline:
        system = requests.get(f"{api}/system", timeout=10).json()
        if system["pulls"] and system["pulls"][0]["completed"] > 0:
            break
        time.sleep(0.1)
    assert [m["name"] for m in system["loaded_models"]] == ["local:1"]
    assert system["loaded_models"][0]["size"] > 0
    (pull,) = system["pulls"]
    assert pull["model"] == pushed and pull["total"] > pull["completed"] > 0
    records = list((home / "models" / "blobs").glob("*-partial-*"))
    planned = plan_parts(big.stat().st_size, PullTuning(max_parts=2))
    assert len(planned) != len(plan_parts(big.stat().st_size, PullTuning(max_parts=16)))
    assert sorted(int(r.name.rsplit("-", 1)[1]) for r in records) == list(range(len(planned)))

    cancelled = requests.delete(
        f"{process.ollama_url}/api/pulls", json={"model": pushed}, timeout=10
    )
    assert cancelled.status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and requests.get(f"{api}/system", timeout=10).json()["pulls"]:
        time.sleep(0.1)
    assert requests.get(f"{api}/system", timeout=10).json()["pulls"] == []
    assert pushed not in process.cli("list").stdout
    assert list((home / "models" / "blobs").glob("*-partial")), "cancel keeps the parts"
    missing = requests.delete(f"{process.ollama_url}/api/pulls", json={"model": pushed}, timeout=10)
    assert missing.status_code == 404


def test_terminal_pulls_join_the_running_app(
    make_hearth: HearthFactory,
    registry: RegistryServer,
    gemma_gguf_path: Path,
    pushed_gemma: str,
) -> None:
    """`hearth pull`, `hearth pulls` and `hearth pull --cancel` use the running app's pulls.

    The relay counts what the registry served: the 253 MB blob once, though
    the app and the terminal both asked for it. HEARTH_PULL_MAX_BPS slows the
    app's download (a named stand-in for a slow network).
    """
    relay = CountingRelay(registry.port)
    name = f"127.0.0.1:{relay.port}/library/pullme:270m"
    app = make_hearth(env={"HEARTH_PULL_MAX_BPS": "40e6"})
    try:
        requests.post(
            f"{app.ollama_url}/api/pull", json={"model": name}, stream=True, timeout=30
        ).close()
        listed = app.cli("pulls").stdout
        assert "pullme:270m" in listed, listed
        cli = app.cli("pull", name, timeout=180)
        assert "pulling in the running Hearth" in cli.stdout and "success" in cli.stdout
        assert app.cli("pulls").stdout.strip() == "no pulls in progress"
        tags = requests.get(f"{app.ollama_url}/api/tags", timeout=5).json()["models"]
        assert [m["name"] for m in tags] == [name]
        size = gemma_gguf_path.stat().st_size
        assert relay.bytes_down < size + 1_000_000, relay.bytes_down  # one download, not two

        # Cancel from the terminal: the app's pull stops, its parts stay for a resume.
        app.cli("rm", name)
        requests.post(
            f"{app.ollama_url}/api/pull", json={"model": name}, stream=True, timeout=30
        ).close()
        cancelled = app.cli("pull", "--cancel", name)
        assert "cancelled the pull" in cancelled.stdout
        deadline = time.monotonic() + 20
        while requests.get(f"{app.ollama_url}/api/pulls", timeout=5).json()["pulls"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert name not in app.cli("list").stdout
    finally:
        app.stop()
    assert "no Hearth is running" in app.cli("pulls").stdout


def test_two_terminal_pulls_download_each_blob_once(
    make_hearth: HearthFactory,
    registry: RegistryServer,
    gemma_gguf_path: Path,
    pushed_gemma: str,
) -> None:
    """Two `hearth pull` processes, no app: the lock on the partial file lets one download.

    The second waits (showing the first one's progress from its records),
    then finds the blob in place. HEARTH_PULL_MAX_BPS slows both.
    """
    relay = CountingRelay(registry.port)
    name = f"127.0.0.1:{relay.port}/library/pullme:270m"
    slow = make_hearth(env={"HEARTH_PULL_MAX_BPS": "60e6"}, start=False)
    home = slow.home
    env = slow.env()
    command = [sys.executable, "-m", "app", "pull", name]
    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list((home / "models" / "blobs").glob("*-partial-*")):
        assert time.monotonic() < deadline, "the first pull never started"
        time.sleep(0.05)
    second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    out, _ = first.communicate(timeout=180)
    assert first.returncode == 0 and "success" in out
    assert second.returncode == 0 and "success" in second.stdout, second.stderr
    size = gemma_gguf_path.stat().st_size
    assert relay.bytes_down < size + 1_000_000, relay.bytes_down
    assert not list((home / "models" / "blobs").glob("*-partial*"))
    assert name in slow.cli("list").stdout
