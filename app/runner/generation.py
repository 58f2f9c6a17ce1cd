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
import math
import time
from collections.abc import Generator
from typing import Any

from app.api_types import ChatRequest, GenerateRequest
from app.errors import BadRequest
from app.runner import fit_context, ollama_prompt, templated, vision
from app.runner.abort import Abort
from app.runner.errors import RunnerError, UpstreamRejected
from app.runner.llama_client import ChatPiece, LlamaClient
from app.runner.process import LlamaServerFailed
from app.runner.scheduler import Lease, Scheduler
from app.runner.translate import (
    chat_messages,
    done_reason,
    format_body,
    logprobs_body,
    metrics,
    now_rfc3339,
    sampling_body,
    think_body,
)
from app.spec import RunSpec

Stream = Generator[dict[str, Any], None, None]
"""What every public function here returns: Ollama objects, closable (a client that left)."""
NOT_TRUNCATED = "truncate is false, so no older message was left out"


def _lease(
    scheduler: Scheduler, spec: RunSpec, options: dict[str, Any], keep_alive: float
) -> Lease:
    try:
        return scheduler.lease(spec, options, keep_alive)
    except LlamaServerFailed as error:
        raise RunnerError(f"llama-server failed to start: {error}") from error


def _client(lease: Lease) -> LlamaClient:
    """The lease's llama-server to talk to; a runner that proves broken is never leased again."""
    return LlamaClient(lease.server, lease.mark_failed)


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
    request: ChatRequest,
    options: dict[str, Any],
    num_ctx: int,
    wanted: int | None = None,
) -> dict[str, Any]:
    """llama-server's chat body; ``wanted``: the request's logprobs (``checked_logprobs``)."""
    messages = list(spec.messages or []) + list(request.messages or [])
    converted = chat_messages(messages)
    system = request.system_or(spec.system)
    if system and (not converted or converted[0]["role"] != "system"):
        converted.insert(0, {"role": "system", "content": system})
    body: dict[str, Any] = {
        "messages": converted,
        "stream": True,
        "stream_options": {"include_usage": True},
        "cache_prompt": _cache_prompt(options),
        **sampling_body(options, num_ctx),
        **format_body(request.format),
        **think_body(request.think, spec.capabilities),
    }
    body.update(logprobs_body(wanted, chat=True))
    tools = request.tool_list
    if tools:
        body["tools"] = tools
        choice = request.tool_choice
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


def _stream_chat(
    lease: Lease, body: dict[str, Any], abort: Abort | None, truncate: bool = True, top: int = 0
) -> Generator[ChatPiece, None, None]:
    """llama-server's chat stream; a chat too long for the context is cut to fit.

    Only a refusal for length costs anything: the messages are fitted
    (``fit_context``) and the request is sent once more. ``top``:
    alternatives per token to pass on when the body asks for logprobs.
    """
    client = _client(lease)
    pieces = client.chat_stream(body, abort, top)
    try:
        first = next(pieces)
    except UpstreamRejected as error:
        fitted = _fitted_chat(lease, body, error, truncate)
        pieces = client.chat_stream(fitted, abort, top)
        first = next(pieces)
    with contextlib.closing(pieces):
        yield first
        yield from pieces


def _fitted_chat(
    lease: Lease, body: dict[str, Any], refusal: UpstreamRejected, truncate: bool
) -> dict[str, Any]:
    """The chat body with older messages left out, after llama-server refused it.

    Re-raises a refusal that is not about length, and says why when
    leaving messages out is not allowed or cannot help.
    """
    ctx = lease.runner.config.ctx_per_slot
    if refusal.kind != fit_context.OVERFLOW_ERROR:
        raise refusal
    if not truncate:
        raise _too_long(refusal, ctx, NOT_TRUNCATED) from None
    budget, most = fit_context.prompt_limits(ctx, int(body.get("n_predict", ctx)))
    messages = fit_context.fitted_messages(
        body["messages"], budget, lambda kept: _prompt_tokens(lease, body, kept), most
    )
    if messages is None or len(messages) == len(body["messages"]):
        raise _cannot_fit(refusal, ctx, bool(body.get("tools"))) from None
    return {**body, "messages": messages}


