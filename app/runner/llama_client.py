"""Every HTTP exchange with one llama-server, and the one place its failures get words.

Why one module: the Ollama-shaped orchestration (``app.runner.generation``)
should not know that llama-server speaks SSE, that a refusal comes as
``{"error": {"message", "type"}}``, or how ``requests`` says a socket broke.
Here each of those is turned once into Hearth's errors:

- llama-server refusing a request (a status other than 200):
  :class:`UpstreamRejected`, with llama-server's message and error type;
- the connection failing or a stream breaking off: :class:`RunnerError`
  with what happened to the process (``app.runner.crash_words``), or
  :class:`ClientGone` when the break was our own cut for a client that left;
- a small request (template, tokens) that got no usable answer:
  :class:`RunnerError`, which callers that can do without catch.

Streams are generators that send nothing until first advanced and hold
one response at a time: nothing buffers a whole answer, and closing one
closes the connection at once, which makes llama-server stop the slot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from app.runner.abort import Abort, ClientGone, cut_upstream
from app.runner.crash_words import crash_message
from app.runner.errors import RunnerError, UpstreamRejected
from app.runner.process import LlamaServer
from app.runner.translate import logprobs_in, tool_call_in

UPSTREAM_TIMEOUT = (10, 3600)
"""(connect, between two reads) seconds for a runner on this machine alone."""

Timeout = float | tuple[float, float]


@dataclass(frozen=True, slots=True)
class ChatPiece:
    """One step of a chat stream: a piece of the answer, or (``final`` set) its end."""

    content: str
    thinking: str
    logprobs: list[dict[str, Any]]
    """Ollama-shaped logprobs of this piece's tokens (empty unless asked for)."""
    tool_calls: list[dict[str, Any]]
    """The finished tool calls, Ollama-shaped: only on the final piece."""
    final: dict[str, Any] | None
    """``{"finish_reason", "timings"}`` on the last piece, else None."""


@dataclass(frozen=True, slots=True)
class CompletionPiece:
    """One step of a ``/completion`` or ``/infill`` stream: text, or (``final`` set) its end."""

    text: str
    logprobs: list[dict[str, Any]] | None
    """Ollama-shaped logprobs, only when asked for and llama-server sent some."""
    final: dict[str, Any] | None
    """llama-server's last event (``stop_type``, ``timings``), else None."""


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    """In the order of the inputs."""
    prompt_tokens: int


def _nothing() -> None:
    return None


