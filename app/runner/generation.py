"""Chat, generate and embed on a leased llama-server, as Ollama streams them.

Each public function is a generator of Ollama response objects. All the
work that can fail before the first byte (loading the model, llama-server
rejecting the request) happens before the first ``yield``, so the HTTP edge
can still answer with a proper status. Closing the generator (a client that
went away) closes the upstream connection at once, which makes llama-server
stop generating for that slot.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import Iterator
from typing import Any

import requests

from app.errors import BadRequest
from app.runner import fit_context, ollama_prompt, templated, vision
from app.runner.abort import Abort, ClientGone, cut_upstream
from app.runner.errors import RunnerError, UpstreamRejected
from app.runner.process import LlamaServer, LlamaServerFailed, exit_words
from app.runner.scheduler import Lease, Scheduler
from app.runner.translate import (
    chat_messages,
    done_reason,
    format_body,
    logprobs_body,
    logprobs_in,
    logprobs_wanted,
    metrics,
    now_rfc3339,
    sampling_body,
    think_body,
    tool_call_in,
)
from app.runner.worker_plan import lost_workers
from app.spec import RunSpec

UPSTREAM_TIMEOUT = (10, 3600)
NOT_TRUNCATED = "truncate is false, so no older message was left out"
EXIT_WAIT = 20.0
"""Seconds a split model's runner may take to finish aborting before its workers are checked."""


def _lease(
    scheduler: Scheduler, spec: RunSpec, options: dict[str, Any], keep_alive: float
) -> Lease:
    try:
        return scheduler.lease(spec, options, keep_alive)
    except LlamaServerFailed as error:
        raise RunnerError(f"llama-server failed to start: {error}") from error


