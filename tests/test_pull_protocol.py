"""Registry protocol rules and every layer type, end to end.

Layer types go through the real ``docker-registry``; the protocol edge cases
(Accept headers, auth that never succeeds, a huge token response) are served
by ``stubs``, small Flask apps, because a real registry never sends
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, request

from app.models.download import PullTuning
from app.models.names import parse_name
from app.models.pull import pull_model
from app.models.pull_errors import InsecureProtocol, Unauthorized
from app.models.pulls import PullRegistry
from app.models.registry import RegistryClient, registry_base_url
from app.models.show import resolve_for_run, show_model
from app.models.store import ModelStore
from app.runner.scheduler import Scheduler
from tests.registry import RegistryServer, push_model
from tests.stub_registry import (
    Stub,
    bearer_challenge,
    digest_of,
    manifest_for,
    model_layer,
    serve_blob,
)
from tests.test_pull import GOOD
from tests.tinygguf import write_tiny_gguf

FAST = PullTuning(min_part_size=1 << 19, max_part_size=1 << 19, backoff_base=0.05)


# -- schemes -------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "insecure", "base"),
    [
        ("registry.example.com/team/model:v2", False, "https://registry.example.com"),
        ("registry.example.com:5000/team/model", True, "http://registry.example.com:5000"),
        ("gemma3:270m", False, "https://registry.ollama.ai"),
        ("127.0.0.1:5000/team/model", False, "http://127.0.0.1:5000"),
        ("localhost:5000/team/model", False, "http://localhost:5000"),
        ("http://registry.example.com/team/model", True, "http://registry.example.com"),
    ],
)
def test_https_unless_insecure_or_loopback(name: str, insecure: bool, base: str) -> None:
    assert registry_base_url(parse_name(name), insecure) == base


def test_http_name_without_insecure_is_refused() -> None:
    with pytest.raises(InsecureProtocol):
        registry_base_url(parse_name("http://registry.example.com/team/model"))


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("hf.co/bartowski/Qwen3-GGUF:Q4_K_M", "https://hf.co/v2/bartowski/qwen3-gguf"),
        ("huggingface.co/user/repo:Q8_0", "https://hf.co/v2/user/repo"),  # one host, as Ollama
    ],
)
def test_hugging_face_names_use_the_registry_protocol(name: str, url: str) -> None:
    client = RegistryClient(parse_name(name))
    assert client.repo_url.lower() == url
    assert client.name.tag.lower() == name.rsplit(":", 1)[1].lower()


# -- protocol stub ---------------------------------------------------------


def test_manifest_is_asked_for_with_ollamas_media_types(stubs, store) -> None:
    seen: list[str] = []
    body = manifest_for([model_layer(digest_of(GOOD), len(GOOD))])
    app = Flask("accept_recorder")

    @app.get("/v2/ns/model/manifests/latest")
    def manifest() -> Response:
        seen.append(request.headers.get("Accept", ""))
        return Response(body, content_type="application/vnd.docker.distribution.manifest.v2+json")

    @app.get("/v2/ns/model/blobs/<digest>")
    def blob(digest: str) -> Response:
        return serve_blob(GOOD if digest == digest_of(GOOD) else b"{}")

    host = stubs(app).netloc
    assert list(pull_model(store, parse_name(f"{host}/ns/model"), tuning=FAST))[-1] == {
        "status": "success"
    }
    (accept,) = seen
    assert "application/vnd.docker.distribution.manifest.v2+json" in accept
    assert "application/vnd.oci.image.manifest.v1+json" in accept


def pull_from_a_registry_that_always_asks_for_a_token(
    stubs, store: ModelStore, token: Callable[[], Response]
) -> list[dict]:
    """Pull from a stub whose manifest answers 401 every time, naming its own ``/token``,
    which ``token`` answers."""
    app = Flask("always_401")
    app.get("/token")(token)

    @app.get("/v2/ns/model/manifests/latest")
    def manifest() -> Response:
        return bearer_challenge(f"http://{request.host}/token")

    host = stubs(app).netloc
    return list(pull_model(store, parse_name(f"{host}/ns/model"), tuning=FAST))


def test_auth_that_never_succeeds_is_unauthorized(stubs, store) -> None:
    tokens_issued: list[int] = []

    def token() -> Response:
        tokens_issued.append(1)
        return Response(json.dumps({"token": "useless"}), content_type="application/json")

    with pytest.raises(Unauthorized):
        pull_from_a_registry_that_always_asks_for_a_token(stubs, store, token)
    assert len(tokens_issued) == 1  # asked once, retried once, then gave up
    assert store.list_manifests() == []


def test_huge_token_response_is_refused_without_reading_it_all(stubs, store) -> None:
    sent: list[int] = []

    def token() -> Response:
        def body() -> Iterator[bytes]:
            yield b'{"token": "'
            for _ in range(2048):  # 128 MiB if read to the end
                sent.append(1)
                yield b"x" * 65536
            yield b'"}'

        return Response(body(), content_type="application/json")

    with pytest.raises(Unauthorized):
        pull_from_a_registry_that_always_asks_for_a_token(stubs, store, token)
    assert len(sent) < 512  # stopped near the 64 KiB bound (plus socket buffers), not 128 MiB


# -- every layer type, from a real registry -------------------------------------
def test_every_layer_type_is_stored_shown_and_used(
    registry: RegistryServer, store: ModelStore, tmp_path: Path, gemma_gguf_path: Path
) -> None:
    projector = write_tiny_gguf(tmp_path / "mmproj.gguf", projector=True)
    adapter = write_tiny_gguf(tmp_path / "adapter.gguf", arch="gemma3")
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    pushed = push_model(
        registry.url,
        "hearth/everything",
        "v1",
        [
            ("model", gemma_gguf_path),
            ("projector", projector),
            ("adapter", adapter),
            ("template", b"{{ .System }} {{ .Prompt }}"),
            ("system", b"You are terse."),
            ("params", b'{"temperature": 0.3, "stop": ["<end_of_turn>"]}'),
            ("license", b"Gemma Terms of Use"),
            ("messages", json.dumps(messages).encode()),
        ],
        {"model_format": "gguf", "model_family": "gemma3", "file_type": "Q4_K_M"},
    )
    name = parse_name(f"{registry.host}/hearth/everything:v1")
    assert list(pull_model(store, name, tuning=FAST))[-1] == {"status": "success"}
    for layer in pushed.layers:
        assert store.has_blob(layer["digest"]), layer["mediaType"]

    shown = show_model(store, store.read_manifest(name))
    assert shown["system"] == "You are terse."
    assert shown["license"] == "Gemma Terms of Use"
    assert shown["messages"] == messages
    parameters = [" ".join(line.split()) for line in shown["parameters"].splitlines()]
    assert sorted(parameters) == ['stop "<end_of_turn>"', "temperature 0.3"]
    assert "projector_info" in shown and "vision" in shown["capabilities"]
    modelfile = shown["modelfile"]
    assert f"FROM {store.blob_path(pushed.layers[1]['digest'])}" in modelfile  # the projector
    assert f"ADAPTER {store.blob_path(pushed.layers[2]['digest'])}" in modelfile
    assert 'SYSTEM """You are terse."""' in modelfile and "MESSAGE assistant" in modelfile

    # The runner gets the projector and the adapter on llama-server's command line.
    spec = resolve_for_run(store, name)
    scheduler = Scheduler(lambda: Path("/nonexistent"), tmp_path, parallel=1, threads=1)
    try:
        arguments = scheduler.launch_config(spec, {}).arguments(port=1)
    finally:
        scheduler.shutdown()
    assert arguments[arguments.index("--mmproj") + 1] == str(spec.projector_paths[0])
    assert arguments[arguments.index("--lora") + 1] == str(spec.adapter_paths[0])
    assert spec.system == "You are terse." and spec.messages == messages


def test_a_watcher_joining_late_sees_the_pull_from_its_first_line(
    registry: RegistryServer, store: ModelStore
) -> None:
    from tests.test_pull import push_random, slow

    push_random(registry, "hearth/joined", size=3 << 20)
    name = parse_name(f"{registry.host}/hearth/joined")
    pulls = PullRegistry(store, parts=3, tuning=slow(3 << 20))
    first = pulls.pull(name)
    assert next(first) == {"status": "pulling manifest"}
    next(first)  # the download is under way
    late = list(pulls.pull(name))
    assert late[0] == {"status": "pulling manifest"}
    assert late[-1] == {"status": "success"}
    assert list(first)[-1] == {"status": "success"}


# -- reading blob bodies ---------------------------------------------------
def test_blob_bodies_read_whole_plain_coded_and_chunked() -> None:
    """The fast path (``readinto`` on one buffer) and the general one give the same bytes.

    A CDN may send a blob gzip-coded or chunked; those must be decoded, so
    they take ``iter_content``. Served by a small Flask stub, because the
    real registry sends neither.
    """
    import gzip

    import requests

    from app.models.blob_file import ALIGN, memory_address
    from app.models.download import body_chunks

    data = bytes(range(256)) * 4096  # 1 MiB
    app = Flask("bodies")

    @app.get("/plain")
    def plain() -> Response:
        return Response(data)

    @app.get("/gzip")
    def coded() -> Response:
        return Response(gzip.compress(data), headers={"Content-Encoding": "gzip"})

    @app.get("/chunked")
    def chunked() -> Response:
        return Response(iter([data[:1000], data[1000:]]))  # no length: chunked

    stub = Stub(app)
    try:
        for path in ("plain", "gzip", "chunked"):
            with requests.get(f"http://127.0.0.1:{stub.port}/{path}", stream=True) as reply:
                pieces = [bytes(piece) for piece in body_chunks(reply, 64 * 1024)]
            assert b"".join(pieces) == data, path
            assert max(len(piece) for piece in pieces) <= 64 * 1024
        # A body whose first byte belongs at file offset 100: memory lines up with file blocks.
        with requests.get(f"http://127.0.0.1:{stub.port}/plain", stream=True) as reply:
            addresses, pieces = [], []
            for piece in body_chunks(reply, 64 * 1024, at=100):
                addresses.append(memory_address(piece))
                pieces.append(bytes(piece))
        assert b"".join(pieces) == data
        assert len(pieces[0]) == 64 * 1024 - 100, "the first chunk ends on a block boundary"
        offsets = [100 + sum(map(len, pieces[:n])) for n in range(len(pieces))]
        assert all(a % ALIGN == o % ALIGN for a, o in zip(addresses, offsets, strict=True))
        # Chunks of one block, growing to four, from an offset inside a block.
        with requests.get(f"http://127.0.0.1:{stub.port}/plain", stream=True) as reply:
            pieces = [bytes(p) for p in body_chunks(reply, ALIGN, at=ALIGN + 7, most=4 * ALIGN)]
        assert b"".join(pieces) == data
        assert len(pieces[0]) == ALIGN - 7 and max(map(len, pieces)) <= 4 * ALIGN
    finally:
        stub.close()
