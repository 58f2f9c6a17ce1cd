"""The llama-server client against a fake llama-server (``tests/fake_llama_server.py``).

What is shown here is the client's own work, in milliseconds: SSE parsed
into pieces, refusals and broken connections turned into Hearth's errors
with their exact words, and a stream's socket closed the moment the stream
is. The same client against the real llama-server is what the generation
tests drive.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from app.runner.abort import Abort, ClientGone
from app.runner.errors import RunnerError, UpstreamRejected
from app.runner.llama_client import ChatPiece, CompletionPiece, Embeddings, LlamaClient
from tests.fake_llama_server import FakeLlamaServer, error_body, refused_port, server_at

CHAT = "/v1/chat/completions"
BODY = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
EXITED = (
    "model runner has unexpectedly stopped: llama-server exited with status 3 while"
    " answering. It is started again for the next request; its log may say why."
)
TIMINGS = {"prompt_n": 5, "prompt_ms": 1.5, "predicted_n": 3, "predicted_ms": 2.5}


def delta(**fields: Any) -> dict[str, Any]:
    """One chat chunk as llama-server streams it."""
    choice = {"index": 0, "finish_reason": fields.pop("finish_reason", None), "delta": fields}
    return {"object": "chat.completion.chunk", "choices": [choice]}


class Broken:
    """Counts ``on_broken`` calls (the lease being marked failed)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def fake() -> Iterator[FakeLlamaServer]:
    with FakeLlamaServer() as server:
        yield server


@pytest.fixture
def broken() -> Broken:
    return Broken()


@pytest.fixture
def client(fake: FakeLlamaServer, broken: Broken) -> LlamaClient:
    return LlamaClient(fake.llama_server(), broken)


def test_a_chat_stream_is_parsed_into_pieces(fake: FakeLlamaServer, client: LlamaClient) -> None:
    fake.answer(
        CHAT,
        events=[
            delta(role="assistant", content=None),
            delta(reasoning_content="Hm"),
            ": ping",
            delta(content="Hel"),
            delta(content="lo"),
            delta(
                tool_calls=[
                    {"index": 0, "id": "c1", "function": {"name": "w", "arguments": '{"ci'}}
                ]
            ),
            delta(tool_calls=[{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]),
            delta(finish_reason="tool_calls"),
            {"choices": [], "usage": {"prompt_tokens": 5}, "timings": TIMINGS},
            "data: [DONE]",
            delta(content="after the end"),
        ],
    )
    pieces = list(client.chat_stream(BODY))
    call = {"function": {"index": 0, "name": "w", "arguments": {"city": "Paris"}}, "id": "c1"}
    assert pieces == [
        ChatPiece("", "Hm", [], [], None),
        ChatPiece("Hel", "", [], [], None),
        ChatPiece("lo", "", [], [], None),
        ChatPiece("", "", [], [call], {"finish_reason": "tool_calls", "timings": TIMINGS}),
    ]
    assert fake.seen[0].path == CHAT and fake.seen[0].body == BODY
    assert fake.seen[0].headers["Authorization"] == f"Bearer {client.server.api_key}"


def test_chat_logprobs_come_in_ollamas_shape(fake: FakeLlamaServer, client: LlamaClient) -> None:
    alternative = {"id": 2, "token": "Hey", "bytes": [72, 101, 121], "logprob": -1.5}
    token = {"id": 1, "token": "Hi", "bytes": [72, 105], "logprob": -0.5}
    chunk = delta(content="Hi")
    chunk["choices"][0]["logprobs"] = {"content": [{**token, "top_logprobs": [token, alternative]}]}
    fake.answer(CHAT, events=[chunk, delta(finish_reason="stop"), "data: [DONE]"])
    first = next(iter(client.chat_stream(BODY, top=1)))
    plain = {"token": "Hi", "logprob": -0.5, "bytes": [72, 105]}
    assert first.logprobs == [{**plain, "top_logprobs": [plain]}]


def test_a_completion_stream_ends_at_the_stop_event(
    fake: FakeLlamaServer, client: LlamaClient
) -> None:
    probs = [{"id": 1, "token": "Hi", "bytes": [72, 105], "logprob": -0.25, "top_logprobs": []}]
    final = {"content": "", "stop": True, "stop_type": "eos", "timings": TIMINGS}
    fake.answer(
        "/completion",
        events=[
            {"content": "Hi", "stop": False, "completion_probabilities": probs},
            {"content": "!", "stop": False},
            final,
            {"content": "never read", "stop": False},
        ],
    )
    assert list(client.completion_stream({"prompt": "x"}, logprobs=0)) == [
        CompletionPiece("Hi", [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105]}], None),
        CompletionPiece("!", None, None),
        CompletionPiece("", None, final),
    ]
    assert [piece.logprobs for piece in client.completion_stream({"prompt": "x"})] == [None] * 3


