"""Plain types the rooms hand each other: a model's name and what it takes to run it.

Why a module of its own: the model library (``app.models``) makes these and
the runner (``app.runner``) consumes them; kept here, neither room imports
the other. Data and formatting only: parsing names and resolving a stored
model into a :class:`RunSpec` stay in ``app.models``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"


@dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str
    scheme: str = "https"

    @property
    def canonical(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def display(self) -> str:
        """Ollama's shortest form: default host and ``library`` are left out."""
        if self.host.lower() == DEFAULT_HOST:
            if self.namespace.lower() == DEFAULT_NAMESPACE:
                return f"{self.model}:{self.tag}"
            return f"{self.namespace}/{self.model}:{self.tag}"
        return self.canonical

    @property
    def manifest_parts(self) -> tuple[str, str, str, str]:
        return (self.host, self.namespace, self.model, self.tag)

    def folded(self) -> tuple[str, str, str, str]:
        """Case-insensitive identity, as Ollama matches names."""
        return tuple(part.lower() for part in self.manifest_parts)  # type: ignore[return-value]

    def __str__(self) -> str:
        return self.display


@dataclass
class RunSpec:
    """Everything the runner needs to serve one stored model.

    ``template`` is only an explicit template layer (the GGUF's own Jinja
    template is in ``metadata["tokenizer.chat_template"]``); ``metadata``
    has arrays longer than 5 replaced by empty lists to keep it small.
    """

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
    metadata: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    context_length_train: int | None = None
    is_embedding: bool = False
    size: int = 0