def _prompt_tokens(lease: Lease, body: dict[str, Any], messages: list[dict[str, Any]]) -> int:
    """Tokens of ``messages`` in the model's template (images by Ollama's estimate)."""
    texts, images = zip(*(fit_context.text_only(m) for m in messages), strict=True)
    prompt = _client(lease).apply_template({**body, "messages": list(texts)})
    tokens = _client(lease).tokenize(prompt, add_special=True, parse_special=True)
    return len(tokens) + fit_context.IMAGE_TOKENS * sum(images)


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
    request: ChatRequest,
    request_options: dict[str, Any],
    keep_alive: float,
    abort: Abort | None = None,
) -> Stream:
    """Ollama ``/api/chat`` stream objects for one request; ``abort`` set = the client left."""
    started = time.monotonic()
    model = spec.display
    options = _merged_options(spec, request_options)
    if request.tools and "tools" not in spec.capabilities:
        raise BadRequest(f"{model} does not support tools")
    vision.refuse_without_projector(spec, request)
    wanted = request.checked_logprobs()
    if request.tools and wanted is not None:
        # llama-server cannot stream logprobs alongside tool-call parsing.
        raise BadRequest("logprobs cannot be combined with tools")
    if not request.messages:
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
            generated = _templated_chat(
                lease, request, source, messages, prompt, options, model, started, abort, wanted
            )
            with contextlib.closing(generated):
                for generate_chunk in generated:
                    yield templated.as_chat_chunk(generate_chunk)
            return
        body = _chat_body(spec, request, options, lease.runner.config.ctx_per_slot, wanted)
        truncate = request.truncates
        with contextlib.closing(_stream_chat(lease, body, abort, truncate, wanted or 0)) as pieces:
            for piece in pieces:
                info = piece.final
                if info is None:
                    message: dict[str, Any] = {"role": "assistant", "content": piece.content}
                    if piece.thinking:
                        message["thinking"] = piece.thinking
                    chunk: dict[str, Any] = {
                        "model": model,
                        "created_at": now_rfc3339(),
                        "message": message,
                        "done": False,
                    }
                    if piece.logprobs:
                        chunk["logprobs"] = piece.logprobs
                    yield chunk
                    continue
                if piece.tool_calls:
                    calls = piece.tool_calls
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


def _templated_plan(spec: RunSpec, request: ChatRequest) -> TemplatedPlan | None:
    """(Go template, Ollama messages, rendered prompt), or None for llama-server's chat path.

    Rendered before a model is loaded, so a template that cannot be
    rendered is a 400 at once (see ``app.runner.templated`` for the choice).
    """
    source = templated.go_template_for(spec, request)
    if source is None:
        return None
    think_body(request.think, spec.capabilities)  # a 400 for think on a model without
    messages = templated.chat_messages(spec, request)
    chat_messages(messages)  # the same 400s for bad roles and contents as the native path
    prompt = ollama_prompt.render(source, messages, request.tools, request.think)
    return source, messages, prompt


def _templated_chat(
    lease: Lease,
    request: ChatRequest,
    source: str,
    messages: list[dict[str, Any]],
    prompt: str,
    options: dict[str, Any],
    model: str,
    started: float,
    abort: Abort | None,
    wanted: int | None,
) -> Stream:
    """A chat rendered with a Go template, streamed from ``/completion`` (generate's shape).

    A chat too long for the context is cut as on the native path: only
    after llama-server refused it, by leaving out the oldest turns.
    """
    num_ctx = lease.runner.config.ctx_per_slot

    def stream(text: str) -> Stream:
        return _generate_raw(
            lease, request.format, None, text, options, num_ctx, model, started, abort, wanted
        )

    def render(kept: list[dict[str, Any]]) -> str:
        return ollama_prompt.render(source, kept, request.tools, request.think)

    pieces = stream(prompt)
    try:
        first = next(pieces)
    except UpstreamRejected as error:
        if error.kind != fit_context.OVERFLOW_ERROR:
            raise
        if not request.truncates:
            raise _too_long(error, num_ctx, NOT_TRUNCATED) from None
        n_predict = int(sampling_body(options, num_ctx)["n_predict"])
        budget, most = fit_context.prompt_limits(num_ctx, n_predict)

        def count(kept: list[dict[str, Any]]) -> int:
            tokens = _client(lease).tokenize(render(kept), add_special=True, parse_special=True)
            return len(tokens) + fit_context.IMAGE_TOKENS * sum(bool(m.get("images")) for m in kept)

        fitted = fit_context.fitted_messages(messages, budget, count, most)
        if fitted is None or len(fitted) == len(messages):
            raise _cannot_fit(error, num_ctx, bool(request.tools)) from None
        pieces = stream(render(fitted))
        first = next(pieces)
    with contextlib.closing(pieces):
        yield first
        yield from pieces


def generate(
    scheduler: Scheduler,
    spec: RunSpec,
    request: GenerateRequest,
    request_options: dict[str, Any],
    keep_alive: float,
    abort: Abort | None = None,
) -> Stream:
    """Ollama ``/api/generate`` stream objects for one request; ``abort`` set = the client left."""
    started = time.monotonic()
    model = spec.display
    raw = request.is_raw
    request.check_raw()
    prompt = request.prompt_text
    suffix = request.suffix
    context = request.checked_context()
    vision.refuse_without_projector(spec, request)
    wanted = request.checked_logprobs()
    options = _merged_options(spec, request_options)
    if not prompt and not suffix:
        yield _load_or_unload(scheduler, spec, options, keep_alive, {"response": ""})
        return
    templating = not raw and not suffix
    source = templated.go_template_for(spec, request, request.template) if templating else None
    if source is not None:
        think_body(request.think, spec.capabilities)  # a 400 for think on a model without
        messages = templated.generate_messages(spec, request, prompt)
        rendered = ollama_prompt.render(source, messages, None, request.think)
    elif templating:
        options = templated.fallback_options(spec, options, request_options)
    lease = _lease(scheduler, spec, options, keep_alive)
    try:
        num_ctx = lease.runner.config.ctx_per_slot

        def native(suffix: str | None, text: str, **extra: Any) -> Stream:
            """``text`` on llama-server's ``/completion`` (``/infill`` with a ``suffix``)."""
            return _generate_raw(
                lease,
                request.format,
                suffix,
                text,
                options,
                num_ctx,
                model,
                started,
                abort,
                wanted,
                **extra,
            )

        if raw or suffix:
            yield from native(suffix, prompt)
            return

        def rendered_generation(rendered: str) -> Stream:
            """The prompt as rendered in the model's template, after ``context``'s tokens."""
            prompt_body = [*context, rendered] if context else None
            return native(None, rendered, prompt_body=prompt_body, context=(context, rendered))

        if source is not None:
            # The model's Go template rendered here; llama-server gets the text.
            yield from rendered_generation(rendered)
            return
        chat_request: dict[str, Any] = {
            "messages": [{"role": "user", "content": prompt, "images": request.images}],
            "format": request.format,
            "think": request.think,
        }
        if request.system_text:
            chat_request["system"] = request.system_text
        body = _chat_body(spec, ChatRequest.parse(chat_request), options, num_ctx, wanted)
        if context:
            # An earlier answer's tokens, then this prompt in llama-server's template.
            yield from rendered_generation(_rendered_prompt(lease, body))
            return
        answer: list[str] = []
        truncate = request.truncates
        with contextlib.closing(_stream_chat(lease, body, abort, truncate, wanted or 0)) as pieces:
            for piece in pieces:
                info = piece.final
                if info is None:
                    answer.append(piece.content)
                    chunk: dict[str, Any] = {
                        "model": model,
                        "created_at": now_rfc3339(),
                        "response": piece.content,
                        "done": False,
                    }
                    if piece.thinking:
                        chunk["thinking"] = piece.thinking
                    if piece.logprobs:
                        chunk["logprobs"] = piece.logprobs
                    yield chunk
                    continue
                reason = done_reason(info["finish_reason"])
                final = _generate_done(model, reason, info["timings"], started, lease)
                if piece.tool_calls:
                    final["tool_calls"] = piece.tool_calls
                tokens = _context_out(lease, [], _rendered_prompt_or_none(lease, body), answer)
                if tokens is not None:
                    final["context"] = tokens
                yield final
    finally:
        lease.release()


