"""Describing models: /api/show, /api/tags entries, run specs and GGUF metadata."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from app.models.errors import NotGGUF
from app.models.gguf_meta import (
    capabilities,
    describe,
    human_parameters,
    is_gguf,
    read_gguf,
    tensor_type_name,
)
from app.models.names import parse_name
from app.models.show import go_float, parameters_text, resolve_for_run, show_model, tag_entry
from app.models.store import ModelStore
from tests.model_helpers import created, imported
from tests.tinygguf import write_tiny_gguf

RFC3339_MICRO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def test_read_metadata_decodes_everything(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "t.gguf")
    assert is_gguf(path) and not is_gguf(tmp_path / "missing")
    metadata = read_gguf(path)[0]
    assert metadata["general.architecture"] == "llama"
    assert metadata["general.file_type"] == 1
    assert metadata["llama.context_length"] == 2048
    assert metadata["tokenizer.ggml.tokens"] == [f"t{i}" for i in range(10)]
    assert "tools" in metadata["tokenizer.chat_template"]
    trimmed, tensors = read_gguf(path, keep_arrays=5)
    assert trimmed["tokenizer.ggml.tokens"] == []
    assert [t["name"] for t in tensors] == ["token_embd.weight", "output.weight"]
    first = read_gguf(path, keep_arrays=0)[1][0]
    assert {**first, "type": tensor_type_name(first["type"])} == {
        "name": "token_embd.weight",
        "type": "F32",
        "shape": [16, 10],
    }


def test_truncated_gguf_is_not_gguf(tmp_path: Path) -> None:
    data = write_tiny_gguf(tmp_path / "t.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    for length in (0, 3, 4, 10, 24, 100, 400):
        cut.write_bytes(data[:length])
        with pytest.raises(NotGGUF):
            read_gguf(cut)[0]


def test_human_parameters_like_ollama() -> None:
    assert human_parameters(268_098_176) == "268.10M"
    assert human_parameters(3_212_749_888) == "3.2B"
    assert human_parameters(7_000_000_000) == "7B"
    assert human_parameters(12_345) == "12K"
    assert human_parameters(999) == "999"


def test_describe_fallbacks() -> None:
    metadata = {
        "general.architecture": "qwen3",
        "general.file_type": 15,
        "general.size_label": "8B",
    }
    details = describe(metadata)
    assert details["parameter_size"] == "8B" and details["quantization_level"] == "Q4_K_M"
    assert details["family"] == "qwen3" and details["families"] == ["qwen3"]
    assert (
        describe({**metadata, "general.parameter_count": 8_190_735_360})["parameter_size"] == "8.2B"
    )
    assert (
        describe({"general.architecture": "x", "general.file_type": 7})["quantization_level"]
        == "Q8_0"
    )


@pytest.mark.parametrize(
    ("metadata", "projector", "template", "expected"),
    [
        ({"general.architecture": "llama"}, False, None, ["completion"]),
        ({"general.architecture": "bert", "bert.pooling_type": 1}, False, None, ["embedding"]),
        (
            {"general.architecture": "llama", "tokenizer.chat_template": "{% if tools %}"},
            False,
            None,
            ["completion", "tools"],
        ),
        (
            {"general.architecture": "llama"},
            False,
            "{{ if .Tools }}x{{ end }}",
            ["completion", "tools"],
        ),
        (
            {"general.architecture": "llama"},
            False,
            "{{ .Prompt }}<think></think>",
            ["completion", "thinking"],
        ),
        (
            {
                "general.architecture": "llama",
                "tokenizer.chat_template": "{% if enable_thinking %}",
            },
            False,
            None,
            ["completion", "thinking"],
        ),
        (
            {"general.architecture": "llama"},
            False,
            "{{ .Prompt }}{{ .Suffix }}",
            ["completion", "insert"],
        ),
        (
            {"general.architecture": "llama", "tokenizer.ggml.fim_pre_token_id": 5},
            False,
            None,
            ["completion", "insert"],
        ),
        ({"general.architecture": "llama"}, True, None, ["completion", "vision"]),
        (
            {"general.architecture": "gemma3", "gemma3.vision.block_count": 27},
            False,
            None,
            ["completion", "vision"],
        ),
    ],
)
def test_capabilities(
    metadata: dict, projector: bool, template: str | None, expected: list
) -> None:
    assert capabilities(metadata, projector, template) == expected


def test_go_float_and_parameters_text() -> None:
    assert [go_float(v) for v in (1.0, 0.5, 1e6, 123456.0, 1e-05, 0.0001)] == [
        "1",
        "0.5",
        "1e+06",
        "123456",
        "1e-05",
        "0.0001",
    ]
    text = parameters_text(
        {"num_ctx": 4096, "temperature": 1.0, "stop": ["<end>", 'a "q"'], "use_mmap": False}
    )
    assert text.splitlines() == [
        "num_ctx                        4096",
        "temperature                    1",
        'stop                           "<end>"',
        'stop                           "a \\"q\\""',
        "use_mmap                       false",
    ]


def test_show_model(store: ModelStore, tmp_path: Path) -> None:
    model_digest = imported(store, tmp_path, "tiny:1")
    created(
        store,
        "tiny:custom",
        from_="tiny:1",
        system="Be kind.",
        license=["MIT", "Apache"],
        parameters={"temperature": 0.5, "stop": "END", "num_ctx": 512.0, "mirostat": 2},
        messages=[{"role": "user", "content": "hello"}],
    )
    manifest = store.read_manifest(parse_name("tiny:custom"))
    info = show_model(store, manifest)
    assert set(info) >= {
        "modelfile",
        "parameters",
        "template",
        "system",
        "license",
        "details",
        "messages",
        "model_info",
        "capabilities",
        "modified_at",
    }
    assert "projector_info" not in info and "tensors" not in info
    assert info["system"] == "Be kind." and info["license"] == "MIT\nApache"
    assert info["messages"] == [{"role": "user", "content": "hello"}]
    assert info["template"].startswith("{% for m in messages %}")  # from the GGUF
    assert info["parameters"].splitlines() == [
        "temperature                    0.5",
        'stop                           "END"',
        "num_ctx                        512",
    ]
    modelfile = info["modelfile"]
    assert "# FROM tiny:custom" in modelfile
    assert f"FROM {store.blob_path(model_digest)}" in modelfile
    assert 'SYSTEM """Be kind."""' in modelfile and "PARAMETER stop END" in modelfile
    assert 'LICENSE """MIT"""' in modelfile and "MESSAGE user hello" in modelfile
    assert info["details"] == {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "224",
        "quantization_level": "F16",
        "context_length": 2048,
        "embedding_length": 16,
    }
    model_info = info["model_info"]
    assert model_info["general.architecture"] == "llama"
    assert model_info["llama.context_length"] == 2048
    assert model_info["tokenizer.ggml.tokens"] == []  # more than 5 elements
    assert "general.name" not in model_info and "tokenizer.chat_template" not in model_info
    assert info["capabilities"] == ["completion", "tools"]
    assert RFC3339_MICRO.match(info["modified_at"])

    verbose = show_model(store, manifest, verbose=True)
    assert verbose["model_info"]["tokenizer.ggml.tokens"][:2] == ["t0", "t1"]
    assert verbose["tensors"][0] == {"name": "token_embd.weight", "type": "F32", "shape": [16, 10]}


def test_show_with_template_layer_and_projector(store: ModelStore, tmp_path: Path) -> None:
    model = store.import_file(write_tiny_gguf(tmp_path / "m.gguf", chat_template=None))
    projector = store.import_file(write_tiny_gguf(tmp_path / "p.gguf", projector=True))
    created(
        store,
        "vis:1",
        files={"m.gguf": model, "p.gguf": projector},
        template="{{ .System }} {{ .Prompt }}",
    )
    info = show_model(store, store.read_manifest(parse_name("vis:1")))
    assert info["template"] == "{{ .System }} {{ .Prompt }}"
    assert info["projector_info"]["general.architecture"] == "clip"
    assert info["capabilities"] == ["completion", "vision"]
    assert "system" not in info and "license" not in info and info["parameters"] == ""


def test_tag_entry(store: ModelStore, tmp_path: Path) -> None:
    imported(store, tmp_path, "user/tiny:v2")
    manifest = store.read_manifest(parse_name("user/tiny:v2"))
    entry = tag_entry(store, manifest)
    assert entry["name"] == entry["model"] == "user/tiny:v2"
    assert entry["digest"] == manifest.digest and len(entry["digest"]) == 64
    assert entry["size"] == manifest.size > 0
    assert RFC3339_MICRO.match(entry["modified_at"])
    assert entry["details"]["family"] == "llama" and entry["details"]["format"] == "gguf"


def test_resolve_for_run(store: ModelStore, tmp_path: Path) -> None:
    digest = imported(store, tmp_path, "emb:1", pooling=True)
    spec = resolve_for_run(store, parse_name("EMB:1"))
    assert spec.display == "emb:1" and spec.model_path == store.blob_path(digest)
    assert spec.is_embedding and spec.capabilities == ["embedding"]
    assert spec.template is None and spec.system is None and spec.params == {}
    assert spec.messages == [] and spec.projector_paths == [] and spec.adapter_paths == []
    assert spec.context_length_train == 2048
    assert spec.metadata["general.architecture"] == "llama"
    assert spec.metadata["tokenizer.ggml.tokens"] == []  # trimmed to save memory
    assert spec.details["quantization_level"] == "F16"
    assert spec.size == store.read_manifest(parse_name("emb:1")).size
    assert spec.digest == store.read_manifest(parse_name("emb:1")).digest


def test_gemma_metadata_reads_fast(gemma_gguf_path: Path) -> None:
    started = time.perf_counter()
    metadata, tensors = read_gguf(gemma_gguf_path, keep_arrays=5)
    header_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    full = read_gguf(gemma_gguf_path)[0]
    full_ms = (time.perf_counter() - started) * 1000
    details = describe(metadata, tensors)
    assert details["family"] == "gemma3"
    assert details["quantization_level"] == "Q4_K_M"
    assert details["parameter_size"] == "268.10M"
    assert details["context_length"] == 32768
    assert len(full["tokenizer.ggml.tokens"]) == 262144
    assert "thinking" not in capabilities(metadata, False, None)
    print(f"gemma header: {header_ms:.1f} ms trimmed, {full_ms:.1f} ms with all arrays")
    assert full_ms < 1000


def test_tag_entry_falls_back_to_the_config_blob(store: ModelStore, tmp_path: Path) -> None:
    """A model whose GGUF blob is gone still lists, with details from its config blob."""
    digest = imported(store, tmp_path, "gone:1", seed=9)
    store.blob_path(digest).unlink()
    entry = tag_entry(store, store.read_manifest(parse_name("gone:1")))
    assert entry["details"]["family"] == "llama"
    assert entry["details"]["families"] == ["llama"]
    assert entry["details"]["quantization_level"] == "F16"
    assert entry["details"]["parameter_size"] == "224"
