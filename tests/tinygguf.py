"""Tiny GGUF files written with the ``gguf`` package, for store and metadata tests.

They carry real headers and tensors but are not meant to be loaded by
llama-server (that is what the Gemma test model is for).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter


def write_tiny_gguf(
    path: Path,
    arch: str = "llama",
    chat_template: str | None = "{% for m in messages %}{{ m.content }}{% endfor %}{{ tools }}",
    projector: bool = False,
    pooling: bool = False,
    seed: int = 0,
) -> Path:
    writer = GGUFWriter(str(path), "clip" if projector else arch)
    writer.add_name(f"tiny-{arch}")
    writer.add_file_type(1)  # MOSTLY_F16
    if not projector:
        writer.add_context_length(2048)
        writer.add_embedding_length(16)
        writer.add_block_count(1)
        writer.add_token_list([f"t{i}" for i in range(10)])
        if chat_template is not None:
            writer.add_chat_template(chat_template)
        if pooling:
            writer.add_uint32(f"{arch}.pooling_type", 1)
    else:
        writer.add_string("clip.projector_type", "mlp")
    rng = np.random.default_rng(seed)
    writer.add_tensor("token_embd.weight", rng.standard_normal((10, 16)).astype(np.float32))
    writer.add_tensor("output.weight", rng.standard_normal((16, 4)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