def _post(
    lease: Lease, path: str, body: dict[str, Any], stream: bool, abort: Abort | None = None
) -> requests.Response:
    if abort is not None and abort.is_set():
        raise ClientGone()
    server = lease.server
    try:
        reply = server.session.post(
            f"{server.base_url}{path}", json=body, stream=stream, timeout=_timeout(server)
        )
    except requests.RequestException as error:
        lease.mark_failed()
        raise RunnerError(_crash_message(lease, error)) from error
    if reply.status_code != 200:
        text = reply.text
        reply.close()
        kind = ""
        try:
            error = json.loads(text)["error"]
            message, kind = error["message"], str(error.get("type", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            message = text.strip() or f"llama-server answered {reply.status_code}"
        if reply.status_code >= 500 and not lease.server.alive():
            lease.mark_failed()
        raise UpstreamRejected(reply.status_code, message, kind)
    if abort is not None:
        abort.on_abort(cut_upstream(reply))
    return reply


def _upstream_failed(lease: Lease, error: Exception, abort: Abort | None) -> Exception:
    """The error for a broken llama-server stream: our own cut, or a runner that failed."""
    if abort is not None and abort.is_set():
        return ClientGone()  # we cut it because the client left; the runner is fine
    lease.mark_failed()
    return RunnerError(_crash_message(lease, error))


def _timeout(server: LlamaServer) -> tuple[float, float]:
    """(connect, between two reads): a split model's runner gets the stall bound.

    Why: a worker that leaves the network without closing its connection
    (power cut, cable, Wi-Fi) leaves llama.cpp waiting on it for good;
    only the silence shows it. A runner on this machine alone keeps the
    hour, as before.
    """
    if server.config.rpc and server.stall_timeout:
        return UPSTREAM_TIMEOUT[0], server.stall_timeout
    return UPSTREAM_TIMEOUT


def _timed_out(error: BaseException) -> bool:
    """A read timeout, however requests wraps it (``ReadTimeout`` or mid-stream)."""
    return isinstance(error, requests.Timeout) or "timed out" in str(error)


def _crash_message(lease: Lease, error: Exception) -> str:
    if lease.server.config.rpc and _timed_out(error):
        return _stalled_message(lease)
    lost = _lost_workers_message(lease)
    if lost:
        return lost
    server = lease.server
    if not server.wait_exit(CRASH_WAIT):
        return (
            "model runner stopped responding: the connection to llama-server broke while it"
            " was still running. It is restarted for the next request; its log may say why."
        )
    said = last_error_line(server.log_tail(LOG_LINES_SEARCHED))
    return (
        f"model runner has unexpectedly stopped: llama-server {exit_words(server.returncode)}"
        " while answering. It is started again for the next request"
        + (f"; its log says: {said}" if said else "; its log may say why")
        + "."
    )


CRASH_WAIT = 2.0
"""Seconds a broken stream waits for llama-server to exit, so the error can say how it ended.

Why wait: the stream breaks the moment the socket closes, a little before
the process is reaped; without the wait the error could only guess."""
LOG_LINES_SEARCHED = 20
ERROR_WORDS = re.compile(
    r"GGML_ASSERT|terminate called|\berror\b|\bfatal\b|\baborted\b|out of memory"
    r"|segmentation fault|failed to allocate",
    re.I,
)
NOT_AN_ERROR = re.compile(r"^\s*[\d.]+ [DIW] ")
"""A line llama.cpp logged as debug, info or a warning (``0.00.003.149 W srv ...``)."""


def last_error_line(tail: str) -> str:
    """The last line of a log tail that names an error (an assert, an abort), or "".

    Why one line: the error a person reads is words, not a page of log; the
    full log is one click away (``GET /api/v1/logs/llama-server``).
    """
    for line in reversed(tail.splitlines()):
        if ERROR_WORDS.search(line) and not NOT_AN_ERROR.match(line):
            return line.strip()[:240]
    return ""


RPC_ABORTS = ("Remote RPC server crashed", "Failed to connect to", "RPC handshake failed")
"""What the pinned llama.cpp says as it aborts when a worker is lost (``ggml-rpc.cpp``)."""


def _lost_workers_message(lease: Lease) -> str:
    """Name the workers a split model lost, or "": llama.cpp aborts when one stops answering.

    The workers are checked once the runner has exited (it prints a
    backtrace first, for a second or so): until then the ones still alive
    are held by it and would only answer "busy".
    """
    workers = lease.server.config.rpc
    if not workers:
        return ""
    lease.server.wait_exit(EXIT_WAIT)
    lost = [status for status in lost_workers(workers) if status.state != "busy"]
    if not lost:
        return ""
    names = "; ".join(status.describe() for status in lost)
    said = next(
        (
            line
            for line in reversed(lease.server.log_tail(60).splitlines())
            if any(text in line for text in RPC_ABORTS)
        ),
        "",
    )
    return (
        f"a worker holding part of the model stopped answering ({names}), so the model runner"
        " stopped and the answer was cut. The next request loads the model without it."
        + (f" llama.cpp said: {said.rsplit(': ', 1)[-1]}" if said else "")
    )


def _stalled_message(lease: Lease) -> str:
    """A split runner said nothing for the stall bound: stop it and say which worker went."""
    server = lease.server
    server.stop(grace=1)
    lost = [status for status in lost_workers(server.config.rpc) if status.state != "busy"]
    which = "; ".join(status.describe() for status in lost) or ", ".join(server.config.rpc)
    return (
        f"the model runner said nothing for {server.stall_timeout:g} s while part of the model"
        f" is on workers ({which}): a worker may have left the network. The runner was"
        " stopped and the answer was cut; the next request checks the workers again."
    )


def _sse(reply: requests.Response) -> Iterator[dict[str, Any]]:
    """Parsed ``data:`` events of an SSE stream, ending at ``[DONE]``."""
    for line in reply.iter_lines(chunk_size=None):
        if not line or line[:1] == b":":
            continue
        if line.startswith(b"data: "):
            payload = line[6:]
            if payload == b"[DONE]":
                return
            yield json.loads(payload)
        elif line.startswith(b"error: "):
            raise RunnerError(line[7:].decode("utf-8", "replace"))


def _cache_prompt(options: dict[str, Any]) -> bool:
    """Reuse the slot's cached prompt, except when a ``seed`` asks for a repeatable answer.

    Why: a prompt evaluated partly from cache goes through other batch
    shapes than one evaluated whole, and the tiny float differences change
    what a sampler draws. With a seed, the same request must give the same
    answer, so its prompt is evaluated whole every time.
    """
    return options.get("seed") is None


def _merged_options(spec: RunSpec, request_options: dict[str, Any]) -> dict[str, Any]:
    return {**(spec.params or {}), **request_options}


def _chat_body(
    spec: RunSpec,
    request: dict[str, Any],
    options: dict[str, Any],
    num_ctx: int,
    wanted: int | None = None,
) -> dict[str, Any]:
    """llama-server's chat body; ``wanted``: the request's logprobs (``logprobs_wanted``)."""
    messages = list(spec.messages or []) + list(request.get("messages") or [])
    converted = chat_messages(messages)
    system = request.get("system", spec.system)
    if system and (not converted or converted[0]["role"] != "system"):
        converted.insert(0, {"role": "system", "content": system})
    body: dict[str, Any] = {
        "messages": converted,
        "stream": True,
        "stream_options": {"include_usage": True},
        "cache_prompt": _cache_prompt(options),
        **sampling_body(options, num_ctx),
        **format_body(request.get("format")),
        **think_body(request.get("think"), spec.capabilities),
    }
    body.update(logprobs_body(wanted, chat=True))
    tools = request.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise BadRequest("tools must be a list")
        body["tools"] = tools
        choice = request.get("tool_choice")
        if choice is not None:
            body["tools"], body["tool_choice"] = tool_choice_body(tools, choice)
    return body


def tool_choice_body(tools: list[Any], choice: Any) -> tuple[list[Any], str]:
    """OpenAI's ``tool_choice`` in the words llama-server knows ("auto", "none", "required").

    Naming one function (``{"type": "function", "function": {"name": ...}}``)
    becomes "required" over that function alone, which is what it means.
    """
    if choice in ("auto", "none", "required"):
        return tools, choice
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str):
        raise BadRequest('tool_choice must be "auto", "none", "required" or name a function')
    chosen = [t for t in tools if isinstance(t, dict) and t.get("function", {}).get("name") == name]
    if not chosen:
        raise BadRequest(f"tool_choice names {name!r}, which is not among the tools")
    return chosen, "required"


# (content piece, thinking piece, its token logprobs, finished tool calls, final info)
ChatPiece = tuple[str, str, list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]


def _post_chat(
    lease: Lease, body: dict[str, Any], abort: Abort | None, truncate: bool
) -> requests.Response:
    """Start llama-server's chat stream; a chat too long for the context is cut to fit.

    Only a refusal for length costs anything: the messages are fitted
    (``fit_context``) and the request is sent once more.
    """
    path = "/v1/chat/completions"
    ctx = lease.runner.config.ctx_per_slot
    try:
        return _post(lease, path, body, stream=True, abort=abort)
    except UpstreamRejected as error:
        if error.kind != fit_context.OVERFLOW_ERROR:
            raise
        if not truncate:
            raise _too_long(error, ctx, NOT_TRUNCATED) from None
        refusal = error
    budget, most = fit_context.prompt_limits(ctx, int(body.get("n_predict", ctx)))
    messages = fit_context.fitted_messages(
        body["messages"], budget, lambda kept: _prompt_tokens(lease, body, kept), most
    )
    if messages is None or len(messages) == len(body["messages"]):
        raise _cannot_fit(refusal, ctx, bool(body.get("tools")))
    return _post(lease, path, {**body, "messages": messages}, stream=True, abort=abort)


def _too_long(refusal: UpstreamRejected, ctx: int, why: str) -> UpstreamRejected:
    """llama-server's refusal, with what did not fit and the option that changes it."""
    return UpstreamRejected(
        400,
        f"{refusal}: {why}; the model's context is num_ctx {ctx}: raise num_ctx (in the"
        " request's options or the model's parameters) or send a shorter message",
        refusal.kind,
    )


def _cannot_fit(refusal: UpstreamRejected, ctx: int, tools: bool) -> UpstreamRejected:
    """The refusal when leaving out older messages cannot help."""
    kept = "system prompt, tools and last message do" if tools else "last message does"
    return _too_long(refusal, ctx, f"the {kept} not fit even alone")


def _prompt_tokens(lease: Lease, body: dict[str, Any], messages: list[dict[str, Any]]) -> int:
    """Tokens of ``messages`` in the model's template (images by Ollama's estimate)."""
    texts, images = zip(*(fit_context.text_only(m) for m in messages), strict=True)
    prompt = _rendered_prompt(lease, {**body, "messages": list(texts)})
    tokenized = _runner_json(
        lease, "/tokenize", {"content": prompt, "add_special": True, "parse_special": True}
    )
    return len(tokenized["tokens"]) + fit_context.IMAGE_TOKENS * sum(images)


def _stream_chat(
    lease: Lease, body: dict[str, Any], abort: Abort | None, truncate: bool = True, top: int = 0
) -> Iterator[ChatPiece]:
    """What llama-server's chat stream says, piece by piece (see ``ChatPiece``).

    ``top``: alternatives per token to pass on when the body asks for logprobs.
    """
    reply = _post_chat(lease, body, abort, truncate)
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    timings: dict[str, Any] | None = None
    try:
        for event in _sse(reply):
            if "timings" in event:
                timings = event["timings"]
            for choice in event.get("choices") or ():
                delta = choice.get("delta") or {}
                content = delta.get("content") or ""
                thinking = delta.get("reasoning_content") or ""
                for call in delta.get("tool_calls") or ():
                    slot = calls.setdefault(int(call.get("index", 0)), {"arguments": ""})
                    slot["index"] = int(call.get("index", 0))
                    if call.get("id"):
                        slot["id"] = call["id"]
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot["name"] = function["name"]
                    slot["arguments"] += function.get("arguments") or ""
                if content or thinking:
                    probs = choice.get("logprobs")
                    logprobs = logprobs_in(probs.get("content"), top) if probs else []
                    yield content, thinking, logprobs, [], None
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
    except (requests.RequestException, ValueError) as error:
        raise _upstream_failed(lease, error, abort) from error
    finally:
        reply.close()
    if finish is None:
        raise _upstream_failed(lease, EOFError("stream ended early"), abort)
    finished_calls = [tool_call_in(calls[i]) for i in sorted(calls)]
    info = {"finish_reason": finish, "timings": timings}
    yield "", "", [], finished_calls, info


def _load_or_unload(
    scheduler: Scheduler,
    spec: RunSpec,
    options: dict[str, Any],
    keep_alive: float,
    empty: dict[str, Any],
) -> dict[str, Any]:
    """An empty request only loads the model, or with ``keep_alive: 0`` unloads it.

    Unloading answers at once, loaded or not, as Ollama does.
    """
    if keep_alive == 0:
        scheduler.unload(spec.digest)
        reason = "unload"
    else:
        _lease(scheduler, spec, options, keep_alive).release()
        reason = "load"
    return {
        "model": spec.display,
        "created_at": now_rfc3339(),
        **empty,
        "done_reason": reason,
        "done": True,
    }


def chat(
    scheduler: Scheduler,
    spec: RunSpec,
    request: dict[str, Any],
    request_options: dict[str, Any],
    keep_alive: float,
    abort: Abort | None = None,
) -> Iterator[dict[str, Any]]:
    """Ollama ``/api/chat`` stream objects for one request; ``abort`` set = the client left."""
    started = time.monotonic()
    model = spec.display
    options = _merged_options(spec, request_options)
    if request.get("tools") and "tools" not in spec.capabilities:
        raise BadRequest(f"{model} does not support tools")
    vision.refuse_without_projector(spec, request)
    wanted = logprobs_wanted(request)
    if request.get("tools") and wanted is not None:
        # llama-server cannot stream logprobs alongside tool-call parsing.
        raise BadRequest("logprobs cannot be combined with tools")
    if not request.get("messages"):
        empty = {"message": {"role": "assistant", "content": ""}}
        yield _load_or_unload(scheduler, spec, options, keep_alive, empty)
        return
    plan = _templated_plan(spec, request)
    if plan is None:
        options = templated.fallback_options(spec, options, request_options)
    lease = _lease(scheduler, spec, options, keep_alive)
    try:
        if plan is not None:
            source, messages, prompt = plan
            pieces = _templated_chat(
                lease, request, source, messages, prompt, options, model, started, abort, wanted
            )
            with contextlib.closing(pieces):
                for chunk in pieces:
                    yield templated.as_chat_chunk(chunk)
            return
        body = _chat_body(spec, request, options, lease.runner.config.ctx_per_slot, wanted)
        truncate = request.get("truncate") is not False
        with contextlib.closing(_stream_chat(lease, body, abort, truncate, wanted or 0)) as pieces:
            for content, thinking, logprobs, calls, info in pieces:
                if info is None:
                    message: dict[str, Any] = {"role": "assistant", "content": content}
                    if thinking:
                        message["thinking"] = thinking
                    chunk: dict[str, Any] = {
                        "model": model,
                        "created_at": now_rfc3339(),
                        "message": message,
                        "done": False,
                    }
                    if logprobs:
                        chunk["logprobs"] = logprobs
                    yield chunk
                    continue
                if calls:
                    yield {
                        "model": model,
                        "created_at": now_rfc3339(),
                        "message": {"role": "assistant", "content": "", "tool_calls": calls},
                        "done": False,
                    }
                total_ns = int((time.monotonic() - started) * 1e9)
                yield {
                    "model": model,
                    "created_at": now_rfc3339(),
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": done_reason(info["finish_reason"]),
                    "done": True,
                    **metrics(info["timings"], total_ns, int(lease.load_seconds * 1e9)),
                }
    finally:
        lease.release()


TemplatedPlan = tuple[str, list[dict[str, Any]], str]


def _templated_plan(spec: RunSpec, request: dict[str, Any]) -> TemplatedPlan | None:
    """(Go template, Ollama messages, rendered prompt), or None for llama-server's chat path.

    Rendered before a model is loaded, so a template that cannot be
    rendered is a 400 at once (see ``app.runner.templated`` for the choice).
    """
    source = templated.go_template_for(spec, request)
    if source is None:
        return None
    think_body(request.get("think"), spec.capabilities)  # a 400 for think on a model without
    messages = templated.chat_messages(spec, request)
    chat_messages(messages)  # the same 400s for bad roles and contents as the native path
    prompt = ollama_prompt.render(source, messages, request.get("tools"), request.get("think"))
    return source, messages, prompt


def _templated_chat(
    lease: Lease,
    request: dict[str, Any],
    source: str,
    messages: list[dict[str, Any]],
    prompt: str,
    options: dict[str, Any],
    model: str,
    started: float,
    abort: Abort | None,
    wanted: int | None,
) -> Iterator[dict[str, Any]]:
    """A chat rendered with a Go template, streamed from ``/completion`` (generate's shape).

    A chat too long for the context is cut as on the native path: only
    after llama-server refused it, by leaving out the oldest turns.
    """
    num_ctx = lease.runner.config.ctx_per_slot
    shaped = {"format": request.get("format")}

    def stream(text: str) -> Iterator[dict[str, Any]]:
        return _generate_raw(lease, shaped, text, options, num_ctx, model, started, abort, wanted)

    def render(kept: list[dict[str, Any]]) -> str:
        return ollama_prompt.render(source, kept, request.get("tools"), request.get("think"))

    pieces = stream(prompt)
    try:
        first = next(pieces)
    except UpstreamRejected as error:
        if error.kind != fit_context.OVERFLOW_ERROR:
            raise
        if request.get("truncate") is False:
            raise _too_long(error, num_ctx, NOT_TRUNCATED) from None
        n_predict = int(sampling_body(options, num_ctx)["n_predict"])
        budget, most = fit_context.prompt_limits(num_ctx, n_predict)

        def count(kept: list[dict[str, Any]]) -> int:
            tokens = _runner_json(
                lease,
                "/tokenize",
                {"content": render(kept), "add_special": True, "parse_special": True},
            )["tokens"]
            return len(tokens) + fit_context.IMAGE_TOKENS * sum(bool(m.get("images")) for m in kept)

        fitted = fit_context.fitted_messages(messages, budget, count, most)
        if fitted is None or len(fitted) == len(messages):
            raise _cannot_fit(error, num_ctx, bool(request.get("tools"))) from None
        pieces = stream(render(fitted))
        first = next(pieces)
    with contextlib.closing(pieces):
        yield first
        yield from pieces


def generate(
    scheduler: Scheduler,
    spec: RunSpec,
    request: dict[str, Any],
    request_options: dict[str, Any],
    keep_alive: float,
    abort: Abort | None = None,
) -> Iterator[dict[str, Any]]:
    """Ollama ``/api/generate`` stream objects for one request; ``abort`` set = the client left."""
    started = time.monotonic()
    model = spec.display
    raw = bool(request.get("raw"))
    if raw and (request.get("template") or request.get("system") or request.get("context")):
        raise BadRequest("raw mode does not support template, system, or context")
    prompt = request.get("prompt") or ""
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string")
    if request.get("suffix") is not None and not isinstance(request["suffix"], str):
        raise BadRequest("suffix must be a string")
    context = _context_tokens(request.get("context"))
    vision.refuse_without_projector(spec, request)
    wanted = logprobs_wanted(request)
    options = _merged_options(spec, request_options)
    if not prompt and not request.get("suffix"):
        yield _load_or_unload(scheduler, spec, options, keep_alive, {"response": ""})
        return
    templating = not raw and not request.get("suffix")
    source = (
        templated.go_template_for(spec, request, request.get("template")) if templating else None
    )
    if source is not None:
        think_body(request.get("think"), spec.capabilities)  # a 400 for think on a model without
        messages = templated.generate_messages(spec, request, prompt)
        rendered = ollama_prompt.render(source, messages, None, request.get("think"))
    elif templating:
        options = templated.fallback_options(spec, options, request_options)
    lease = _lease(scheduler, spec, options, keep_alive)
    try:
        num_ctx = lease.runner.config.ctx_per_slot
        if raw or request.get("suffix"):
            yield from _generate_raw(
                lease, request, prompt, options, num_ctx, model, started, abort, wanted
            )
            return

        def rendered_generation(rendered: str) -> Iterator[dict[str, Any]]:
            """The prompt as rendered in the model's template, after ``context``'s tokens."""
            return _generate_raw(
                lease,
                request,
                rendered,
                options,
                num_ctx,
                model,
                started,
                abort,
                wanted,
                prompt_body=[*context, rendered] if context else None,
                context=(context, rendered),
            )

        if source is not None:
            # The model's Go template rendered here; llama-server gets the text.
            yield from rendered_generation(rendered)
            return
        chat_request = {
            "messages": [{"role": "user", "content": prompt, "images": request.get("images")}],
            "format": request.get("format"),
            "think": request.get("think"),
        }
        if request.get("system"):
            chat_request["system"] = request["system"]
        body = _chat_body(spec, chat_request, options, num_ctx, wanted)
        if context:
            # An earlier answer's tokens, then this prompt in llama-server's template.
            yield from rendered_generation(_rendered_prompt(lease, body))
            return
        answer: list[str] = []
        truncate = request.get("truncate") is not False
        with contextlib.closing(_stream_chat(lease, body, abort, truncate, wanted or 0)) as pieces:
            for content, thinking, logprobs, calls, info in pieces:
                if info is None:
                    answer.append(content)
                    chunk: dict[str, Any] = {
                        "model": model,
                        "created_at": now_rfc3339(),
                        "response": content,
                        "done": False,
                    }
                    if thinking:
                        chunk["thinking"] = thinking
                    if logprobs:
                        chunk["logprobs"] = logprobs
                    yield chunk
                    continue
                total_ns = int((time.monotonic() - started) * 1e9)
                final: dict[str, Any] = {
                    "model": model,
                    "created_at": now_rfc3339(),
                    "response": "",
                    "done": True,
                    "done_reason": done_reason(info["finish_reason"]),
                    **metrics(info["timings"], total_ns, int(lease.load_seconds * 1e9)),
                }
                if calls:
                    final["tool_calls"] = calls
                tokens = _context_out(lease, [], _rendered_prompt(lease, body, quiet=True), answer)
                if tokens is not None:
                    final["context"] = tokens
                yield final
    finally:
        lease.release()


def _generate_raw(
    lease: Lease,
    request: dict[str, Any],
    prompt: str,
    options: dict[str, Any],
    num_ctx: int,
    model: str,
    started: float,
    abort: Abort | None,
    wanted: int | None = None,
    prompt_body: list[Any] | None = None,
    context: tuple[list[int], str] | None = None,
) -> Iterator[dict[str, Any]]:
    """``raw`` prompts and fill-in-the-middle go to llama-server's native endpoints.

    ``prompt_body`` replaces the prompt (llama-server takes token ids and
    text mixed); with ``context`` (earlier tokens, this prompt rendered) the
    final object carries the new ``context``; ``wanted``: the request's logprobs.
    """
    body: dict[str, Any] = {
        "stream": True,
        "cache_prompt": _cache_prompt(options),
        **sampling_body(options, num_ctx),
        **logprobs_body(wanted, chat=False),
    }
    fmt = format_body(request.get("format")).get("response_format")
    if fmt is not None:
        body["json_schema"] = fmt.get("json_schema", {}).get("schema", {})
    if request.get("suffix"):
        path = "/infill"
        body.update({"input_prefix": prompt, "input_suffix": request["suffix"]})
    else:
        path = "/completion"
        body["prompt"] = prompt if prompt_body is None else prompt_body
    reply = _post(lease, path, body, stream=True, abort=abort)
    final: dict[str, Any] | None = None
    answer: list[str] = []
    try:
        for event in _sse(reply):
            stop = bool(event.get("stop"))
            text = event.get("content", "")
            if text or not stop:
                answer.append(text)
                chunk = _raw_chunk(model, text)
                if wanted is not None and event.get("completion_probabilities"):
                    chunk["logprobs"] = logprobs_in(event["completion_probabilities"], wanted)
                yield chunk
            if stop:
                final = event
                break
    except (requests.RequestException, ValueError) as error:
        raise _upstream_failed(lease, error, abort) from error
    finally:
        reply.close()
    if final is None:
        raise _upstream_failed(lease, EOFError("stream ended early"), abort)
    total_ns = int((time.monotonic() - started) * 1e9)
    last: dict[str, Any] = {
        "model": model,
        "created_at": now_rfc3339(),
        "response": "",
        "done": True,
        "done_reason": done_reason(None, final.get("stop_type")),
        **metrics(final.get("timings"), total_ns, int(lease.load_seconds * 1e9)),
    }
    if context is not None:
        tokens = _context_out(lease, context[0], context[1], answer)
        if tokens is not None:
            last["context"] = tokens
    yield last


MAX_CONTEXT_TOKENS = 1 << 20


def _context_tokens(value: Any) -> list[int]:
    """The deprecated ``context`` of ``/api/generate``: token ids from an earlier answer."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(token, int) and not isinstance(token, bool) and token >= 0 for token in value
    ):
        raise BadRequest("context must be a list of token ids")
    if len(value) > MAX_CONTEXT_TOKENS:
        raise BadRequest("context is too long")
    return value


def _runner_json(lease: Lease, path: str, body: dict[str, Any]) -> Any:
    """A small non-streamed request to the lease's llama-server; its JSON answer."""
    reply = lease.server.session.post(
        f"{lease.server.base_url}{path}", json=body, timeout=_timeout(lease.server)
    )
    reply.raise_for_status()
    return reply.json()


def _rendered_prompt(lease: Lease, body: dict[str, Any], quiet: bool = False) -> str | None:
    """The chat body's messages in the model's template, as llama-server renders them.

    ``quiet``: a failure gives None (the answer is already out; only its
    ``context`` is lost) instead of raising.
    """
    wanted = ("messages", "tools", "chat_template_kwargs")
    fields = {key: body[key] for key in wanted if key in body}
    try:
        return str(_runner_json(lease, "/apply-template", fields)["prompt"])
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        if quiet:
            return None
        raise RunnerError(f"llama-server could not apply the chat template: {error}") from error


def _context_out(
    lease: Lease, before: list[int], prompt: str | None, answer: list[str]
) -> list[int] | None:
    """Ollama's ``context`` for the next call: earlier tokens, this prompt and answer.

    Why this costs a request after the answer: only the final object
    carries it, so the tokens are counted once, by llama-server's own
    tokenizer. None when llama-server could not say (the field is left out).
    """
    if prompt is None:
        return None
    text = prompt + "".join(answer)
    try:
        tokenized = _runner_json(
            lease, "/tokenize", {"content": text, "add_special": not before, "parse_special": True}
        )
        tokens = tokenized["tokens"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None
    return [*before, *(int(token) for token in tokens)]


def _raw_chunk(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "created_at": now_rfc3339(), "response": text, "done": False}


def embed(
    scheduler: Scheduler,
    spec: RunSpec,
    inputs: list[str],
    request_options: dict[str, Any],
    keep_alive: float,
    *,
    truncate: bool = True,
    dimensions: int | None = None,
) -> dict[str, Any]:
    """Ollama ``/api/embed``: L2-normalised vectors, order kept."""
    started = time.monotonic()
    options = _merged_options(spec, request_options)
    with scheduler.leased(spec, options, keep_alive) as lease:
        if not inputs:
            return {"model": spec.display, "embeddings": []}
        body: dict[str, Any] = {"input": inputs, "encoding_format": "float"}
        if truncate:
            body["truncate"] = True
        reply = _post(lease, "/v1/embeddings", body, stream=False)
        try:
            result = reply.json()
        finally:
            reply.close()
    vectors = [item["embedding"] for item in sorted(result["data"], key=lambda d: d["index"])]
    if dimensions:
        vectors = [_normalise(vector[:dimensions]) for vector in vectors]
    return {
        "model": spec.display,
        "embeddings": vectors,
        "total_duration": int((time.monotonic() - started) * 1e9),
        "load_duration": int(lease.load_seconds * 1e9),
        "prompt_eval_count": int(result.get("usage", {}).get("prompt_tokens", 0)),
    }


def embedding_legacy(
    scheduler: Scheduler,
    spec: RunSpec,
    prompt: str,
    request_options: dict[str, Any],
    keep_alive: float,
) -> dict[str, Any]:
    """Legacy ``/api/embeddings``: one vector, not normalised."""
    options = _merged_options(spec, request_options)
    with scheduler.leased(spec, options, keep_alive) as lease:
        if not prompt:
            return {"embedding": []}
        reply = _post(lease, "/embedding", {"content": prompt, "embd_normalize": -1}, stream=False)
        try:
            result = reply.json()
        finally:
            reply.close()
    vector = result[0]["embedding"]
    if vector and isinstance(vector[0], list):  # pooled result comes as [[...]]
        vector = vector[0]
    return {"embedding": vector}


def _normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector
