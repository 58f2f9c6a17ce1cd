"""Creating models: from uploaded GGUF blobs, from an existing model, or a file.

Everything is validated before anything is written; then the small layers
(template, system, params, license, messages) and the config blob are
stored, and the manifest is written last. Blobs that only the replaced
manifest of the same name used are pruned afterwards.
"""

from __future__ import annotations

import contextlib
import json
import platform
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from app.chat_templates import NO_TEMPLATE_NOTE, has_chat_template
from app.models.digests import parse_digest
from app.models.errors import BadRequest, BlobNotFound, ModelNotFound, NotGGUF
from app.models.gguf_meta import capabilities, describe, is_gguf, is_projector, read_gguf
from app.models.names import ModelName, parse_name
from app.models.show import check_landed_blob
from app.models.store import (
    CONFIG_MEDIA_TYPE,
    MEDIA_PREFIX,
    Layer,
    ModelStore,
    build_manifest,
)
from app.options import validate_options

REPLACEABLE = ("template", "prompt", "system", "params", "license", "messages")
"""Small layers a request may replace; ``prompt`` is the old name of ``template``."""


def _media(kind: str) -> str:
    return MEDIA_PREFIX + kind


def _check_files(store: ModelStore, files: Any, what: str) -> list[tuple[str, str]]:
    if not isinstance(files, dict):
        raise BadRequest(f"{what} must be an object of file name to digest")
    checked = []
    for file_name, digest in files.items():
        path = PurePosixPath(str(file_name))
        if (
            not isinstance(file_name, str)
            or not file_name
            or path.is_absolute()
            or "\\" in file_name
            or "\x00" in file_name
            or any(part in {"..", ""} for part in file_name.split("/"))
        ):
            raise BadRequest("file path must be relative")
        canonical = parse_digest(digest)
        if not store.has_blob(canonical):
            raise BlobNotFound(f'blob "{canonical}" not found: upload it with /api/blobs first')
        checked.append((str(file_name), canonical))
    return checked


def _messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list):
        raise BadRequest("messages must be a list")
    cleaned = []
    for message in messages:
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise BadRequest("each message needs a string role and content")
        cleaned.append({"role": message["role"], "content": message["content"]})
    return cleaned


