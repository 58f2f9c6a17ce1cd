"""The default context Hearth chooses from memory (``app.runner.context_size``).

Pure logic over the real test model's GGUF metadata and memory figures
handed in; the live effect (Open WebUI's tool-laden first chat answered at
the default context) is in tests/test_openwebui.py.
"""

from __future__ import annotations

from pathlib import Path

from app.models.gguf_meta import read_gguf
from app.runner.context_size import FLOOR, GIB, auto_context, kv_bytes_per_token

MIB = 2**20


def test_kv_cache_per_token_of_the_real_gemma(gemma_gguf_path: Path) -> None:
    """18 layers x 1 KV head x (256 + 256) x 2 bytes."""
    assert kv_bytes_per_token(read_gguf(gemma_gguf_path)[0]) == 18 * 1 * 512 * 2


def test_kv_cache_per_token_without_key_length_or_kv_heads() -> None:
    llama = {
        "general.architecture": "llama",
        "llama.block_count": 32,
        "llama.attention.head_count": 32,
        "llama.attention.head_count_kv": [8] * 32,  # per-layer arrays count by their largest
        "llama.embedding_length": 4096,
    }
    assert kv_bytes_per_token(llama) == 32 * 8 * (128 + 128) * 2
    assert kv_bytes_per_token({"general.architecture": "llama"}) is None


def test_the_largest_default_that_memory_allows() -> None:
    per_token = 128 * 1024  # an 8B model with grouped-query attention
    weights = 5 * GIB
    assert auto_context(per_token, weights, 64 * GIB, parallel=2) == 32768  # 8 GiB of cache
    assert auto_context(per_token, weights, 16 * GIB, parallel=2) == 16384  # 4 GiB
    assert auto_context(per_token, weights, 11 * GIB, parallel=2) == 8192
    assert auto_context(per_token, weights, 8 * GIB, parallel=2) == FLOOR
    assert auto_context(per_token, weights, 8 * GIB, parallel=1) == 8192
    assert auto_context(18 * 1024, 250 * MIB, 6 * GIB, parallel=2) == 32768  # the test model


def test_unknown_cache_size_keeps_ollamas_default() -> None:
    assert auto_context(None, GIB, 512 * GIB, parallel=1) == FLOOR