def test_infill_streams_from_its_own_path(fake: FakeLlamaServer, client: LlamaClient) -> None:
    fake.answer("/infill", events=[{"content": "mid", "stop": True, "stop_type": "limit"}])
    pieces = list(client.infill_stream({"input_prefix": "a", "input_suffix": "b"}))
    assert [(p.text, p.final is not None) for p in pieces] == [("mid", False), ("", True)]
    assert fake.seen[0].path == "/infill"


def test_a_context_overflow_is_rejected_with_its_words_and_kind(
    fake: FakeLlamaServer, client: LlamaClient, broken: Broken
) -> None:
    message = (
        "request (3024 tokens) exceeds the available context size (2048 tokens), try increasing it"
    )
    body = error_body(400, message, "exceed_context_size_error", n_prompt_tokens=3024, n_ctx=2048)
    fake.answer(CHAT, status=400, body=body)
    with pytest.raises(UpstreamRejected) as caught:
        next(iter(client.chat_stream(BODY)))
    assert str(caught.value) == message
    assert (caught.value.status, caught.value.kind) == (400, "exceed_context_size_error")
    assert broken.count == 0


def test_a_refusal_s_words_lose_llama_server_s_trailing_space(
    fake: FakeLlamaServer, client: LlamaClient
) -> None:
    """llama-server's infill refusal ends in a space; a person reads the message as sent."""
    message = "Infill is not supported by this model: prefix token is missing. "
    fake.answer("/infill", status=501, body=error_body(501, message, "not_supported_error"))
    with pytest.raises(UpstreamRejected) as caught:
        next(iter(client.infill_stream({"input_prefix": "a", "input_suffix": "b"})))
    assert str(caught.value) == message.strip()


def test_a_plain_text_500_is_its_text_and_a_dead_runner_is_broken(
    fake: FakeLlamaServer, client: LlamaClient, broken: Broken
) -> None:
    fake.answer("/completion", status=500, text="  Compute error.\n")
    with pytest.raises(UpstreamRejected) as caught:
        next(iter(client.completion_stream({"prompt": "x"})))
    assert (str(caught.value), caught.value.status, caught.value.kind) == (
        "Compute error.",
        500,
        "",
    )
    assert broken.count == 1  # the fake's "process" has exited


def test_a_500_that_is_the_requests_fault_is_a_400_and_leaves_the_runner(
    fake: FakeLlamaServer, broken: Broken
) -> None:
    server = fake.llama_server()
    server.alive = lambda: True  # type: ignore[method-assign]
    message = "Infill is not supported by this model"
    fake.answer("/infill", status=501, body=error_body(501, message, "not_supported_error"))
    with pytest.raises(UpstreamRejected) as caught:
        next(iter(LlamaClient(server, broken).infill_stream({})))
    assert (str(caught.value), caught.value.status) == (message, 400)
    assert broken.count == 0


def test_a_refused_connection_is_a_runner_error_that_says_how_it_ended(broken: Broken) -> None:
    client = LlamaClient(server_at(refused_port()), broken)
    with pytest.raises(RunnerError) as caught:
        next(iter(client.chat_stream(BODY)))
    assert str(caught.value) == EXITED
    assert broken.count == 1
    with pytest.raises(RunnerError, match="^model runner has unexpectedly stopped"):
        client.embeddings(["x"], truncate=True)


@pytest.mark.parametrize("cut", [True, False], ids=["connection-dropped", "ended-unfinished"])
def test_a_stream_that_breaks_off_is_a_runner_error(
    fake: FakeLlamaServer, client: LlamaClient, broken: Broken, cut: bool
) -> None:
    fake.answer(CHAT, events=[delta(content="Hel")], cut=cut)
    pieces = client.chat_stream(BODY)
    assert next(pieces).content == "Hel"
    with pytest.raises(RunnerError) as caught:
        next(pieces)
    assert str(caught.value) == EXITED
    assert broken.count == 1


def test_an_error_line_in_a_stream_is_its_words(
    fake: FakeLlamaServer, client: LlamaClient, broken: Broken
) -> None:
    fake.answer("/completion", events=["error: slot went away"])
    with pytest.raises(RunnerError, match="^slot went away$"):
        list(client.completion_stream({"prompt": "x"}))
    assert broken.count == 0


