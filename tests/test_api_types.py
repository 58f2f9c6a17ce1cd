"""The typed chat and generate requests: ``parse`` reads, each ``checked_*`` says what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from app.api_types import MAX_CONTEXT_TOKENS, ChatRequest, GenerateRequest
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
    assert request.checked_messages() == body["messages"]
    assert request.checked_options() == {"seed": 1}
    assert request.checked_tools() == body["tools"]
    assert request.checked_logprobs() == 3
    assert (request.format, request.think, request.keep_alive) == ("json", True, "5m")
    assert request.tool_choice == "auto"
    assert not request.wants_stream
    assert not request.truncates
    assert not request.has_images


def test_defaults_of_an_empty_chat() -> None:
    request = ChatRequest.parse({})
    assert request.wants_stream and request.truncates
    assert request.checked_messages() is None
    assert request.checked_options() == {}
    assert request.checked_tools() == []
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
    ("body", "check", "message"),
    [
        ({"messages": "hi"}, "checked_messages", "messages must be a list"),
        ({"options": [1]}, "checked_options", "options must be an object"),
        ({"tools": "x"}, "checked_tools", "tools must be a list"),
        ({"logprobs": "yes"}, "checked_logprobs", "logprobs must be true or false"),
        ({"top_logprobs": 21}, "checked_logprobs", "top_logprobs must be between 0 and 20"),
        ({"top_logprobs": True}, "checked_logprobs", "top_logprobs must be between 0 and 20"),
        ({"top_logprobs": -1}, "checked_logprobs", "top_logprobs must be between 0 and 20"),
    ],
)
def test_each_bad_chat_field_in_words(body: dict[str, Any], check: str, message: str) -> None:
    assert refusal(getattr(ChatRequest.parse(body), check)) == message


def test_parse_never_refuses() -> None:
    """The checks run where they always did (after the model is resolved), not at parse."""
    ChatRequest.parse({"messages": 1, "options": 2, "tools": 3, "logprobs": 4})
    GenerateRequest.parse({"prompt": 1, "suffix": 2, "context": 3, "raw": True, "system": "s"})


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
    assert request.checked_prompt() == "p"
    assert request.checked_suffix() == "s"
    assert request.checked_context() == [1, 2]
    assert request.system_text == "sys"
    assert request.template == "{{ .Prompt }}"
    assert not request.is_raw
    request.check_raw()
    assert GenerateRequest.parse({}).checked_prompt() == ""
    assert GenerateRequest.parse({}).checked_suffix() is None
    assert GenerateRequest.parse({}).checked_context() == []
    GenerateRequest.parse({"raw": True, "prompt": "p"}).check_raw()


@pytest.mark.parametrize(
    ("body", "check", "message"),
    [
        ({"prompt": 1}, "checked_prompt", "prompt must be a string"),
        ({"suffix": 1}, "checked_suffix", "suffix must be a string"),
        ({"context": "x"}, "checked_context", "context must be a list of token ids"),
        ({"context": [1, -1]}, "checked_context", "context must be a list of token ids"),
        ({"context": [True]}, "checked_context", "context must be a list of token ids"),
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
        ({"logprobs": 1}, "checked_logprobs", "logprobs must be true or false"),
    ],
)
def test_each_bad_generate_field_in_words(body: dict[str, Any], check: str, message: str) -> None:
    assert refusal(getattr(GenerateRequest.parse(body), check)) == message


def test_requests_are_frozen() -> None:
    request = ChatRequest.parse({"model": "m"})
    with pytest.raises(AttributeError):
        request.model = "other"  # type: ignore[misc]
