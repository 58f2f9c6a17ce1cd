"""Ollama's typed requests: ``parse`` refuses a value of the wrong JSON type, each
``checked_*`` what a type cannot say, both in words."""

from __future__ import annotations

from typing import Any

import pytest

from app.api_types import (
    MAX_CONTEXT_TOKENS,
    ChatRequest,
    CopyRequest,
    CreateRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    ModelRequest,
    PullRequest,
    ShowRequest,
)
from app.errors import BadRequest


def refusal(check: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        check()
    assert caught.value.status == 400
    return str(caught.value)


def test_a_valid_chat_is_read_field_by_field() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "format": "json",
        "think": True,
        "options": {"seed": 1},
        "keep_alive": "5m",
        "stream": False,
        "tools": [{"type": "function"}],
        "tool_choice": "auto",
        "truncate": False,
        "logprobs": True,
        "top_logprobs": 3,
    }
    request = ChatRequest.parse(body)
    assert request.model == "m"
    assert request.messages == body["messages"]
    assert request.checked_options() == {"seed": 1}
    assert request.tool_list == body["tools"]
    assert request.checked_logprobs() == 3
    assert (request.format, request.think, request.keep_alive) == ("json", True, "5m")
    assert request.tool_choice == "auto"
    assert not request.wants_stream
    assert not request.truncates
    assert not request.has_images


def test_defaults_of_an_empty_chat() -> None:
    request = ChatRequest.parse({})
    assert request.wants_stream and request.truncates
    assert request.messages is None
    assert request.checked_options() == {}
    assert request.tool_list == []
    assert request.checked_logprobs() is None
    assert ChatRequest.parse({"stream": None}).wants_stream is False


def test_system_absent_is_not_system_null() -> None:
    assert ChatRequest.parse({}).system_or("model's") == "model's"
    assert ChatRequest.parse({"system": None}).system_or("model's") is None
    assert ChatRequest.parse({"system": "mine"}).system_or("model's") == "mine"
    assert ChatRequest.parse({}).system_text is None


def test_images_in_the_request_or_a_message() -> None:
    assert ChatRequest.parse({"messages": [{"role": "user", "images": ["x"]}]}).has_images
    assert ChatRequest.parse({"images": ["x"]}).has_images
    assert GenerateRequest.parse({"images": ["x"]}).has_images


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": "hi"}, "messages must be a list"),
        ({"options": [1]}, "options must be an object"),
        ({"tools": "x"}, "tools must be a list"),
        ({"logprobs": "yes"}, "logprobs must be true or false"),
        ({"top_logprobs": True}, "top_logprobs must be an integer"),
        ({"top_logprobs": 1.5}, "top_logprobs must be an integer"),
        ({"stream": "no"}, "stream must be true or false"),
        ({"truncate": 0}, "truncate must be true or false"),
        ({"model": 7}, "model must be a string"),
        ({"system": ["s"]}, "system must be a string"),
        ({"images": "aGk="}, "images must be a list of strings"),
        ({"images": [1]}, "images must be a list of strings"),
    ],
)
def test_a_chat_field_of_the_wrong_type_is_refused_at_parse(
    body: dict[str, Any], message: str
) -> None:
    """As Ollama's decoder does: before the model is looked up or anything loads."""
    assert refusal(lambda: ChatRequest.parse({"model": "m", **body})) == message


@pytest.mark.parametrize("top", [21, -1])
def test_top_logprobs_out_of_range_in_words(top: int) -> None:
    request = ChatRequest.parse({"logprobs": True, "top_logprobs": top})
    assert refusal(request.checked_logprobs) == "top_logprobs must be between 0 and 20"


def test_null_is_a_value_of_every_optional_field() -> None:
    """Clients send null for "not set" (Open WebUI does); none of them is refused."""
    nulls = ("model", "options", "stream", "truncate", "images", "logprobs", "messages", "tools")
    request = ChatRequest.parse(dict.fromkeys(nulls))
    assert not request.wants_stream  # Ollama: a null stream does not stream
    assert request.truncates and request.checked_options() == {}
    GenerateRequest.parse(dict.fromkeys(("prompt", "suffix", "context", "raw", "template")))