@pytest.mark.parametrize("path", [CHAT, "/completion"])
def test_an_error_event_after_the_stream_began_is_its_words(
    fake: FakeLlamaServer, client: LlamaClient, broken: Broken, path: str
) -> None:
    """Spec 3.9: a late error is one ``data: {"error": ...}`` event, then the end, no [DONE]."""
    late = error_body(500, "Context size has been exceeded.", "server_error")
    first = delta(content="Hel") if path == CHAT else {"content": "Hel", "stop": False}
    fake.answer(path, events=[first, late], cut=False)
    pieces = client.chat_stream(BODY) if path == CHAT else client.completion_stream({})
    next(pieces)
    with pytest.raises(RunnerError, match=r"^Context size has been exceeded\.$"):
        next(pieces)
    assert broken.count == 0  # llama-server said why: it is not a broken runner


def test_a_stream_closed_early_closes_its_socket_at_once(
    fake: FakeLlamaServer, client: LlamaClient
) -> None:
    """The fake holds the stream open until the client's socket closes, as llama-server does.

    The ``Abort`` keeps a reference to the response (its cut hook), so only
    an explicit close can close the socket here, not the garbage collector.
    """
    fake.answer(CHAT, events=[delta(content="Hel")], hold=True)
    abort = Abort()
    pieces = client.chat_stream(BODY, abort)
    assert next(pieces).content == "Hel"  # given while the server still holds the stream
    assert not fake.client_left.is_set()
    pieces.close()  # type: ignore[attr-defined]
    assert fake.client_left.wait(2)


def test_an_abort_cuts_a_stream_blocked_on_a_silent_server(
    fake: FakeLlamaServer, client: LlamaClient, broken: Broken
) -> None:
    fake.answer("/completion", events=[{"content": "a", "stop": False}], hold=True)
    abort = Abort()
    pieces = client.completion_stream({"prompt": "x"}, abort)
    assert next(pieces).text == "a"
    threading.Thread(target=lambda: fake.streaming.wait(2) and abort.set()).start()
    with pytest.raises(ClientGone):
        next(pieces)  # blocked reading until the abort shuts the socket
    assert fake.client_left.wait(2)
    assert broken.count == 0


def test_a_client_gone_before_the_request_sends_nothing(
    fake: FakeLlamaServer, client: LlamaClient
) -> None:
    abort = Abort()
    abort.set()
    with pytest.raises(ClientGone):
        next(iter(client.chat_stream(BODY, abort)))
    assert fake.seen == []


def test_tokenize_and_apply_template(fake: FakeLlamaServer, client: LlamaClient) -> None:
    fake.answer("/tokenize", body={"tokens": [2, 9, 14]})
    fake.answer("/apply-template", body={"prompt": "<user>hi"})
    assert client.tokenize("hi", add_special=True, parse_special=False) == [2, 9, 14]
    assert fake.seen[-1].body == {"content": "hi", "add_special": True, "parse_special": False}
    template_body = {**BODY, "tools": [], "chat_template_kwargs": {"x": 1}, "n_predict": 5}
    assert client.apply_template(template_body) == "<user>hi"
    assert fake.seen[-1].body == {
        "messages": BODY["messages"],
        "tools": [],
        "chat_template_kwargs": {"x": 1},
    }


def test_a_failed_template_or_count_is_a_runner_error_that_leaves_the_runner(
    fake: FakeLlamaServer, client: LlamaClient, broken: Broken
) -> None:
    fake.answer("/tokenize", body={"no tokens": []})
    with pytest.raises(RunnerError, match="^llama-server could not tokenize: 'tokens'$"):
        client.tokenize("hi", add_special=False, parse_special=False)
    with pytest.raises(RunnerError) as caught:
        client.apply_template(BODY)  # no route: the fake answers 404
    assert str(caught.value).startswith(
        "llama-server could not apply the chat template: 404 Client Error"
    )
    assert broken.count == 0


def test_embeddings_come_in_input_order(fake: FakeLlamaServer, client: LlamaClient) -> None:
    data = [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]
    fake.answer("/v1/embeddings", body={"data": data, "usage": {"prompt_tokens": 4}})
    assert client.embeddings(["a", "b"], truncate=False) == Embeddings([[1.0, 0.0], [0.0, 1.0]], 4)
    assert fake.seen[-1].body == {"input": ["a", "b"], "encoding_format": "float"}
    client.embeddings(["a"], truncate=True)
    assert fake.seen[-1].body["truncate"] is True


@pytest.mark.parametrize("answer", [[[0.5, 2.0]], [0.5, 2.0]], ids=["pooled", "flat"])
def test_the_legacy_embedding_is_one_vector(
    fake: FakeLlamaServer, client: LlamaClient, answer: list[Any]
) -> None:
    fake.answer("/embedding", body=[{"index": 0, "embedding": answer}])
    assert client.embedding("a") == [0.5, 2.0]
    assert fake.seen[-1].body == {"content": "a", "embd_normalize": -1}
