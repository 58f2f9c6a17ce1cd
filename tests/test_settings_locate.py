"""One settings object owns the directories; llama-server is found in a fixed order."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.runner.locate import (
    RPC_SERVER,
    LlamaServerNotFound,
    build_key,
    list_devices,
    locate_llama_server,
    locate_rpc_server,
)
from app.settings import SettingsError, load_settings


def test_hearth_home_owns_every_directory(tmp_path: Path) -> None:
    settings = load_settings({"HEARTH_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert settings.models_dir == tmp_path / "models"
    assert settings.cache_dir == tmp_path / "cache"
    assert settings.log_dir == tmp_path / "logs"


def test_env_and_overrides(tmp_path: Path) -> None:
    settings = load_settings(
        {"HEARTH_HOME": str(tmp_path), "HEARTH_MODELS": str(tmp_path / "m"), "HEARTH_PORT": "9"},
        port=1234,
    )
    assert settings.models_dir == tmp_path / "m"
    assert settings.port == 1234
    assert settings.host == "127.0.0.1"


def test_platform_defaults_name_hearth() -> None:
    settings = load_settings({})
    assert "Hearth" in str(settings.data_dir) and "Hearth" in str(settings.cache_dir)


def test_locate_prefers_env(tmp_path: Path) -> None:
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\n")
    settings = load_settings({"HEARTH_HOME": str(tmp_path), "HEARTH_LLAMA_SERVER": str(fake)})
    assert locate_llama_server(settings) == fake
    missing = load_settings({"HEARTH_HOME": str(tmp_path), "HEARTH_LLAMA_SERVER": str(fake) + "x"})
    with pytest.raises(LlamaServerNotFound):
        locate_llama_server(missing)


def test_locate_finds_the_cache(tmp_path: Path) -> None:
    key = build_key("cpu", False)
    build = tmp_path / "cache" / "llama-server" / key
    build.mkdir(parents=True)
    (build / "llama-server").write_text("")
    (build / RPC_SERVER).write_text("")
    (build / "build-info.json").write_text("{}")
    settings = load_settings({"HEARTH_HOME": str(tmp_path)})
    assert locate_llama_server(settings) == build / "llama-server"
    assert locate_rpc_server(settings) == build / RPC_SERVER


def test_a_build_without_the_rpc_server_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder from before workers (no ggml-rpc-server) is incomplete: built again, not used."""
    monkeypatch.setattr("app.runner.locate.default_llama_server_cache", lambda: tmp_path / "none")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    build = tmp_path / "cache" / "llama-server" / build_key("cpu", False)
    _binary(build)
    (build / "build-info.json").write_text("{}")
    settings = load_settings({"HEARTH_HOME": str(tmp_path)})
    assert build.name.endswith("-cpu-native-rpc")
    with pytest.raises(LlamaServerNotFound):
        locate_llama_server(settings)
    (build / RPC_SERVER).write_text("")
    assert locate_llama_server(settings) == build / "llama-server"
    env = _binary(tmp_path / "alone")  # a llama-server with no ggml-rpc-server beside it
    with pytest.raises(LlamaServerNotFound, match="ggml-rpc-server"):
        locate_rpc_server(
            load_settings({"HEARTH_HOME": str(tmp_path), "HEARTH_LLAMA_SERVER": str(env)})
        )


def test_not_found_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.runner.locate.default_llama_server_cache", lambda: tmp_path / "none")
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = load_settings({"HEARTH_HOME": str(tmp_path)})
    with pytest.raises(LlamaServerNotFound, match="packaging/build_llama_server.py"):
        locate_llama_server(settings)


