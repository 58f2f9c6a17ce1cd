"""Describing stored models: ``/api/tags`` entries, ``/api/show``, and run specs.

GGUF headers are parsed once per blob and kept in a small cache, so listing
models and starting chats never re-read a multi-gigabyte file's header.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from app.chat_templates import NO_TEMPLATE_NOTE, has_chat_template
from app.gofmt import go_float
from app.models.errors import BadManifest, NotGGUF
from app.models.gguf_meta import (
    ALL_ARRAYS,
    _Skipped,
    capabilities,
    describe,
    is_gguf,
    parameter_count,
    read_gguf,
    tensor_type_name,
)
from app.models.names import ModelName
from app.models.store import Layer, Manifest, ModelStore
from app.options import validate_options
from app.spec import RunSpec

Header = tuple[dict[str, Any], list[dict[str, Any]]]
_CACHE: OrderedDict[str, Header | NotGGUF] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 512
"""Entries are small (arrays longer than 5 are left unread), and a cache smaller than the
number of models would be evicted in a cycle by every ``/api/tags``."""


def gguf_header(store: ModelStore, digest: str) -> Header:
    """(metadata, tensors) of a GGUF blob; arrays longer than 5 are left unread.

    Keyed by digest: a blob's content never changes under its name, so the
    cache can never go stale (and is shared safely between stores). A blob
    that is not a valid GGUF is remembered too, so a crafted or corrupt
    header is parsed once, not on every ``/api/tags``; a missing blob is
    not remembered (it may still arrive).
    """
    with _CACHE_LOCK:
        if digest in _CACHE:
            _CACHE.move_to_end(digest)
            cached = _CACHE[digest]
            if isinstance(cached, NotGGUF):
                raise NotGGUF(str(cached))
            return cached
    path = store.blob_path(digest)
    result: Header | NotGGUF
    try:
        result = read_gguf(path, keep_arrays=5)
    except NotGGUF as error:
        if not path.is_file():
            raise
        result = error
    with _CACHE_LOCK:
        _CACHE[digest] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    if isinstance(result, NotGGUF):
        raise NotGGUF(str(result))
    return result


def check_landed_blob(store: ModelStore, digest: str) -> str | None:
    """Read a newly stored blob's GGUF header once, so its result is cached; the error, if any.

    Called where a blob lands (pull, upload, import). Blobs that do not
    start with the GGUF magic (templates, params, configs) are not GGUF
    and are left alone.
    """
    if not is_gguf(store.blob_path(digest)):
        return None
    try:
        gguf_header(store, digest)
    except NotGGUF as error:
        return str(error)
    return None


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _find_layer(manifest: Manifest, kind: str) -> Layer | None:
    """The layer of ``kind``; ``prompt`` is the old name of ``template``."""
    return manifest.layer(kind) or (manifest.layer("prompt") if kind == "template" else None)


def _text_layer(store: ModelStore, manifest: Manifest, kind: str) -> str | None:
    layer = _find_layer(manifest, kind)
    return store.read_blob_text(layer.digest) if layer else None


def _json_layer(store: ModelStore, manifest: Manifest, kind: str) -> Any:
    layer = manifest.layer(kind)
    return store.read_blob_json(layer.digest) if layer else None


def _model_layer(manifest: Manifest) -> Layer:
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
    messages = _json_layer(store, manifest, "messages")
    family = metadata.get("general.architecture", "")
    train = metadata.get(f"{family}.context_length")
    caps = capabilities(metadata, has_projector, template)
    template_layer = _find_layer(manifest, "template")
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
        params=validate_options(params, lenient=True) if isinstance(params, dict) else {},
        messages=_valid_messages(messages),
        metadata=metadata,
        details=describe(metadata, tensors),
        capabilities=caps,
        context_length_train=train if isinstance(train, int) else None,
        is_embedding="embedding" in caps,
        size=manifest.size,
    )


def _valid_messages(messages: Any) -> list[dict[str, Any]]:
    """Seed messages from a stored layer, keeping only well-formed entries."""
    if not isinstance(messages, list):
        return []
    return [
        message
        for message in messages
        if isinstance(message, dict)
        and isinstance(message.get("role"), str)
        and isinstance(message.get("content"), str)
    ]


def tag_entry(store: ModelStore, manifest: Manifest) -> dict[str, Any]:
    """One ``/api/tags`` entry."""
    try:
        metadata, tensors = gguf_header(store, _model_layer(manifest).digest)
        details = describe(metadata, tensors)
    except Exception:  # noqa: BLE001 - a broken model still lists, with what we know
        details = _config_details(store, manifest)
    return {
        "name": manifest.name.display,
        "model": manifest.name.display,
        "modified_at": rfc3339(manifest.modified_at),
        "size": manifest.size,
        "digest": manifest.digest,
        "details": details,
    }


def _config_details(store: ModelStore, manifest: Manifest) -> dict[str, Any]:
    """``details`` from the config blob, for a model whose GGUF cannot be read (yet)."""
    try:
        config = store.read_blob_json(manifest.config.digest)
    except Exception:  # noqa: BLE001 - missing or corrupt config: list what we know
        config = {}
    config = config if isinstance(config, dict) else {}
    family = config.get("model_family") if isinstance(config.get("model_family"), str) else ""
    families = config.get("model_families")
    return {
        "parent_model": "",
        "format": config.get("model_format") or "gguf",
        "family": family,
        "families": families if isinstance(families, list) else ([family] if family else []),
        "parameter_size": str(config.get("model_type") or ""),
        "quantization_level": str(config.get("file_type") or ""),
    }


def _format_value(value: Any) -> str:
    """A parameter value the way Ollama prints it (strings Go-quoted)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _modelfile_quote(text: str) -> str:
    """Ollama's Modelfile quoting: bare unless spaces at the ends or newlines need quotes."""
    if "\n" in text or text.startswith(" ") or text.endswith(" "):
        return f'"""{text}"""' if '"' in text else json.dumps(text, ensure_ascii=False)
    return text


