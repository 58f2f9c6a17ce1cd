"""A tiny vision projector (mmproj) for the real Gemma 3 270M, written with ``gguf``.

Gemma 3 270M is text-only; llama.cpp's mtmd pairs Gemma 3 text models with a
SigLIP vision tower and Gemma 3's projector (``clip.projector_type`` "gemma3"):
patches, a ViT, a 2-D average pool, an RMS norm and a projection into the
text model's 640-wide embeddings. This file writes one of those with a single
32-wide layer and random weights (about 120 KB): llama-server loads it with
``--mmproj``, decodes the image, runs the tower and feeds its tokens to Gemma.
The answer about the picture is nonsense, but every step of the path is the
real one, and the image's tokens show in ``prompt_eval_count``.

Tensor names and metadata keys follow ``tools/mtmd/clip.cpp`` and
``clip-impl.h`` of the llama.cpp that Hearth builds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter

TEXT_EMBD = 640
"""Gemma 3 270M's embedding width; the projector's output must match it."""
IMAGE_SIZE = 128
PATCH_SIZE = 8
MERGE = 4
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE // MERGE) ** 2
"""Tokens one image becomes (4 x 4 after the pool), plus Gemma's start/end-of-image text."""

_WIDTH = 32
_HEADS = 2
_FFN = 64


def write_tiny_projector(path: Path, text_embd: int = TEXT_EMBD, seed: int = 0) -> Path:
    """Write a loadable Gemma 3 mmproj GGUF at ``path`` and return it."""
    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(size: int) -> np.ndarray:
        return np.ones(size, dtype=np.float32)

    def zeros(size: int) -> np.ndarray:
        return np.zeros(size, dtype=np.float32)

    writer = GGUFWriter(str(path), "clip")
    writer.add_name("tiny-gemma3-mmproj")
    writer.add_type("mmproj")
    writer.add_file_type(0)  # ALL_F32
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "gemma3")
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", _WIDTH)
    writer.add_uint32("clip.vision.feed_forward_length", _FFN)
    writer.add_uint32("clip.vision.block_count", 1)
    writer.add_uint32("clip.vision.projection_dim", text_embd)
    writer.add_uint32("clip.vision.attention.head_count", _HEADS)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_uint32("clip.vision.projector.scale_factor", MERGE)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])

    patches = (IMAGE_SIZE // PATCH_SIZE) ** 2
    # numpy shapes are ggml's ne reversed: a weight applied to x is (out, in).
    tensors: dict[str, np.ndarray] = {
        "v.patch_embd.weight": weights(_WIDTH, 3, PATCH_SIZE, PATCH_SIZE),
        "v.patch_embd.bias": zeros(_WIDTH),
        "v.position_embd.weight": weights(patches, _WIDTH),
        "v.post_ln.weight": ones(_WIDTH),
        "v.post_ln.bias": zeros(_WIDTH),
        "mm.soft_emb_norm.weight": ones(_WIDTH),
        # ggml transposes it before use: ne = [text, width].
        "mm.input_projection.weight": weights(_WIDTH, text_embd),
    }
    block = "v.blk.0"
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        tensors[f"{block}.{name}.weight"] = weights(_WIDTH, _WIDTH)
        tensors[f"{block}.{name}.bias"] = zeros(_WIDTH)
    for name in ("ln1", "ln2"):
        tensors[f"{block}.{name}.weight"] = ones(_WIDTH)
        tensors[f"{block}.{name}.bias"] = zeros(_WIDTH)
    tensors[f"{block}.ffn_up.weight"] = weights(_FFN, _WIDTH)
    tensors[f"{block}.ffn_up.bias"] = zeros(_FFN)
    tensors[f"{block}.ffn_down.weight"] = weights(_WIDTH, _FFN)
    tensors[f"{block}.ffn_down.bias"] = zeros(_WIDTH)
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_png(width: int = 24, height: int = 16, seed: int = 0) -> bytes:
    """A small real PNG (random colours), written with the standard library only."""
    import struct
    import zlib

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
