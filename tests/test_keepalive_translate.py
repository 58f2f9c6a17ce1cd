"""Pure translation rules: keep_alive values, options, formats, metrics."""

from __future__ import annotations

import math

import pytest

from app.keep_alive import parse_keep_alive
from app.models.errors import BadRequest
from app.runner.translate import (
    chat_messages,
    done_reason,
    format_body,
    metrics,
    now_rfc3339,
    sampling_body,
    tool_call_in,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 300.0),
        (0, 0.0),
        (0.5, 0.5),
        (10, 10.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("300ms", 0.3),
        ("10s", 10.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        (-1, math.inf),
        ("-1m", math.inf),
    ],
)
def test_keep_alive_values(value: object, seconds: float) -> None:
    assert parse_keep_alive(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["300", "5d", "abc", "", True, [], {}])
def test_keep_alive_invalid(value: object) -> None:
    with pytest.raises(BadRequest):
        parse_keep_alive(value)


def test_sampling_defaults_are_ollamas() -> None:
    body = sampling_body({}, 4096)
    assert body["temperature"] == 0.8 and body["top_k"] == 40 and body["top_p"] == 0.9
    assert body["n_predict"] == 40960  # bounded "until stop"
    tuned = sampling_body({"num_predict": 5, "stop": "END", "repeat_last_n": -1}, 2048)
    assert tuned["n_predict"] == 5 and tuned["stop"] == ["END"]
    assert tuned["repeat_last_n"] == 2048


def test_formats() -> None:
    assert format_body(None) == {} and format_body("") == {}
    assert format_body("json") == {"response_format": {"type": "json_object"}}
    schema = {"type": "object"}
    assert format_body(schema)["response_format"]["json_schema"]["schema"] == schema
    with pytest.raises(BadRequest):
        format_body("yaml")


def test_chat_messages_translation() -> None:
    converted = chat_messages(
        [
            {"role": "User", "content": "hi", "images": ["aGVsbG8="]},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}],
            },
            {"role": "tool", "content": "42", "tool_name": "f"},
        ]
    )
    assert converted[0]["role"] == "user"
    assert converted[0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert converted[1]["tool_calls"][0]["function"]["arguments"] == '{"x": 1}'
    assert converted[2]["name"] == "f"
    with pytest.raises(BadRequest):
        chat_messages([{"role": "robot", "content": "x"}])
    with pytest.raises(BadRequest):
        chat_messages([{"role": "user", "content": 5}])


def test_tool_call_arguments_become_objects() -> None:
    call = tool_call_in({"index": 0, "name": "get", "arguments": '{"city": "Oslo"}', "id": "c1"})
    assert call == {
        "function": {"index": 0, "name": "get", "arguments": {"city": "Oslo"}},
        "id": "c1",
    }


def test_metrics_and_done_reason() -> None:
    timings = {"cache_n": 2, "prompt_n": 3, "prompt_ms": 1.5, "predicted_n": 4, "predicted_ms": 20}
    values = metrics(timings, total_ns=10, load_ns=0)
    assert values == {
        "total_duration": 10,
        "prompt_eval_count": 5,
        "prompt_eval_duration": 1_500_000,
        "eval_count": 4,
        "eval_duration": 20_000_000,
    }
    assert done_reason("length") == "length" and done_reason("stop") == "stop"
    assert done_reason(None, "limit") == "length"
    assert now_rfc3339().endswith("Z") and len(now_rfc3339().split(".")[1]) == 7