def create_model(
    store: ModelStore,
    name: ModelName,
    *,
    files: dict[str, str] | None = None,
    from_: str | None = None,
    template: str | None = None,
    system: str | None = None,
    parameters: dict[str, Any] | None = None,
    license: str | list[str] | None = None,
    messages: list[Any] | None = None,
    adapters: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Validate, then write layers and the manifest, yielding Ollama's status lines."""
    if not files and not from_:
        raise BadRequest("neither 'from' or 'files' was specified")
    # -- validate everything before touching the store ---------------
    base_layers: list[Layer] = []
    base_params: dict[str, Any] = {}
    statuses: list[dict[str, Any]] = []
    if from_:
        if not isinstance(from_, str):
            raise BadRequest("from must be a model name")
        try:
            base = store.read_manifest(parse_name(from_))
        except ModelNotFound:
            raise ModelNotFound(f"model '{from_}' not found") from None
        base_layers = [layer for layer in base.layers if layer.kind not in REPLACEABLE]
        params_layer = base.layer("params")
        if params_layer is not None:
            loaded = store.read_blob_json(params_layer.digest)
            base_params = validate_options(loaded, lenient=True) if isinstance(loaded, dict) else {}
        # Unreplaced small layers carry over from the base; params are merged below.
        for layer in base.layers:
            if (
                layer.kind in REPLACEABLE
                and layer.kind != "params"
                and not _given(layer.kind, template, system, license, messages)
            ):
                base_layers.append(layer)
    if files:
        statuses.append({"status": "parsing GGUF"})
        model_layers = []
        for _file_name, digest in _check_files(store, files, "files"):
            path = store.blob_path(digest)
            if not is_gguf(path):
                raise NotGGUF()
            metadata, _ = read_gguf(path, keep_arrays=0)
            kind = "projector" if is_projector(metadata) else "model"
            model_layers.append(Layer(_media(kind), digest, path.stat().st_size))
        count = sum(layer.kind == "model" for layer in model_layers)
        if count == 0:
            raise BadRequest("no model GGUF among the files")
        if count > 1:
            raise BadRequest("only one model GGUF is supported (split GGUF files are not)")
        base_layers = [layer for layer in base_layers if layer.kind not in {"model", "projector"}]
        base_layers = model_layers + base_layers
    if adapters:
        if len(adapters) > 1:
            raise BadRequest("only one adapter is supported")
        for _file_name, digest in _check_files(store, adapters, "adapters"):
            if not is_gguf(store.blob_path(digest)):
                raise NotGGUF("adapter was not in GGUF format")
            base_layers.append(
                Layer(_media("adapter"), digest, store.blob_path(digest).stat().st_size)
            )
    if template is not None and not isinstance(template, str):
        raise BadRequest("template must be a string")
    if system is not None and not isinstance(system, str):
        raise BadRequest("system must be a string")
    if parameters is not None and not isinstance(parameters, dict):
        raise BadRequest("parameters must be an object")
    merged_params = {**base_params, **validate_options(parameters or {})}
    licenses = [license] if isinstance(license, str) else license
    if licenses is not None and (
        not isinstance(licenses, list) or not all(isinstance(text, str) for text in licenses)
    ):
        raise BadRequest("license must be a string or a list of strings")
    seed_messages = _messages(messages) if messages is not None else None
    model_layer = next((layer for layer in base_layers if layer.kind == "model"), None)
    if model_layer is None:
        raise BadRequest(f"model '{from_}' has no model layer to build on")
    if not store.has_blob(model_layer.digest):
        raise BlobNotFound(f"blob \"{model_layer.digest}\" of model '{from_}' is missing")
    metadata, tensors = read_gguf(store.blob_path(model_layer.digest), keep_arrays=0)
    statuses += _template_warning(metadata, template, base_layers)

    # -- write --------------------------------------------------------
    # The layers taken from the base model, and each new one, stay held until
    # the manifest is written: a delete meanwhile cannot prune them.
    with contextlib.ExitStack() as holds:
        holds.enter_context(store.hold(layer.digest for layer in base_layers))
        yield from statuses
        for layer in base_layers:
            yield {"status": f"using existing layer {layer.digest}"}
        layers = list(base_layers)
        new_small: list[tuple[str, bytes]] = []
        if template:
            new_small.append(("template", template.encode()))
        if system:
            new_small.append(("system", system.encode()))
        if merged_params:
            new_small.append(("params", json.dumps(merged_params).encode()))
        for text in licenses or []:
            new_small.append(("license", text.encode()))
        if seed_messages:
            new_small.append(("messages", json.dumps(seed_messages).encode()))
        for kind, data in new_small:
            digest = store.write_blob([data])
            holds.enter_context(store.hold([digest]))
            layers.append(Layer(_media(kind), digest, len(data)))
            yield {"status": f"creating new layer {digest}"}
        details = describe(metadata, tensors)
        config = {
            "model_format": "gguf",
            "model_family": details["family"],
            "model_families": details["families"],
            "model_type": details["parameter_size"],
            "file_type": details["quantization_level"],
            "architecture": _go_arch(),
            "os": platform.system().lower(),
        }
        config_bytes = json.dumps(config).encode()
        config_digest = store.write_blob([config_bytes])
        holds.enter_context(store.hold([config_digest]))
        yield {"status": "writing manifest"}
        try:
            old_digests = store.read_manifest(name).digests()
        except ModelNotFound:
            old_digests = set()
        raw = build_manifest(Layer(CONFIG_MEDIA_TYPE, config_digest, len(config_bytes)), layers)
        manifest = store.write_manifest(name, raw)
        if old_digests:
            store.prune_blobs(old_digests - manifest.digests())
        yield {"status": "success"}


def _template_warning(
    metadata: dict[str, Any], template: str | None, layers: list[Layer]
) -> list[dict[str, Any]]:
    """Ollama-style status line for a chat model with no template anywhere."""
    kept = any(layer.kind in {"template", "prompt"} for layer in layers)
    if kept or has_chat_template(template, metadata):
        return []
    if "embedding" in capabilities(metadata, False, None):
        return []
    return [{"status": f"warning: {NO_TEMPLATE_NOTE}"}]


def _given(kind: str, template: Any, system: Any, license: Any, messages: Any) -> bool:
    """Whether the request replaces the base model's layer of ``kind``."""
    given = {
        "template": template,
        "prompt": template,
        "system": system,
        "license": license,
        "messages": messages,
    }
    return given[kind] is not None


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def import_gguf(
    store: ModelStore, path: Path, name: ModelName, projector: Path | None = None
) -> Iterator[dict[str, Any]]:
    """``hearth import FILE.gguf NAME [--mmproj PROJECTOR.gguf]``: check, store the blobs,
    create the model (with a projector layer, which makes it a vision model)."""
    _check_import(path, want_projector=False)
    if projector is not None:
        _check_import(projector, want_projector=True)
    yield {"status": "copying file"}
    digests: list[str] = []
    try:
        digest = store.import_file(path)
        digests.append(digest)
        check_landed_blob(store, digest)  # its header, read once, is cached for listing
        files = {path.name: digest}
        if projector is not None:
            yield {"status": "copying projector"}
            projector_digest = store.import_file(projector)
            digests.append(projector_digest)
            check_landed_blob(store, projector_digest)
            # Two files of one name (model/x.gguf, mmproj/x.gguf) stay two files.
            files[f"projector/{projector.name}"] = projector_digest
        yield from create_model(store, name, files=files)
    except BaseException:
        # Whatever made create refuse, the copies must not stay behind unreferenced.
        store.prune_blobs(set(digests))
        raise


def _check_import(path: Path, want_projector: bool) -> None:
    """A truncated or corrupt header, or a GGUF of the wrong kind, fails before copying."""
    if not path.is_file():
        raise BadRequest(f"no such file: {path}")
    if not is_gguf(path):
        raise NotGGUF(f"{path} is not a GGUF file")
    metadata, _ = read_gguf(path, keep_arrays=0)
    if is_projector(metadata) and not want_projector:
        raise BadRequest(f"{path} is a vision projector, not a model: import the model GGUF")
    if want_projector and not is_projector(metadata):
        raise BadRequest(f"{path} is not a vision projector (mmproj) GGUF")