def parameters_text(params: dict[str, Any]) -> str:
    """Modelfile-style ``name value`` lines, name padded to 30 columns, one per list item."""
    lines = []
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{name:<30} {_format_value(item)}")
    return "\n".join(lines)


def _plain_metadata(
    metadata: dict[str, Any], verbose: bool, skipped: dict[str, int] | None = None
) -> dict[str, Any]:
    """``model_info``: long arrays as ``[]`` unless verbose; ones never read as ``[]`` always.

    Even verbose, an array larger than ``MAX_KEPT_ARRAY_BYTES`` in the file
    was skipped, not read (a 100 MB array would be a 200 MB answer); its
    length goes into ``skipped``.
    """
    info = {}
    for key, value in metadata.items():
        if key in {"general.name", "tokenizer.chat_template"}:
            continue
        if isinstance(value, _Skipped):
            if verbose and skipped is not None:
                skipped[key] = value.length
            value = []
        elif isinstance(value, list) and len(value) > 5 and not verbose:
            value = []
        info[key] = list(value) if isinstance(value, list) else value
    return info


def show_model(store: ModelStore, manifest: Manifest, verbose: bool = False) -> dict[str, Any]:
    """The ``/api/show`` response for a stored model."""
    model_layer = _model_layer(manifest)
    metadata, tensors = gguf_header(store, model_layer.digest)  # a bad header fails here, cached
    if verbose:
        metadata, tensors = read_gguf(store.blob_path(model_layer.digest), keep_arrays=ALL_ARRAYS)
    template = _text_layer(store, manifest, "template")
    system = _text_layer(store, manifest, "system")
    licenses = [store.read_blob_text(layer.digest) for layer in manifest.layers_of("license")]
    params = _json_layer(store, manifest, "params")
    params = validate_options(params, lenient=True) if isinstance(params, dict) else {}
    messages = _valid_messages(_json_layer(store, manifest, "messages"))
    projectors = manifest.layers_of("projector")
    effective_template = template or str(metadata.get("tokenizer.chat_template") or "")
    result: dict[str, Any] = {
        "modelfile": _modelfile(store, manifest, template, system, params, licenses, messages),
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
    skipped: dict[str, int] = {}
    # Ollama's GGUF reader always adds the count (from the tensors), converter or not.
    result["model_info"] = {
        **_plain_metadata(metadata, verbose, skipped),
        "general.parameter_count": parameter_count(metadata, tensors),
    }
    if skipped:
        # Hearth's own field: arrays too large to return, with their lengths.
        result["model_info_skipped_arrays"] = skipped
    if projectors:
        projector_meta, _ = gguf_header(store, projectors[0].digest)
        result["projector_info"] = _plain_metadata(projector_meta, verbose)
    if verbose:
        result["tensors"] = [
            {"name": t["name"], "type": tensor_type_name(t["type"]), "shape": t["shape"]}
            for t in tensors
        ]
    result["capabilities"] = capabilities(metadata, bool(projectors), template)
    if not has_chat_template(template, metadata) and "completion" in result["capabilities"]:
        result["warnings"] = [NO_TEMPLATE_NOTE]  # chats use the ChatML fallback
    result["modified_at"] = rfc3339(manifest.modified_at)
    return result


def _modelfile(
    store: ModelStore,
    manifest: Manifest,
    template: str | None,
    system: str | None,
    params: dict[str, Any],
    licenses: list[str],
    messages: list[dict[str, Any]],
) -> str:
    display = manifest.name.display
    lines = [
        '# Modelfile generated by "hearth show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {display}",
        "",
        f"FROM {store.blob_path(_model_layer(manifest).digest)}",
    ]
    # As Ollama writes them: a projector is another FROM, an adapter an ADAPTER.
    lines += [f"FROM {store.blob_path(layer.digest)}" for layer in manifest.layers_of("projector")]
    lines += [f"ADAPTER {store.blob_path(layer.digest)}" for layer in manifest.layers_of("adapter")]
    if template:
        lines.append(f'TEMPLATE """{template}"""')
    if system:
        lines.append(f'SYSTEM """{system}"""')
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            text = item if isinstance(item, str) else _format_value(item)
            lines.append(f"PARAMETER {name} {_modelfile_quote(text)}")
    for text in licenses:
        lines.append(f'LICENSE """{text}"""')
    for message in messages:
        lines.append(f"MESSAGE {message['role']} {_modelfile_quote(message['content'])}")
    return "\n".join(lines) + "\n"
