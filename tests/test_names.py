"""Ollama's model-name grammar, defaults, display form and case rules."""

from __future__ import annotations

import pytest

from app.models.errors import InvalidName
from app.models.names import parse_name, same_model, valid_parts


@pytest.mark.parametrize(
    ("text", "canonical", "display"),
    [
        ("gemma3", "registry.ollama.ai/library/gemma3:latest", "gemma3:latest"),
        ("qwen3:0.6b", "registry.ollama.ai/library/qwen3:0.6b", "qwen3:0.6b"),
        ("jmorgan/grok", "registry.ollama.ai/jmorgan/grok:latest", "jmorgan/grok:latest"),
        (
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0",
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0",
            "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0",
        ),
        ("huggingface.co/u/r", "hf.co/u/r:latest", "hf.co/u/r:latest"),
        ("myreg.local:5000/team/m:v1", "myreg.local:5000/team/m:v1", "myreg.local:5000/team/m:v1"),
        ("Library/Gemma3:Latest", "registry.ollama.ai/Library/Gemma3:Latest", "Gemma3:Latest"),
    ],
)
def test_valid_names(text: str, canonical: str, display: str) -> None:
    name = parse_name(text)
    assert name.canonical == canonical
    assert name.display == display


@pytest.mark.parametrize(
    "text",
    [
        "",
        "m:",
        ":tag",
        "/n/m",
        "h//m",
        "-lead",
        "a/b/c/d",
        "../etc/passwd",
        "..",
        "library/..",
        "model:..",
        "m@sha256:abc",
        "host/na.me/model",
        "bad name",
        "a\\b",
        "nul\x00byte",
        "x" * 81,
        "ftp://host/ns/m",
        "host..evil/ns/m",
        "m:-tag",
        ".hidden",
        "m:.x",
        "ns/-m",
        "a:b:c",
        "h/ns/m:" + "t" * 81,
        "h" * 351 + "/ns/m",
        "ns" * 41 + "/m",
        "m/",
        "m:tag/",
        "modèle",
        "m\n",
        " m",
        "https://",
        "https:///ns/m",
    ],
)
def test_invalid_names(text: str) -> None:
    with pytest.raises(InvalidName):
        parse_name(text)


def test_case_insensitive_identity() -> None:
    assert same_model(parse_name("Gemma3:Latest"), parse_name("gemma3"))
    assert not same_model(parse_name("gemma3:1b"), parse_name("gemma3"))


def test_scheme_is_kept() -> None:
    assert parse_name("http://localhost:5000/ns/m:t").scheme == "http"


def test_longest_valid_parts() -> None:
    name = parse_name("h" * 350 + "/" + "n" * 80 + "/" + "m" * 80 + ":" + "t" * 80)
    assert name.manifest_parts == ("h" * 350, "n" * 80, "m" * 80, "t" * 80)


def test_valid_parts_guards_disk_names() -> None:
    assert valid_parts("registry.ollama.ai", "library", "gemma3", "latest")
    assert not valid_parts("registry.ollama.ai", "library", "gemma3", ".DS_Store")
    assert not valid_parts("..", "library", "gemma3", "latest")
    assert not valid_parts("registry.ollama.ai", "library", "gemma3", ".latest-1a2b-tmp")