def _binary(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "llama-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


def test_locate_order_env_frozen_cache_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each source wins over the ones after it, and is used when those before it are absent."""
    monkeypatch.setattr("app.runner.locate.default_llama_server_cache", lambda: tmp_path / "none")
    on_path = _binary(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    home = {"HEARTH_HOME": str(tmp_path / "home")}
    assert locate_llama_server(load_settings(home)) == on_path

    cache = tmp_path / "home" / "cache" / "llama-server" / build_key("cpu", False)
    cached = _binary(cache)
    (cache / RPC_SERVER).write_text("")
    (cache / "build-info.json").write_text("{}")
    assert locate_llama_server(load_settings(home)) == cached

    bundle = tmp_path / "bundle"
    frozen = _binary(bundle)
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys.executable", str(bundle / "hearth"))
    assert locate_llama_server(load_settings(home)) == frozen

    env = _binary(tmp_path / "env")
    assert locate_llama_server(load_settings({**home, "HEARTH_LLAMA_SERVER": str(env)})) == env


def test_runner_knobs_from_the_environment(tmp_path: Path) -> None:
    defaults = load_settings({"HEARTH_HOME": str(tmp_path)})
    assert (defaults.num_parallel, defaults.max_loaded_models) == (None, 3)
    assert (defaults.context_length, defaults.load_timeout) == (None, 300.0)  # from memory
    tuned = load_settings(
        {
            "HEARTH_HOME": str(tmp_path),
            "HEARTH_NUM_PARALLEL": "4",
            "HEARTH_MAX_LOADED_MODELS": "1",
            "HEARTH_CONTEXT_LENGTH": "8192",
            "HEARTH_LOAD_TIMEOUT": "30",
        }
    )
    assert (tuned.num_parallel, tuned.max_loaded_models) == (4, 1)
    assert (tuned.context_length, tuned.load_timeout) == (8192, 30.0)
    for bad in ({"HEARTH_NUM_PARALLEL": "0"}, {"HEARTH_CONTEXT_LENGTH": "lots"}):
        with pytest.raises(SettingsError):
            load_settings({"HEARTH_HOME": str(tmp_path), **bad})


def _stand_in_build(
    cache: Path, backend: str, devices: list[str], folder: Path | None = None
) -> Path:
    """A cached build (or one in ``folder``) whose ``--list-devices`` prints ``devices``.

    A stand-in script, because a GPU cannot be had here: the choice between
    builds is what is tested, the real ``--list-devices`` output format is
    checked by ``test_real_build_lists_its_devices``.
    """
    folder = folder or cache / "llama-server" / build_key(backend, False)
    binary = _binary(folder)
    listing = "\\n".join(f"  {device}" for device in devices) or "  (none)"
    binary.write_text(f'#!/bin/sh\nprintf "Available devices:\\n{listing}\\n"\n')
    (folder / RPC_SERVER).write_text("")
    (folder / "build-info.json").write_text(f'{{"backend": "{backend}"}}')
    return binary


def test_a_gpu_build_is_taken_only_when_it_sees_a_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.runner.locate.default_llama_server_cache", lambda: tmp_path / "none")
    home = {"HEARTH_HOME": str(tmp_path / "home")}
    cache = tmp_path / "home" / "cache"
    vulkan = _stand_in_build(cache, "vulkan", [])
    assert locate_llama_server(load_settings(home)) == vulkan  # the only build: still used
    cpu = _stand_in_build(cache, "cpu", [])
    assert locate_llama_server(load_settings(home)) == cpu
    cuda = _stand_in_build(cache, "cuda", ["CUDA0: NVIDIA H200 (143771 MiB, 142000 MiB free)"])
    assert locate_llama_server(load_settings(home)) == cuda
    assert list_devices(cuda) == ["CUDA0: NVIDIA H200 (143771 MiB, 142000 MiB free)"]


def test_a_frozen_app_prefers_a_gpu_engine_that_sees_a_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed bundle's own CPU build is the fallback, a GPU engine the first choice.

    Engines come from ``<bundle>/engines/`` (a separate package) or the user's
    build cache; one that sees no device is never taken over the bundled CPU build.
    """
    monkeypatch.setattr("app.runner.locate.default_llama_server_cache", lambda: tmp_path / "none")
    home = {"HEARTH_HOME": str(tmp_path / "home")}
    cache = tmp_path / "home" / "cache"
    bundle = tmp_path / "opt" / "hearth"
    bundled = _binary(bundle / "_internal")
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys._MEIPASS", str(bundle / "_internal"), raising=False)
    monkeypatch.setattr("sys.executable", str(bundle / "hearth"))
    _stand_in_build(cache, "cpu", [])
    assert locate_llama_server(load_settings(home)) == bundled  # over a cached CPU build

    engines = bundle / "_internal" / "engines"
    vulkan = _stand_in_build(cache, "vulkan", [], engines / build_key("vulkan", True))
    assert locate_llama_server(load_settings(home)) == bundled  # no device: CPU

    device = "CUDA0: NVIDIA H100 80GB HBM3 (81079 MiB, 80500 MiB free)"
    cuda = _stand_in_build(cache, "cuda", [device], engines / build_key("cuda", True))
    assert locate_llama_server(load_settings(home)) == cuda

    cuda.unlink()  # the engine package removed: back to the bundled build
    assert locate_llama_server(load_settings(home)) == bundled
    cached_cuda = _stand_in_build(cache, "cuda", [device])  # built by the user instead
    assert locate_llama_server(load_settings(home)) == cached_cuda
    assert vulkan.is_file()


def test_real_build_lists_its_devices(llama_server_binary: Path) -> None:
    """The real binary answers ``--list-devices`` in the form the choice reads."""
    import subprocess

    done = subprocess.run(
        [str(llama_server_binary), "--list-devices"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "Available devices:" in (done.stdout + done.stderr).splitlines()
    assert isinstance(list_devices(llama_server_binary), list)
