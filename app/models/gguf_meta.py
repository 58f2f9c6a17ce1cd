"""GGUF metadata: what a model is, read from its header without loading it.

Why our own reader: ``gguf.GGUFReader`` maps every tensor and decodes every
array up front (about 8 s for the 253 MB Gemma file here); ``/api/show`` and
``/api/tags`` only need the key/value header and the tensor shapes. This
walks exactly those, skipping large arrays unless asked for them. The
type names come from ``app.models.ggml_names`` (the ``gguf`` package's
enums, copied: importing it pulls in numpy).
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

from app.models.errors import NotGGUF
from app.models.ggml_names import GGML_TYPES, LLAMA_FILE_TYPES

MAGIC = b"GGUF"
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_FIM_KEYS = ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id")
ALL_ARRAYS = 1 << 62
MAX_KEY_LENGTH = 65535
"""The GGUF spec's limit on a key's length."""
MAX_STRING_LENGTH = 1 << 26
"""64 MiB: longer strings are refused (the longest real ones, chat templates, are KiB)."""
MAX_KV_COUNT = 1 << 16
MAX_TENSOR_COUNT = 1 << 20
MAX_STRING_ARRAY = 1 << 22
"""4M entries: real vocabularies and merge lists are under 1M; walking one is a Python loop."""
MAX_ARRAY_LENGTH = 1 << 40
MAX_KEPT_ARRAY_BYTES = 16 * 2**20
"""A kept array larger than this in the file is skipped even when asked for (verbose show)."""


def is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == MAGIC
    except OSError:
        return False


class _Cursor:
    def __init__(self, data: mmap.mmap | bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise NotGGUF("GGUF file is truncated")
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def string(self, limit: int = MAX_STRING_LENGTH) -> str:
        length = self.take("<Q")
        if length > limit or self.offset + length > len(self.data):
            raise NotGGUF("GGUF file has a corrupt string")
        raw = bytes(self.data[self.offset : self.offset + length])
        self.offset += length
        return raw.decode("utf-8", "replace")

    def value(self, kind: int, keep_arrays: int) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind = self.take("<I")
            count = self.take("<Q")
            if count > MAX_ARRAY_LENGTH or (item_kind == _STRING and count > MAX_STRING_ARRAY):
                raise NotGGUF(f"GGUF file has an implausibly long array ({count} entries)")
            if item_kind == _ARRAY:
                raise NotGGUF("GGUF file has an array of arrays")
            start = self.offset
            if count > keep_arrays:
                self._skip_array(item_kind, count)
                return _Skipped(count)
            if item_kind in _SCALARS:
                # Measured before reading: a long array is skipped, not materialized.
                if struct.calcsize(_SCALARS[item_kind]) * count > MAX_KEPT_ARRAY_BYTES:
                    self._skip_array(item_kind, count)
                    return _Skipped(count)
                return self._scalar_array(item_kind, count)
            if item_kind == _STRING:
                items = self._string_array(count)
                if items is None:  # past the byte bound: the rest is skipped, not read
                    self.offset = start
                    self._skip_array(item_kind, count)
                    return _Skipped(count)
                return items
            raise NotGGUF(f"GGUF file has an unknown array type {item_kind}")
        raise NotGGUF(f"GGUF file has an unknown value type {kind}")

    def _scalar_array(self, kind: int, count: int) -> list[Any]:
        """One ``unpack_from`` for the whole array (token scores, types: 262k items)."""
        fmt = f"<{count}{_SCALARS[kind][1]}"
        size = struct.calcsize(_SCALARS[kind]) * count
        if self.offset + size > len(self.data):
            raise NotGGUF("GGUF file is truncated")
        values = list(struct.unpack_from(fmt, self.data, self.offset))
        self.offset += size
        return values

    def _string_array(self, count: int) -> list[str] | None:
        """A tight loop over length-prefixed strings (the 262k-entry token list).

        None once the array passes ``MAX_KEPT_ARRAY_BYTES`` in the file.
        """
        data, offset, end = self.data, self.offset, len(self.data)
        stop = min(end, offset + MAX_KEPT_ARRAY_BYTES)
        unpack = struct.Struct("<Q").unpack_from
        items = []
        for _ in range(count):
            if offset + 8 > stop:
                if stop < end:
                    return None
                raise NotGGUF("GGUF file is truncated")
            (length,) = unpack(data, offset)
            offset += 8
            if offset + length > stop:
                if stop < end and length <= MAX_STRING_LENGTH:
                    return None
                raise NotGGUF("GGUF file has a corrupt string")
            items.append(data[offset : offset + length].decode("utf-8", "replace"))
            offset += length
        self.offset = offset
        return items

    def _skip_array(self, kind: int, count: int) -> None:
        if kind in _SCALARS:
            self.offset += struct.calcsize(_SCALARS[kind]) * count
        elif kind == _STRING:
            data, offset, end = self.data, self.offset, len(self.data)
            unpack = struct.Struct("<Q").unpack_from
            for _ in range(count):
                if offset + 8 > end:
                    raise NotGGUF("GGUF file is truncated")
                (length,) = unpack(data, offset)
                if length > MAX_STRING_LENGTH:
                    raise NotGGUF("GGUF file has a corrupt string")
                offset += 8 + length
            self.offset = offset
        else:
            raise NotGGUF(f"GGUF file has an unknown array type {kind}")
        if self.offset > len(self.data):
            raise NotGGUF("GGUF file is truncated")


class _Skipped(list[Any]):
    """An array left unread; remembers its length."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length


def read_gguf(
    path: Path, keep_arrays: int = ALL_ARRAYS
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(key/values, tensor infos) of a GGUF file; arrays longer than ``keep_arrays`` are skipped.

    A skipped array reads as an empty list whose ``count`` attribute (see
    ``array_length``) keeps the real length. Tensor infos are
    ``{"name", "type" (GGML type id), "shape"}``; tensor data is never read.
    """
    try:
        with path.open("rb") as handle:
            if handle.read(4) != MAGIC:
                raise NotGGUF()
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(data, keep_arrays)
    except (OSError, ValueError, OverflowError, RecursionError, struct.error) as error:
        raise NotGGUF(f"supplied file was not in GGUF format ({error})") from None


def _parse(data: mmap.mmap, keep_arrays: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cursor = _Cursor(data)
    cursor.offset = 4
    version = cursor.take("<I")
    if version not in (2, 3):
        raise NotGGUF(f"unsupported GGUF version {version}")
    tensor_count = cursor.take("<Q")
    kv_count = cursor.take("<Q")
    if kv_count > MAX_KV_COUNT or tensor_count > MAX_TENSOR_COUNT:
        raise NotGGUF("GGUF header counts are implausible")
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cursor.string(MAX_KEY_LENGTH)
        metadata[key] = cursor.value(cursor.take("<I"), keep_arrays)
    tensors = []
    for _ in range(tensor_count):
        name = cursor.string(MAX_KEY_LENGTH)
        dims = cursor.take("<I")
        if dims > 8:
            raise NotGGUF("GGUF tensor has too many dimensions")
        shape = [cursor.take("<Q") for _ in range(dims)]
        kind = cursor.take("<I")
        cursor.take("<Q")  # offset
        tensors.append({"name": name, "type": kind, "shape": shape})
    return metadata, tensors


def tensor_type_name(kind: int) -> str:
    return GGML_TYPES.get(kind, str(kind))


def array_length(value: Any) -> int:
    return value.length if isinstance(value, _Skipped) else len(value)


def parameter_count(metadata: dict[str, Any], tensors: list[dict[str, Any]]) -> int:
    """``general.parameter_count`` when the converter wrote it, else the sum of tensor sizes."""
    count = metadata.get("general.parameter_count")
    if isinstance(count, int) and count > 0:
        return count
    total = 0
    for tensor in tensors:
        product = 1
        for dim in tensor["shape"]:
            product *= dim
        total += product
    return total


def human_parameters(count: int) -> str:
    """Ollama's ``format.HumanNumber``: ``268.10M``, ``3.2B``, ``7B``, ``12K``."""
    if count >= 1_000_000_000:
        value = count / 1e9
        return f"{value:.0f}B" if value.is_integer() else f"{value:.1f}B"
    if count >= 1_000_000:
        value = count / 1e6
        return f"{value:.0f}M" if value.is_integer() else f"{value:.2f}M"
    if count >= 1_000:
        return f"{count / 1e3:.0f}K"
    return str(count)


def quantization_name(metadata: dict[str, Any]) -> str:
    file_type = metadata.get("general.file_type")
    if isinstance(file_type, int):
        name = LLAMA_FILE_TYPES.get(file_type)
        if name is None:
            return "unknown"
        return name.removeprefix("MOSTLY_").replace("ALL_", "")
    return "unknown"


def _parameter_size(metadata: dict[str, Any], tensors: list[dict[str, Any]] | None) -> str:
    count = parameter_count(metadata, tensors or [])
    if count > 0:
        return human_parameters(count)
    label = metadata.get("general.size_label")
    return label if isinstance(label, str) else ""


def describe(
    metadata: dict[str, Any], tensors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Ollama's ``details`` object for a GGUF.

    The parameter size comes from ``general.parameter_count``, else from the
    tensor shapes (as Ollama computes it), else ``general.size_label``.
    """
    family = str(metadata.get("general.architecture", "unknown"))
    details: dict[str, Any] = {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": _parameter_size(metadata, tensors),
        "quantization_level": quantization_name(metadata),
    }
    for key, field_name in (
        ("context_length", "context_length"),
        ("embedding_length", "embedding_length"),
    ):
        value = metadata.get(f"{family}.{key}")
        if isinstance(value, int):
            details[field_name] = value
    return details


def is_projector(metadata: dict[str, Any]) -> bool:
    """A vision/audio projector (llama.cpp ``--mmproj``) rather than a language model."""
    return (
        metadata.get("general.architecture") == "clip"
        or metadata.get("general.type") == "mmproj"
        or any(key.startswith("clip.") for key in metadata)
    )


def capabilities(metadata: dict[str, Any], has_projector: bool, template: str | None) -> list[str]:
    """Approximates Ollama's rules: embedding vs completion, tools, thinking, vision, insert."""
    family = metadata.get("general.architecture", "")
    found = ["embedding"] if f"{family}.pooling_type" in metadata else ["completion"]
    text = template or str(metadata.get("tokenizer.chat_template", ""))
    if "completion" in found:
        if "tools" in text or ".Tools" in text or "tool_call" in text:
            found.append("tools")
        if ".Suffix" in text or any(key in metadata for key in _FIM_KEYS):
            found.append("insert")
        if "<think>" in text or "enable_thinking" in text or "reasoning_content" in text:
            found.append("thinking")
    if has_projector or f"{family}.vision.block_count" in metadata:
        found.append("vision")
    if f"{family}.audio.block_count" in metadata:
        found.append("audio")
    return found
