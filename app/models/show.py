"""Describing stored models: ``/api/tags`` entries, ``/api/show``, and run specs.

GGUF headers are parsed once per blob and kept in a small cache, so listing
models and starting chats never re-read a multi-gigabyte file's header.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gguf import GGMLQuantizationType

from app.models.errors import BadManifest
from app.models.gguf_meta import _Skipped, capabilities, describe, read_gguf
from app.models.names import ModelName
from app.models.options import validate_options
from app.models.store import Manifest, ModelStore

_CACHE: OrderedDict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32


def gguf_header(store: ModelStore, digest: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metadata, tensors) of a GGUF blob; arrays longer than 5 are left unread."""
    with _CACHE_LOCK:
        if digest in _CACHE:
            _CACHE.move_to_end(digest)
            return _CACHE[digest]
    header = read_gguf(store.blob_path(digest), keep_arrays=5)
    with _CACHE_LOCK:
        _CACHE[digest] = header
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return header


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class RunSpec:
    """Everything the runner needs to serve one stored model."""

    name: ModelName
    display: str
    digest: str
    model_path: Path
    projector_paths: list[Path] = field(default_factory=list)
    adapter_paths: list[Path] = field(default_factory=list)
    template: str | None = None
    template_path: Path | None = None
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    context_length_train: int | None = None
    is_embedding: bool = False
    size: int = 0


def _text_layer(store: ModelStore, manifest: Manifest, kind: str) -> str | None:
    layer = manifest.layer(kind) or (manifest.layer("prompt") if kind == "template" else None)
    return store.read_blob_text(layer.digest) if layer else None


def _json_layer(store: ModelStore, manifest: Manifest, kind: str) -> Any:
    layer = manifest.layer(kind)
    return store.read_blob_json(layer.digest) if layer else None


def _model_layer(manifest: Manifest):  # type: ignore[no-untyped-def]
    layer = manifest.layer("model")
    if layer is None:
        raise BadManifest(f"model '{manifest.name.display}' has no model layer")
    return layer


def resolve_for_run(store: ModelStore, name: ModelName) -> RunSpec:
    manifest = store.read_manifest(name)
    model_layer = _model_layer(manifest)
    metadata, tensors = gguf_header(store, model_layer.digest)
    template = _text_layer(store, manifest, "template")
    has_projector = bool(manifest.layers_of("projector"))
    params = _json_layer(store, manifest, "params") or {}
    family = metadata.get("general.architecture", "")
    train = metadata.get(f"{family}.context_length")
    caps = capabilities(metadata, has_projector, template)
    template_layer = manifest.layer("template")
    return RunSpec(
        name=manifest.name,
        display=manifest.name.display,
        digest=manifest.digest,
        model_path=store.blob_path(model_layer.digest),
        projector_paths=[store.blob_path(x.digest) for x in manifest.layers_of("projector")],
        adapter_paths=[store.blob_path(x.digest) for x in manifest.layers_of("adapter")],
        template=template,
        template_path=store.blob_path(template_layer.digest) if template_layer else None,
        system=_text_layer(store, manifest, "system"),
        params=validate_options(params) if isinstance(params, dict) else {},
        messages=_json_layer(store, manifest, "messages") or [],
        details=describe(metadata, tensors),
        capabilities=caps,
        context_length_train=train if isinstance(train, int) else None,
        is_embedding="embedding" in caps,
        size=manifest.size,
    )


def tag_entry(store: ModelStore, manifest: Manifest) -> dict[str, Any]:
    """One ``/api/tags`` entry."""
    try:
        metadata, tensors = gguf_header(store, _model_layer(manifest).digest)
        details = describe(metadata, tensors)
    except Exception:  # noqa: BLE001 - a broken model still lists, with what we know
        details = {"parent_model": "", "format": "gguf", "family": "", "families": None}
    return {
        "name": manifest.name.display,
        "model": manifest.name.display,
        "modified_at": rfc3339(manifest.modified_at),
        "size": manifest.size,
        "digest": manifest.digest,
        "details": details,
    }


def _format_value(value: Any) -> str:
    return (
        json.dumps(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def parameters_text(params: dict[str, Any]) -> str:
    """Modelfile-style ``name value`` lines, name padded to 30 columns, one per list item."""
    lines = []
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{name:<30} {_format_value(item)}")
    return "\n".join(lines)


def _plain_metadata(metadata: dict[str, Any], verbose: bool) -> dict[str, Any]:
    info = {}
    for key, value in metadata.items():
        if key in {"general.name", "tokenizer.chat_template"}:
            continue
        if (
            isinstance(value, list)
            and (isinstance(value, _Skipped) or len(value) > 5)
            and not verbose
        ):
            value = []
        info[key] = list(value) if isinstance(value, list) else value
    return info


def show_model(store: ModelStore, manifest: Manifest, verbose: bool = False) -> dict[str, Any]:
    """The ``/api/show`` response for a stored model."""
    model_layer = _model_layer(manifest)
    if verbose:
        metadata, tensors = read_gguf(store.blob_path(model_layer.digest), keep_arrays=1 << 30)
    else:
        metadata, tensors = gguf_header(store, model_layer.digest)
    template = _text_layer(store, manifest, "template")
    system = _text_layer(store, manifest, "system")
    licenses = [store.read_blob_text(layer.digest) for layer in manifest.layers_of("license")]
    params = _json_layer(store, manifest, "params") or {}
    messages = _json_layer(store, manifest, "messages")
    projectors = manifest.layers_of("projector")
    effective_template = template or str(metadata.get("tokenizer.chat_template") or "")
    result: dict[str, Any] = {
        "modelfile": _modelfile(store, manifest, template, system, params, licenses),
        "parameters": parameters_text(params),
        "template": effective_template,
    }
    if system:
        result["system"] = system
    if licenses:
        result["license"] = "\n".join(licenses)
    result["details"] = describe(metadata, tensors)
    if messages:
        result["messages"] = messages
    result["model_info"] = _plain_metadata(metadata, verbose)
    if projectors:
        projector_meta, _ = gguf_header(store, projectors[0].digest)
        result["projector_info"] = _plain_metadata(projector_meta, verbose)
    if verbose:
        result["tensors"] = [
            {"name": t["name"], "type": _tensor_type(t["type"]), "shape": t["shape"]}
            for t in tensors
        ]
    result["capabilities"] = capabilities(metadata, bool(projectors), template)
    result["modified_at"] = rfc3339(manifest.modified_at)
    return result


def _tensor_type(kind: int) -> str:
    try:
        return GGMLQuantizationType(kind).name
    except ValueError:
        return str(kind)


def _modelfile(
    store: ModelStore,
    manifest: Manifest,
    template: str | None,
    system: str | None,
    params: dict[str, Any],
    licenses: list[str],
) -> str:
    display = manifest.name.display
    lines = [
        '# Modelfile generated by "hearth show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {display}",
        "",
        f"FROM {store.blob_path(_model_layer(manifest).digest)}",
    ]
    if template:
        lines.append(f'TEMPLATE """{template}"""')
    if system:
        lines.append(f'SYSTEM """{system}"""')
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {name} {_format_value(item)}")
    for text in licenses:
        lines.append(f'LICENSE """{text}"""')
    return "\n".join(lines) + "\n"
