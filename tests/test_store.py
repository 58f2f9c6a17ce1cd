"""The Ollama-layout store: atomic verified blobs, manifests, copy, delete, create, show."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.models.create import create_model, import_gguf
from app.models.digests import parse_digest
from app.models.errors import (
    BadManifest,
    BadRequest,
    BlobNotFound,
    DigestMismatch,
    InvalidDigest,
    ModelNotFound,
    NotGGUF,
)
from app.models.names import parse_name
from app.models.show import resolve_for_run, show_model, tag_entry
from app.models.store import ModelStore, parse_manifest
from tests.tinygguf import write_tiny_gguf


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def files_in(store: ModelStore) -> set[str]:
    return {str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file()}


def test_digest_rules() -> None:
    hexa = "a" * 64
    assert parse_digest(f"sha256:{hexa}") == f"sha256:{hexa}"
    assert parse_digest(f"sha256-{hexa.upper()}") == f"sha256:{hexa}"
    for bad in ["sha256:../../etc/passwd", f"sha512:{hexa}", "sha256:abc", f"sha256:{hexa}/x", 5]:
        with pytest.raises(InvalidDigest):
            parse_digest(bad)


def test_blob_is_verified_before_it_is_visible(store: ModelStore) -> None:
    data = b"hello world"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert store.write_blob([data[:5], data[5:]], digest) == digest
    assert store.blob_path(digest).read_bytes() == data
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DigestMismatch):
        store.write_blob([b"other"], wrong)
    assert files_in(store) == {f"blobs/sha256-{digest[7:]}"}


def test_write_manifest_rejects_hostile_content(store: ModelStore) -> None:
    name = parse_name("m:1")
    hostile = {
        "schemaVersion": 2,
        "config": {"mediaType": "x", "digest": "sha256:../../../etc/passwd", "size": 1},
        "layers": [],
    }
    with pytest.raises(BadManifest):
        store.write_manifest(name, json.dumps(hostile).encode())
    negative = {
        "schemaVersion": 2,
        "config": {"mediaType": "x", "digest": "sha256:" + "a" * 64, "size": -1},
        "layers": [],
    }
    with pytest.raises(BadManifest):
        parse_manifest(json.dumps(negative).encode(), name)
    with pytest.raises(BadManifest):
        parse_manifest(b"{" * 10, name)
    assert files_in(store) == set()


def test_create_show_copy_delete(store: ModelStore, tmp_path: Path) -> None:
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    statuses = [s["status"] for s in import_gguf(store, gguf, parse_name("tiny:1"))]
    assert statuses[-1] == "success" and "writing manifest" in statuses
    manifest = store.read_manifest(parse_name("TINY:1"))  # case-insensitive lookup
    assert manifest.layer("model") is not None
    entry = tag_entry(store, manifest)
    assert entry["name"] == entry["model"] == "tiny:1"
    assert entry["details"]["family"] == "llama"
    assert entry["details"]["quantization_level"] == "F16"
    info = show_model(store, manifest)
    assert "tools" in info["capabilities"] and "completion" in info["capabilities"]
    assert info["model_info"]["tokenizer.ggml.tokens"] == []  # long arrays left out
    assert (
        show_model(store, manifest, verbose=True)["model_info"]["tokenizer.ggml.tokens"][0] == "t0"
    )
    assert "general.name" not in info["model_info"]

    list(
        create_model(
            store,
            parse_name("tiny:sys"),
            from_="tiny:1",
            system="Be kind.",
            parameters={"temperature": 0.5, "stop": "END", "num_ctx": 512.0, "mirostat": 2},
        )
    )
    spec = resolve_for_run(store, parse_name("tiny:sys"))
    assert spec.system == "Be kind."
    assert spec.params == {"temperature": 0.5, "stop": ["END"], "num_ctx": 512}
    text = show_model(store, store.read_manifest(parse_name("tiny:sys")))["parameters"]
    assert 'stop                           "END"' in text

    store.copy_model(parse_name("tiny:sys"), parse_name("copy:1"))
    assert {m.name.display for m in store.list_manifests()} == {"tiny:1", "tiny:sys", "copy:1"}
    model_blob = store.blob_path(manifest.layer("model").digest)  # type: ignore[union-attr]
    store.delete_model(parse_name("tiny:1"))
    store.delete_model(parse_name("tiny:sys"))
    assert model_blob.exists()  # copy:1 still uses it
    store.delete_model(parse_name("copy:1"))
    assert not model_blob.exists()
    assert files_in(store) == set()
    with pytest.raises(ModelNotFound):
        store.delete_model(parse_name("copy:1"))


def test_create_validates_before_writing(store: ModelStore, tmp_path: Path) -> None:
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    list(import_gguf(store, gguf, parse_name("base:1")))
    before = files_in(store)
    digest = store.read_manifest(parse_name("base:1")).layer("model").digest  # type: ignore[union-attr]
    bad_calls = [
        {"from_": "base:1", "parameters": {"num_ctx": "big"}},
        {"from_": "missing:1"},
        {"files": {"../x.gguf": digest}},
        {"files": {"/abs.gguf": digest}},
        {"files": {"x.gguf": "sha256:" + "b" * 64}},
        {"files": {"x.gguf": "sha256:nope"}},
        {},
    ]
    for kwargs in bad_calls:
        with pytest.raises((BadRequest, ModelNotFound, BlobNotFound)):
            list(create_model(store, parse_name("new:1"), **kwargs))  # type: ignore[arg-type]
    not_gguf = store.write_blob([b"plain text, not a model"])
    with pytest.raises(NotGGUF):
        list(create_model(store, parse_name("new:1"), files={"x.gguf": not_gguf}))
    store.blob_path(not_gguf).unlink()
    assert files_in(store) == before


def test_projector_and_embedding_detection(store: ModelStore, tmp_path: Path) -> None:
    model = store.import_file(write_tiny_gguf(tmp_path / "m.gguf"))
    projector = store.import_file(write_tiny_gguf(tmp_path / "p.gguf", projector=True))
    list(create_model(store, parse_name("vis:1"), files={"m.gguf": model, "p.gguf": projector}))
    spec = resolve_for_run(store, parse_name("vis:1"))
    assert spec.projector_paths and "vision" in spec.capabilities
    embed = store.import_file(write_tiny_gguf(tmp_path / "e.gguf", pooling=True, seed=1))
    list(create_model(store, parse_name("emb:1"), files={"e.gguf": embed}))
    assert resolve_for_run(store, parse_name("emb:1")).is_embedding


def test_not_gguf_import_writes_nothing(store: ModelStore, tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"GGUF" + b"\x00" * 3)  # right magic, truncated header
    with pytest.raises(NotGGUF):
        list(import_gguf(store, fake, parse_name("fake:1")))
    fake.write_bytes(b"nope")
    with pytest.raises(NotGGUF):
        list(import_gguf(store, fake, parse_name("fake:1")))
    assert files_in(store) == set()


def test_gemma_metadata_reads_fast(gemma_gguf_path: Path) -> None:
    import time

    from app.models.gguf_meta import describe, read_gguf

    started = time.perf_counter()
    metadata, tensors = read_gguf(gemma_gguf_path, keep_arrays=5)
    elapsed = time.perf_counter() - started
    details = describe(metadata, tensors)
    assert details["family"] == "gemma3"
    assert details["quantization_level"] == "Q4_K_M"
    assert details["parameter_size"] == "268.10M"
    assert details["context_length"] == 32768
    print(f"gemma header read in {elapsed * 1000:.1f} ms")