def _generate_raw(
    lease: Lease,
    fmt_request: Any,
    suffix: str | None,
    prompt: str,
    options: dict[str, Any],
    num_ctx: int,
    model: str,
    started: float,
    abort: Abort | None,
    wanted: int | None = None,
    prompt_body: list[Any] | None = None,
    context: tuple[list[int], str] | None = None,
) -> Stream:
    """``raw`` prompts and fill-in-the-middle go to llama-server's native endpoints.

    ``prompt_body`` replaces the prompt (llama-server takes token ids and
    text mixed); with ``context`` (earlier tokens, this prompt rendered) the
    final object carries the new ``context``; ``wanted``: the request's logprobs;
    ``fmt_request``: the request's ``format``; ``suffix``: fill-in-the-middle's.
    """
    body: dict[str, Any] = {
        "stream": True,
        "cache_prompt": _cache_prompt(options),
        **sampling_body(options, num_ctx),
        **logprobs_body(wanted, chat=False),
    }
    fmt = format_body(fmt_request).get("response_format")
    if fmt is not None:
        body["json_schema"] = fmt.get("json_schema", {}).get("schema", {})
    client = _client(lease)
    if suffix:
        body.update({"input_prefix": prompt, "input_suffix": suffix})
        pieces = client.infill_stream(body, abort, wanted)
    else:
        body["prompt"] = prompt if prompt_body is None else prompt_body
        pieces = client.completion_stream(body, abort, wanted)
    answer: list[str] = []
    with contextlib.closing(pieces):
        for piece in pieces:
            final = piece.final
            if final is None:
                answer.append(piece.text)
                chunk = _raw_chunk(model, piece.text)
                if piece.logprobs is not None:
                    chunk["logprobs"] = piece.logprobs
                yield chunk
                continue
            reason = done_reason(None, final.get("stop_type"))
            last = _generate_done(model, reason, final.get("timings"), started, lease)
            if context is not None:
                tokens = _context_out(lease, context[0], context[1], answer)
                if tokens is not None:
                    last["context"] = tokens
            yield last


def _rendered_prompt(lease: Lease, body: dict[str, Any]) -> str:
    """The chat body's messages in the model's template, as llama-server renders them."""
    return _client(lease).apply_template(body)


def _rendered_prompt_or_none(lease: Lease, body: dict[str, Any]) -> str | None:
    """As ``_rendered_prompt``, but a failure gives None: the answer is already out,
    and only its ``context`` is lost."""
    try:
        return _rendered_prompt(lease, body)
    except RunnerError:
        return None


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
        tokens = _client(lease).tokenize(text, add_special=not before, parse_special=True)
    except RunnerError:
        return None
    return [*before, *tokens]


def _raw_chunk(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "created_at": now_rfc3339(), "response": text, "done": False}


def _generate_done(
    model: str, reason: str, timings: dict[str, Any] | None, started: float, lease: Lease
) -> dict[str, Any]:
    """``/api/generate``'s last object, before ``context`` and tool calls are added."""
    total_ns = int((time.monotonic() - started) * 1e9)
    return {
        "model": model,
        "created_at": now_rfc3339(),
        "response": "",
        "done": True,
        "done_reason": reason,
        **metrics(timings, total_ns, int(lease.load_seconds * 1e9)),
    }


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
        result = _client(lease).embeddings(inputs, truncate)
    vectors = result.vectors
    if dimensions:
        vectors = [_normalise(vector[:dimensions]) for vector in vectors]
    return {
        "model": spec.display,
        "embeddings": vectors,
        "total_duration": int((time.monotonic() - started) * 1e9),
        "load_duration": int(lease.load_seconds * 1e9),
        "prompt_eval_count": result.prompt_tokens,
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
        return {"embedding": _client(lease).embedding(prompt)}


def _normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector
