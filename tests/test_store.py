"""The Ollama-layout store: digests, atomic verified blobs, manifests, copy and delete."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from app.models.digests import blob_filename, parse_digest
from app.models.errors import (
    BadManifest,
    BlobNotFound,
    DigestMismatch,
    HearthError,
    InvalidDigest,
    ModelNotFound,
)
from app.models.names import parse_name
from app.models.store import CONFIG_MEDIA_TYPE, Layer, ModelStore, build_manifest, parse_manifest
from tests.model_helpers import files_in, imported, sha256_file

HEX = "ab" * 32


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def small_manifest(store: ModelStore, *payloads: bytes) -> bytes:
    """A manifest whose config and layers are real blobs in ``store``."""
    config = store.write_blob([b'{"model_format":"gguf"}'])
    layers = [
        Layer("application/vnd.ollama.image.system", store.write_blob([data]), len(data))
        for data in payloads
    ]
    return build_manifest(Layer(CONFIG_MEDIA_TYPE, config, 23), layers)


# -- digests -----------------------------------------------------------
def test_digest_forms() -> None:
    assert parse_digest(f"sha256:{HEX}") == f"sha256:{HEX}"
    assert parse_digest(f"sha256-{HEX}") == f"sha256:{HEX}"
    assert parse_digest(f"sha256:{HEX.upper()}") == f"sha256:{HEX}"
    assert blob_filename(f"sha256:{HEX}") == f"sha256-{HEX}"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256:",
        "sha256:abc",
        f"sha256:{HEX}0",
        f"sha512:{HEX}",
        f"SHA256:{HEX}",
        f"sha256:{HEX[:-1]}g",
        "sha256:../../etc/passwd",
        f"sha256:{HEX}/x",
        f"../sha256-{HEX}",
        f"sha256:{HEX}\n",
        f" sha256:{HEX}",
        f"sha256:{HEX[:-2]}\x00a",
        None,
        5,
    ],
)
def test_bad_digests_are_rejected(store: ModelStore, bad: object) -> None:
    with pytest.raises(InvalidDigest, match="invalid digest format"):
        parse_digest(bad)
    with pytest.raises(InvalidDigest):
        store.blob_path(bad)  # type: ignore[arg-type]


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == sha(b"abc")


# -- blobs -------------------------------------------------------------
def test_blob_is_verified_before_it_is_visible(store: ModelStore) -> None:
    data = b"hello world"
    digest = sha(data)
    assert store.write_blob([data[:5], b"", data[5:]], digest) == digest
    assert store.blob_path(digest).read_bytes() == data
    assert store.has_blob(digest) and store.has_blob(digest.replace(":", "-"))
    assert store.blob_path(digest).parent == store.blobs
    with pytest.raises(DigestMismatch) as raised:
        store.write_blob([b"other"], "sha256:" + "0" * 64)
    assert (
        str(raised.value) == f'digest mismatch, expected "sha256:{"0" * 64}", got "{sha(b"other")}"'
    )
    assert raised.value.status == 400
    assert files_in(store) == {f"blobs/sha256-{digest[7:]}"}


def test_write_blob_without_expected_digest(store: ModelStore) -> None:
    digest = store.write_blob(iter([b"a", b"b"]))
    assert digest == sha(b"ab") and store.has_blob(digest)


def test_failed_upload_leaves_nothing(store: ModelStore) -> None:
    """A client that disconnects mid-upload must not leave a blob or a temp file behind."""

    def broken() -> object:
        yield b"partial data"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.write_blob(broken(), sha(b"partial data and more"))  # type: ignore[arg-type]
    assert files_in(store) == set()


def test_temp_files_never_look_like_blobs(store: ModelStore) -> None:
    """A temp file must not be mistaken for a blob by name (by us or by Ollama)."""
    seen: list[str] = []

    def watching() -> object:
        seen.extend(os.listdir(store.blobs))
        yield b"x"
        seen.extend(os.listdir(store.blobs))

    store.write_blob(watching())  # type: ignore[arg-type]
    temps = [name for name in seen if name]
    assert temps, "the upload should be visible as a temp file while it runs"
    for name in temps:
        with pytest.raises(InvalidDigest):
            parse_digest(name)


def test_import_file_copies(store: ModelStore, tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights" * 1000)
    digest = store.import_file(source)
    assert digest == sha256_file(source)
    assert store.blob_path(digest).read_bytes() == source.read_bytes()
    assert store.import_file(source) == digest  # already present: no error
    assert files_in(store) == {f"blobs/{blob_filename(digest)}"}


def test_read_blob_text_and_json(store: ModelStore) -> None:
    text = store.write_blob(["héllo".encode()])
    assert store.read_blob_text(text) == "héllo"
    data = store.write_blob([b'{"a": [1, 2]}'])
    assert store.read_blob_json(data) == {"a": [1, 2]}
    with pytest.raises(BadManifest):
        store.read_blob_json(text)
    with pytest.raises(BlobNotFound):
        store.read_blob_text("sha256:" + "1" * 64)


# -- manifests ---------------------------------------------------------
def test_manifest_round_trip(store: ModelStore) -> None:
    raw = small_manifest(store, b"Be brief.")
    name = parse_name("user/m:v1")
    written = store.write_manifest(name, raw)
    path = store.manifests / "registry.ollama.ai" / "user" / "m" / "v1"
    assert path.read_bytes() == raw  # bytes kept exactly
    manifest = store.read_manifest(name)
    assert manifest.raw == raw and manifest.path == path == written.path
    assert manifest.digest == hashlib.sha256(raw).hexdigest()
    assert manifest.modified_at.tzinfo is not None
    assert manifest.layer("system") is not None and manifest.layer("model") is None
    assert len(manifest.layers_of("system")) == 1
    assert manifest.size == 23 + len(b"Be brief.")
    assert store.read_blob_text(manifest.layers[0].digest) == "Be brief."


def test_manifest_keeps_registry_bytes_and_extra_fields(store: ModelStore) -> None:
    raw = small_manifest(store, b"x")
    data = json.loads(raw)
    data["layers"][0]["from"] = "base:1"
    data["annotations"] = {"a": "b"}
    pretty = json.dumps(data, indent=3).encode()
    manifest = store.write_manifest(parse_name("m"), pretty)
    assert manifest.raw == pretty and manifest.layers[0].from_ == "base:1"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(schemaVersion=1),
        lambda d: d.update(layers="nope"),
        lambda d: d.update(layers=[{}] * 1001),
        lambda d: d["config"].update(digest="sha256:../../../etc/passwd"),
        lambda d: d["config"].update(digest="sha256-" + "a" * 64 + "/../x"),
        lambda d: d["config"].update(size=-1),
        lambda d: d["config"].update(size="12"),
        lambda d: d["config"].update(size=True),
        lambda d: d["layers"].append({"mediaType": "x", "digest": "sha256:" + "a" * 64}),
        lambda d: d["layers"].append("layer"),
        lambda d: d.pop("config"),
    ],
)
def test_hostile_manifests_are_refused(store: ModelStore, mutate: object) -> None:
    data = {
        "schemaVersion": 2,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": "sha256:" + "a" * 64, "size": 1},
        "layers": [],
    }
    mutate(data)  # type: ignore[operator]
    with pytest.raises(BadManifest) as raised:
        store.write_manifest(parse_name("m:1"), json.dumps(data).encode())
    assert isinstance(raised.value, HearthError) and str(raised.value)
    assert files_in(store) == set()


def test_unparsable_bytes_are_refused(store: ModelStore) -> None:
    name = parse_name("m")
    for raw in [b"{" * 10, b"", b"[]", b"\xff\xfe", b" " * (4 * 2**20 + 1)]:
        with pytest.raises(BadManifest):
            parse_manifest(raw, name)


def test_case_insensitive_lookup_keeps_stored_spelling(store: ModelStore) -> None:
    raw = small_manifest(store, b"x")
    store.write_manifest(parse_name("MyOrg/Llama3.2:Q4"), raw)
    found = store.read_manifest(parse_name("myorg/LLAMA3.2:q4"))
    assert found.name.display == "MyOrg/Llama3.2:Q4"
    # A new tag of the same model lands in the existing directories.
    store.write_manifest(parse_name("myorg/llama3.2:q8"), raw)
    model_dirs = list((store.manifests / "registry.ollama.ai").iterdir())
    assert [d.name for d in model_dirs] == ["MyOrg"]
    assert sorted(p.name for p in (model_dirs[0] / "Llama3.2").iterdir()) == ["Q4", "q8"]
    # Re-writing an existing name in another case replaces it instead of adding one.
    store.write_manifest(parse_name("MYORG/LLAMA3.2:Q4"), raw)
    assert len(store.list_manifests()) == 2
    with pytest.raises(ModelNotFound, match="model 'myorg/llama3.2:q5' not found"):
        store.read_manifest(parse_name("myorg/llama3.2:q5"))


def test_list_is_newest_first_and_skips_junk(store: ModelStore) -> None:
    raw = small_manifest(store, b"x")
    for index, name in enumerate(["a:1", "b:1", "c:1"]):
        written = store.write_manifest(parse_name(name), raw)
        assert written.path is not None
        os.utime(written.path, (1_700_000_000 + index * 10, 1_700_000_000 + index * 10))
    library = store.manifests / "registry.ollama.ai" / "library"
    (library / "broken").mkdir()
    (library / "broken" / "1").write_bytes(b"not json")
    (library / "c" / ".DS_Store").write_bytes(b"junk")
    (store.manifests / "too" / "deep" / "for" / "a" / "name").mkdir(parents=True)
    (store.manifests / "too" / "deep" / "for" / "a" / "name" / "x").write_bytes(raw)
    (store.manifests / "stray").write_bytes(raw)
    assert [m.name.display for m in store.list_manifests()] == ["c:1", "b:1", "a:1"]


def test_copy_and_delete_prune_shared_blobs(store: ModelStore, tmp_path: Path) -> None:
    model_digest = imported(store, tmp_path, "tiny:1")
    store.copy_model(parse_name("tiny:1"), parse_name("other/copy:2"))
    assert (
        store.read_manifest(parse_name("other/copy:2")).raw
        == store.read_manifest(parse_name("tiny:1")).raw
    )
    store.copy_model(parse_name("tiny:1"), parse_name("TINY:1"))  # onto itself: no-op
    assert {m.name.display for m in store.list_manifests()} == {"tiny:1", "other/copy:2"}
    assert model_digest in store.referenced_digests()

    store.delete_model(parse_name("Tiny:1"))
    assert store.has_blob(model_digest)  # the copy still uses it
    assert not (store.manifests / "registry.ollama.ai" / "library").exists()  # pruned dirs
    store.delete_model(parse_name("other/copy:2"))
    assert files_in(store) == set()
    assert store.manifests.is_dir() and store.blobs.is_dir()  # never pruned
    with pytest.raises(ModelNotFound, match="model 'other/copy:2' not found"):
        store.delete_model(parse_name("other/copy:2"))
    with pytest.raises(ModelNotFound):
        store.copy_model(parse_name("nothing"), parse_name("x"))


def test_delete_keeps_blobs_when_another_manifest_is_unreadable(store: ModelStore) -> None:
    """An unreadable manifest might reference any blob, so nothing may be pruned."""
    raw = small_manifest(store, b"shared")
    store.write_manifest(parse_name("a:1"), raw)
    broken = store.manifests / "registry.ollama.ai" / "library" / "b" / "1"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"{truncated")
    blobs_before = {p.name for p in store.blobs.iterdir()}
    store.delete_model(parse_name("a:1"))
    assert {p.name for p in store.blobs.iterdir()} == blobs_before
