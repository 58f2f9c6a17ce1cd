"""Creating models from uploaded GGUF blobs or from an existing model, and importing files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.models.create import import_gguf
from app.models.errors import BadRequest, BlobNotFound, InvalidDigest, ModelNotFound, NotGGUF
from app.models.names import parse_name
from app.models.show import resolve_for_run
from app.models.store import MANIFEST_MEDIA_TYPE, ModelStore
from app.options import LOAD_TIME_OPTIONS, OPTION_TYPES, validate_options
from tests.model_helpers import created, files_in, imported
from tests.tinygguf import write_tiny_gguf

MEDIA = "application/vnd.ollama.image."


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def statuses(lines: object) -> list[str]:
    return [line["status"] for line in lines]  # type: ignore[attr-defined]


def test_create_from_uploaded_files(store: ModelStore, tmp_path: Path) -> None:
    digest = store.import_file(write_tiny_gguf(tmp_path / "m.gguf"))
    lines = created(
        store,
        "mine:1",
        files={"dir/m.gguf": digest},
        template="{{ .Prompt }}",
        system="Be kind.",
        license=["MIT", "Apache"],
        parameters={"temperature": 0.25},
        messages=[{"role": "user", "content": "hi"}],
    )
    assert lines[0] == "parsing GGUF"
    assert f"using existing layer {digest}" in lines
    assert sum(line.startswith("creating new layer sha256:") for line in lines) == 6
    assert lines[-2:] == ["writing manifest", "success"]

    manifest = store.read_manifest(parse_name("mine:1"))
    data = json.loads(manifest.raw)
    assert data["schemaVersion"] == 2 and data["mediaType"] == MANIFEST_MEDIA_TYPE
    kinds = [layer["mediaType"].removeprefix(MEDIA) for layer in data["layers"]]
    assert kinds == ["model", "template", "system", "params", "license", "license", "messages"]
    config = store.read_blob_json(manifest.config.digest)
    assert config["model_format"] == "gguf" and config["model_family"] == "llama"
    assert config["model_families"] == ["llama"] and config["file_type"] == "F16"
    assert config["model_type"] == "224" and config["os"] and config["architecture"]
    assert store.read_blob_json(manifest.layer("params").digest) == {"temperature": 0.25}  # type: ignore[union-attr]


def test_create_from_existing_merges_and_replaces(store: ModelStore, tmp_path: Path) -> None:
    model_digest = imported(store, tmp_path, "base:1")
    created(
        store,
        "mid:1",
        from_="base:1",
        system="Old system.",
        template="old {{ .Prompt }}",
        license="L1",
        parameters={"temperature": 0.5, "stop": ["A", "B"], "num_ctx": 1024},
    )
    lines = created(
        store,
        "top:1",
        from_="MID:1",  # names resolve case-insensitively
        system="New system.",
        parameters={"temperature": 0.9, "top_k": 20.0, "unknown_thing": 1},
    )
    assert f"using existing layer {model_digest}" in lines
    spec = resolve_for_run(store, parse_name("top:1"))
    assert spec.system == "New system."  # replaced
    assert spec.template == "old {{ .Prompt }}"  # carried over
    assert spec.params == {"temperature": 0.9, "stop": ["A", "B"], "num_ctx": 1024, "top_k": 20}
    manifest = store.read_manifest(parse_name("top:1"))
    assert len(manifest.layers_of("system")) == 1 and len(manifest.layers_of("license")) == 1
    assert manifest.layer("model").digest == model_digest  # type: ignore[union-attr]


def test_recreating_a_name_prunes_only_its_old_layers(store: ModelStore, tmp_path: Path) -> None:
    imported(store, tmp_path, "base:1")
    created(store, "x:1", from_="base:1", system="first")
    first_system = store.read_manifest(parse_name("x:1")).layer("system").digest  # type: ignore[union-attr]
    created(store, "x:1", from_="base:1", system="second")
    assert not store.has_blob(first_system)
    assert store.read_manifest(parse_name("base:1"))  # the base is untouched
    assert all(store.has_blob(d) for d in store.read_manifest(parse_name("x:1")).digests())


BAD_CALLS = [
    ({}, BadRequest, "neither 'from' or 'files' was specified"),
    (
        {"from_": "base:1", "parameters": {"num_ctx": "big"}},
        BadRequest,
        'option "num_ctx" must be of type integer',
    ),
    ({"from_": "base:1", "parameters": {"num_ctx": 1.5}}, BadRequest, "integer"),
    ({"from_": "base:1", "parameters": {"temperature": "hot"}}, BadRequest, "float"),
    ({"from_": "base:1", "parameters": {"use_mmap": 1}}, BadRequest, "boolean"),
    ({"from_": "base:1", "parameters": {"stop": [1, 2]}}, BadRequest, "stop"),
    ({"from_": "base:1", "parameters": "temperature 1"}, BadRequest, "parameters"),
    ({"from_": "base:1", "license": 5}, BadRequest, "license"),
    ({"from_": "base:1", "messages": [{"role": "user"}]}, BadRequest, "message"),
    ({"from_": "base:1", "system": 3}, BadRequest, "system"),
    ({"from_": "missing:1"}, ModelNotFound, "model 'missing:1' not found"),
    ({"from_": "bad name!"}, BadRequest, "invalid model name"),
    ({"files": {"../x.gguf": "DIGEST"}}, BadRequest, "file path must be relative"),
    ({"files": {"/abs.gguf": "DIGEST"}}, BadRequest, "file path must be relative"),
    ({"files": {"a\\b.gguf": "DIGEST"}}, BadRequest, "file path must be relative"),
    ({"files": {"a//b.gguf": "DIGEST"}}, BadRequest, "file path must be relative"),
    ({"files": {"": "DIGEST"}}, BadRequest, "file path must be relative"),
    ({"files": {"x.gguf": "sha256:" + "b" * 64}}, BlobNotFound, "not found"),
    ({"files": {"x.gguf": "sha256:nope"}}, InvalidDigest, "invalid digest format"),
    ({"files": {"a.gguf": "DIGEST", "b.gguf": "OTHER"}}, BadRequest, "only one model"),
    (
        {"files": {"x.gguf": "DIGEST"}, "adapters": {"a": "DIGEST", "b": "OTHER"}},
        BadRequest,
        "adapter",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_CALLS)
def test_invalid_requests_write_nothing(
    store: ModelStore, tmp_path: Path, kwargs: dict, error: type, message: str
) -> None:
    digest = imported(store, tmp_path, "base:1")
    other = store.import_file(write_tiny_gguf(tmp_path / "o.gguf", seed=7))
    before = files_in(store)
    text = json.dumps(kwargs).replace("DIGEST", digest).replace("OTHER", other)
    with pytest.raises(error, match=message.replace("(", r"\(")) as raised:
        created(store, "new:1", **json.loads(text))
    assert raised.value.status in (400, 404)
    assert files_in(store) == before


def test_non_gguf_blob_is_refused(store: ModelStore) -> None:
    not_gguf = store.write_blob([b"plain text, not a model"])
    before = files_in(store)
    with pytest.raises(NotGGUF, match="supplied file was not in GGUF format"):
        created(store, "new:1", files={"x.gguf": not_gguf})
    truncated = store.write_blob([b"GGUF\x03\x00\x00\x00\x05"])
    with pytest.raises(NotGGUF):
        created(store, "new:1", files={"x.gguf": truncated})
    assert files_in(store) - before == {f"blobs/sha256-{truncated[7:]}"}


def test_projector_layer_is_detected(store: ModelStore, tmp_path: Path) -> None:
    model = store.import_file(write_tiny_gguf(tmp_path / "m.gguf"))
    projector = store.import_file(write_tiny_gguf(tmp_path / "p.gguf", projector=True))
    created(store, "vis:1", files={"m.gguf": model, "p.gguf": projector})
    manifest = store.read_manifest(parse_name("vis:1"))
    assert manifest.layer("projector").digest == projector  # type: ignore[union-attr]
    assert manifest.layer("model").digest == model  # type: ignore[union-attr]
    # A projector alone is not a model.
    with pytest.raises(BadRequest, match="no model GGUF"):
        created(store, "p:1", files={"p.gguf": projector})


def test_adapter_layer(store: ModelStore, tmp_path: Path) -> None:
    model = store.import_file(write_tiny_gguf(tmp_path / "m.gguf"))
    adapter = store.import_file(write_tiny_gguf(tmp_path / "a.gguf", seed=3))
    created(store, "ad:1", files={"m.gguf": model}, adapters={"a.gguf": adapter})
    spec = resolve_for_run(store, parse_name("ad:1"))
    assert spec.adapter_paths == [store.blob_path(adapter)]


def test_import_gguf(store: ModelStore, tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    lines = statuses(import_gguf(store, path, parse_name("hf.co/me/tiny:Q8_0")))
    assert lines[0] == "copying file" and lines[-1] == "success"
    manifest = store.read_manifest(parse_name("hf.co/me/tiny:q8_0"))
    assert manifest.name.display == "hf.co/me/tiny:Q8_0"
    assert store.blob_path(manifest.layer("model").digest).read_bytes() == path.read_bytes()  # type: ignore[union-attr]


def test_import_of_bad_files_writes_nothing(store: ModelStore, tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    for content in [b"GGUF" + b"\x00" * 3, b"nope", b""]:
        fake.write_bytes(content)
        with pytest.raises(NotGGUF):
            list(import_gguf(store, fake, parse_name("fake:1")))
    with pytest.raises(BadRequest):
        list(import_gguf(store, tmp_path / "missing.gguf", parse_name("fake:1")))
    # A real GGUF that is not a language model (a vision projector on its own).
    projector = write_tiny_gguf(tmp_path / "mmproj.gguf", projector=True)
    with pytest.raises(BadRequest, match="vision projector, not a model"):
        list(import_gguf(store, projector, parse_name("fake:1")))
    assert files_in(store) == set()


# -- options -------------------------------------------------------------
def test_validate_options() -> None:
    cleaned = validate_options(
        {
            "num_ctx": 4096.0,
            "temperature": 1,
            "stop": "END",
            "use_mmap": False,
            "mirostat": 2,
            "penalize_newline": True,
            "made_up": "x",
            "seed": None,
        }
    )
    assert cleaned == {"num_ctx": 4096, "temperature": 1.0, "stop": ["END"], "use_mmap": False}
    assert isinstance(cleaned["num_ctx"], int) and isinstance(cleaned["temperature"], float)
    with pytest.raises(BadRequest, match='option "top_k" must be of type integer'):
        validate_options({"top_k": True})
    assert validate_options({"top_k": "x", "top_p": 0.5}, lenient=True) == {"top_p": 0.5}
    assert LOAD_TIME_OPTIONS.issubset(OPTION_TYPES)
    assert {"num_ctx", "num_gpu", "num_batch", "use_mmap"} <= LOAD_TIME_OPTIONS
