"""The copied GGML type names match the ``gguf`` package's enums (a test dependency)."""

from __future__ import annotations

import gguf

from app.models.ggml_names import GGML_TYPES, LLAMA_FILE_TYPES


def test_the_copies_match_the_gguf_package() -> None:
    assert {m.value: m.name for m in gguf.GGMLQuantizationType} == GGML_TYPES
    assert {m.value: m.name for m in gguf.LlamaFileType} == LLAMA_FILE_TYPES