class LlamaClient:
    """Speaks to one started llama-server through its ``requests`` session.

    ``on_broken`` runs when the runner proved broken (the connection failed,
    a stream broke off, a 5xx from a process that has exited): the caller
    uses it to stop handing the runner out (``Lease.mark_failed``).
    """

    def __init__(self, server: LlamaServer, on_broken: Callable[[], None] = _nothing) -> None:
        self.server = server
        self._on_broken = on_broken

    def chat_stream(
        self, body: dict[str, Any], abort: Abort | None = None, top: int = 0
    ) -> Generator[ChatPiece, None, None]:
        """``/v1/chat/completions`` streamed: answer pieces, then one final piece.

        ``top``: alternatives per token to pass on when the body asks for
        logprobs. Tool calls arrive in fragments; they are joined and given
        whole with the final piece.
        """
        calls: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        timings: dict[str, Any] | None = None
        with self._events("/v1/chat/completions", body, abort) as events:
            for event in events:
                if "timings" in event:
                    timings = event["timings"]
                for choice in event.get("choices") or ():
                    piece = _chat_choice(choice, calls, top)
                    if piece is not None:
                        yield piece
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        if finish is None:
            raise self._broken(EOFError("stream ended early"), abort)
        finished_calls = [tool_call_in(calls[i]) for i in sorted(calls)]
        yield ChatPiece("", "", [], finished_calls, {"finish_reason": finish, "timings": timings})

    def completion_stream(
        self, body: dict[str, Any], abort: Abort | None = None, logprobs: int | None = None
    ) -> Generator[CompletionPiece, None, None]:
        """``/completion`` streamed: text pieces, then one final piece.

        ``logprobs``: the request's logprobs (None: not asked for; else the
        alternatives per token).
        """
        return self._native_stream("/completion", body, abort, logprobs)

    def infill_stream(
        self, body: dict[str, Any], abort: Abort | None = None, logprobs: int | None = None
    ) -> Generator[CompletionPiece, None, None]:
        """``/infill`` (fill-in-the-middle) streamed, as :meth:`completion_stream`."""
        return self._native_stream("/infill", body, abort, logprobs)

    def tokenize(
        self,
        content: str,
        *,
        add_special: bool,
        parse_special: bool,
        timeout: Timeout | None = None,
    ) -> list[int]:
        """Token ids of ``content`` by the model's own tokenizer; RunnerError when it cannot say."""
        body = {"content": content, "add_special": add_special, "parse_special": parse_special}
        try:
            return [int(token) for token in self._json("/tokenize", body, timeout)["tokens"]]
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            raise RunnerError(f"llama-server could not tokenize: {error}") from error

    def apply_template(self, body: dict[str, Any]) -> str:
        """A chat body's messages in the model's template, as llama-server renders them.

        Only the fields the template sees are sent (messages, tools, the
        template's keyword arguments). RunnerError when it cannot.
        """
        wanted = ("messages", "tools", "chat_template_kwargs")
        fields = {key: body[key] for key in wanted if key in body}
        try:
            return str(self._json("/apply-template", fields)["prompt"])
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            raise RunnerError(f"llama-server could not apply the chat template: {error}") from error

    def embeddings(self, inputs: list[str], truncate: bool) -> Embeddings:
        """``/v1/embeddings``: llama-server's L2-normalised vectors, in input order."""
        body: dict[str, Any] = {"input": inputs, "encoding_format": "float"}
        if truncate:
            body["truncate"] = True
        result = self._post_json("/v1/embeddings", body)
        data = sorted(result["data"], key=lambda d: d["index"])
        tokens = int(result.get("usage", {}).get("prompt_tokens", 0))
        return Embeddings([item["embedding"] for item in data], tokens)

    def embedding(self, content: str) -> list[float]:
        """Legacy ``/embedding``: one vector, not normalised."""
        result = self._post_json("/embedding", {"content": content, "embd_normalize": -1})
        vector = result[0]["embedding"]
        if vector and isinstance(vector[0], list):  # pooled result comes as [[...]]
            vector = vector[0]
        return vector

    def _native_stream(
        self, path: str, body: dict[str, Any], abort: Abort | None, logprobs: int | None
    ) -> Generator[CompletionPiece, None, None]:
        """A native stream, up to llama-server's ``stop`` event (it sends no ``[DONE]``)."""
        final: dict[str, Any] | None = None
        with self._events(path, body, abort) as events:
            for event in events:
                stop = bool(event.get("stop"))
                text = event.get("content", "")
                if text or not stop:
                    yield CompletionPiece(text, _completion_logprobs(event, logprobs), None)
                if stop:
                    final = event
                    break
        if final is None:
            raise self._broken(EOFError("stream ended early"), abort)
        yield CompletionPiece("", None, final)

    def _post(
        self, path: str, body: dict[str, Any], stream: bool, abort: Abort | None = None
    ) -> requests.Response:
        """POST ``body``; a 200 response (its body unread when ``stream``), or the mapped error.

        With ``abort``, a client that leaves later cuts this response's socket.
        """
        if abort is not None and abort.is_set():
            raise ClientGone()
        server = self.server
        try:
            reply = server.session.post(
                f"{server.base_url}{path}", json=body, stream=stream, timeout=self._timeout()
            )
        except requests.RequestException as error:
            self._on_broken()
            raise RunnerError(crash_message(server, error)) from error
        if reply.status_code != 200:
            raise self._rejected(reply)
        if abort is not None:
            abort.on_abort(cut_upstream(reply))
        return reply

    @contextmanager
    def _events(
        self, path: str, body: dict[str, Any], abort: Abort | None
    ) -> Generator[Iterator[dict[str, Any]], None, None]:
        """A streamed POST's SSE events, for a ``with`` block that reads them.

        Why a context manager and not a generator: what the block does with
        an event (parse a choice, yield a piece) runs inside it too, so a
        break of the connection or a bad event there is the runner's error
        (:meth:`_broken`) alike, and the response is closed however the
        block ends: done, ``break``, or the consumer closing the stream.
        """
        reply = self._post(path, body, stream=True, abort=abort)
        try:
            yield _sse(reply)
        except (requests.RequestException, ValueError) as error:
            raise self._broken(error, abort) from error
        finally:
            reply.close()

    def _rejected(self, reply: requests.Response) -> UpstreamRejected:
        """llama-server's refusal: its ``{"error": {"message", "type"}}``, or the bare text."""
        text = reply.text
        reply.close()
        kind = ""
        try:
            error = json.loads(text)["error"]
            message, kind = str(error["message"]).strip(), str(error.get("type", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            message = text.strip() or f"llama-server answered {reply.status_code}"
        if reply.status_code >= 500 and not self.server.alive():
            self._on_broken()
        return UpstreamRejected(reply.status_code, message, kind)

    def _post_json(self, path: str, body: dict[str, Any]) -> Any:
        """A non-streamed POST with :meth:`_post`'s errors; its JSON answer."""
        reply = self._post(path, body, stream=False)
        try:
            return reply.json()
        finally:
            reply.close()

    def _json(self, path: str, body: dict[str, Any], timeout: Timeout | None = None) -> Any:
        """A small request whose failure only means "llama-server could not say".

        Why not :meth:`_post`: a failed template or token count must not
        mark the runner broken or wait for it to exit; callers that can do
        without the answer go on.
        """
        server = self.server
        reply = server.session.post(
            f"{server.base_url}{path}", json=body, timeout=timeout or self._timeout()
        )
        reply.raise_for_status()
        return reply.json()

    def _broken(self, error: BaseException, abort: Abort | None) -> Exception:
        """The error for a broken stream: our own cut, or a runner that failed."""
        if abort is not None and abort.is_set():
            return ClientGone()  # we cut it because the client left; the runner is fine
        self._on_broken()
        return RunnerError(crash_message(self.server, error))

    def _timeout(self) -> tuple[float, float]:
        """(connect, between two reads): a split model's runner gets the stall bound.

        Why: a worker that leaves the network without closing its connection
        (power cut, cable, Wi-Fi) leaves llama.cpp waiting on it for good;
        only the silence shows it. A runner on this machine alone keeps the
        hour, as before.
        """
        server = self.server
        if server.config.rpc and server.stall_timeout:
            return UPSTREAM_TIMEOUT[0], server.stall_timeout
        return UPSTREAM_TIMEOUT


def _chat_choice(
    choice: dict[str, Any], calls: dict[int, dict[str, Any]], top: int
) -> ChatPiece | None:
    """A chat choice's piece of answer, or None; its tool-call fragments go to ``calls``."""
    delta = choice.get("delta") or {}
    for call in delta.get("tool_calls") or ():
        _add_call_fragment(calls, call)
    content = delta.get("content") or ""
    thinking = delta.get("reasoning_content") or ""
    if not (content or thinking):
        return None
    probs = choice.get("logprobs")
    logprobs = logprobs_in(probs.get("content"), top) if probs else []
    return ChatPiece(content, thinking, logprobs, [], None)


def _add_call_fragment(calls: dict[int, dict[str, Any]], call: dict[str, Any]) -> None:
    """Join a streamed tool-call fragment to the call of its ``index``."""
    slot = calls.setdefault(int(call.get("index", 0)), {"arguments": ""})
    slot["index"] = int(call.get("index", 0))
    if call.get("id"):
        slot["id"] = call["id"]
    function = call.get("function") or {}
    if function.get("name"):
        slot["name"] = function["name"]
    slot["arguments"] += function.get("arguments") or ""


def _completion_logprobs(event: dict[str, Any], top: int | None) -> list[dict[str, Any]] | None:
    """A native event's logprobs in Ollama's shape; None when not asked for or none came."""
    probs = event.get("completion_probabilities")
    if top is None or not probs:
        return None
    return logprobs_in(probs, top)


def _sse(reply: requests.Response) -> Generator[dict[str, Any], None, None]:
    """Parsed ``data:`` events of an SSE stream, ending at ``[DONE]``.

    An error after the stream began comes as one ``data: {"error": {...}}``
    event and then the end (a KV pool that ran out, a compute error): its
    words, not a broken runner, since llama-server itself is fine and said why.
    """
    for line in reply.iter_lines(chunk_size=None):
        if not line or line[:1] == b":":
            continue
        if line.startswith(b"data: "):
            payload = line[6:]
            if payload == b"[DONE]":
                return
            event = json.loads(payload)
            if isinstance(event, dict) and event.get("error"):
                raise RunnerError(_late_error_words(event["error"]))
            yield event
        elif line.startswith(b"error: "):
            raise RunnerError(line[7:].decode("utf-8", "replace"))


def _late_error_words(error: Any) -> str:
    """llama-server's message from its error object (or a bare string)."""
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(error)