def test_a_valid_generate_is_read_field_by_field() -> None:
    body = {
        "model": "m",
        "prompt": "p",
        "suffix": "s",
        "system": "sys",
        "template": "{{ .Prompt }}",
        "context": [1, 2],
        "images": ["x"],
    }
    request = GenerateRequest.parse(body)
    assert request.prompt_text == "p"
    assert request.suffix == "s"
    assert request.checked_context() == [1, 2]
    assert request.system_text == "sys"
    assert request.template == "{{ .Prompt }}"
    assert not request.is_raw
    request.check_raw()
    assert GenerateRequest.parse({}).prompt_text == ""
    assert GenerateRequest.parse({}).suffix is None
    assert GenerateRequest.parse({}).checked_context() == []
    GenerateRequest.parse({"raw": True, "prompt": "p"}).check_raw()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": 1}, "prompt must be a string"),
        ({"suffix": 1}, "suffix must be a string"),
        ({"template": {}}, "template must be a string"),
        ({"raw": "yes"}, "raw must be true or false"),
        ({"context": "x"}, "context must be a list of token ids"),
        ({"context": [True]}, "context must be a list of token ids"),
        ({"context": [1.5]}, "context must be a list of token ids"),
    ],
)
def test_a_generate_field_of_the_wrong_type_is_refused_at_parse(
    body: dict[str, Any], message: str
) -> None:
    assert refusal(lambda: GenerateRequest.parse(body)) == message


@pytest.mark.parametrize(
    ("body", "check", "message"),
    [
        ({"context": [1, -1]}, "checked_context", "context must be a list of token ids"),
        (
            {"context": [0] * (MAX_CONTEXT_TOKENS + 1)},
            "checked_context",
            "context is too long",
        ),
        (
            {"raw": True, "system": "s"},
            "check_raw",
            "raw mode does not support template, system, or context",
        ),
        (
            {"raw": True, "template": "t"},
            "check_raw",
            "raw mode does not support template, system, or context",
        ),
        (
            {"raw": True, "context": [1]},
            "check_raw",
            "raw mode does not support template, system, or context",
        ),
    ],
)
def test_each_bad_generate_field_in_words(body: dict[str, Any], check: str, message: str) -> None:
    assert refusal(getattr(GenerateRequest.parse(body), check)) == message


def test_embed_requests() -> None:
    embed = EmbedRequest.parse({"model": "e", "input": ["a", "b"], "dimensions": 4})
    assert (embed.checked_inputs(), embed.checked_dimensions(), embed.truncates) == (
        ["a", "b"],
        4,
        True,
    )
    assert EmbedRequest.parse({"input": "a"}).checked_inputs() == ["a"]
    assert EmbedRequest.parse({"input": ""}).checked_inputs() == []
    assert not EmbedRequest.parse({"truncate": False}).truncates
    assert refusal(EmbedRequest.parse({"input": [1]}).checked_inputs) == "invalid input type"
    for bad in (0, -3):
        request = EmbedRequest.parse({"dimensions": bad})
        assert refusal(request.checked_dimensions) == "dimensions must be a positive integer"
    for bad_type in (True, "4", 1.5):
        body = {"dimensions": bad_type}
        assert refusal(lambda b=body: EmbedRequest.parse(b)) == (
            "dimensions must be a positive integer"
        )
    assert EmbeddingsRequest.parse({"prompt": None}).prompt_text == ""
    assert refusal(lambda: EmbeddingsRequest.parse({"prompt": 3})) == "prompt must be a string"


def test_model_library_requests() -> None:
    """``model`` or the older ``name``; the library's own ``parse`` says when both are missing."""
    assert ModelRequest.parse({"name": "a"}).model_name == "a"
    assert ModelRequest.parse({"model": "b", "name": "a"}).model_name == "b"
    assert ModelRequest.parse({}).model_name is None
    assert ShowRequest.parse({"model": "a", "verbose": True}).is_verbose
    assert not ShowRequest.parse({"model": "a"}).is_verbose
    copy = CopyRequest.parse({"source": "a", "destination": "b"})
    assert (copy.source, copy.destination) == ("a", "b")
    pull = PullRequest.parse({"model": "a", "insecure": True, "stream": False})
    assert pull.allows_insecure and not pull.wants_stream
    assert refusal(lambda: PullRequest.parse({"model": "a", "insecure": "y"})) == (
        "insecure must be true or false"
    )
    assert refusal(lambda: CopyRequest.parse({"source": 1})) == "source must be a string"


def test_create_reads_from_and_refuses_what_hearth_does_not_do() -> None:
    create = CreateRequest.parse({"model": "new", "from": "base", "system": "s"})
    assert (create.model_name, create.from_, create.system) == ("new", "base", "s")
    create.check_supported()
    CreateRequest.parse(
        {"model": "new", "from": "base", "modelfile": "FROM base"}
    ).check_supported()
    modelfile_only = CreateRequest.parse({"model": "new", "modelfile": "FROM base"})
    assert "Modelfile form" in refusal(modelfile_only.check_supported)
    quantized = CreateRequest.parse({"model": "new", "from": "b", "quantize": "q4_K_M"})
    assert refusal(quantized.check_supported) == "quantize is not supported yet"


def test_requests_are_frozen() -> None:
    request = ChatRequest.parse({"model": "m"})
    with pytest.raises(AttributeError):
        request.model = "other"  # type: ignore[misc]
