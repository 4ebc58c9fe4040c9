"""The OpenAI-compatible endpoints: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``.

Request fields and how they map (unset sampling fields keep rusty-genius's defaults;
``temperature: 0`` is greedy decoding):

* ``temperature`` [0, 5], ``top_p`` (0, 1], ``seed`` [0, 2**32-1] → :class:`Sampling`
  and :class:`InferenceConfig` as they are. Extensions, as vLLM and llama-server take
  them: ``top_k``, ``min_p``, ``repeat_penalty`` (or vLLM's ``repetition_penalty``),
  ``keep_alive`` (Ollama's semantics), ``include_reasoning`` (``false`` drops thoughts).
* ``frequency_penalty`` f in [-2, 2], when no ``repeat_penalty`` is given, becomes
  llama.cpp's multiplicative ``repeat_penalty = (1 + |f|/2) ** sign(f)``: 0 is off,
  2 doubles the penalty, -2 halves the logits' penalty (favours repeats).
  ``presence_penalty`` is accepted and ignored (llama.cpp's sampler chain here has no
  additive penalty).
* ``max_completion_tokens`` (or the older ``max_tokens``); none means until the model
  stops or the context is full. ``stop``: a string or up to 16 strings.
* ``stream``, ``stream_options.include_usage`` (a last chunk with empty ``choices``
  and ``usage``, as OpenAI sends it).
* Refused with 400, naming the field: ``n`` other than 1, ``logprobs``, ``tools``,
  ``response_format`` other than text, ``echo``, ``suffix``, ``best_of`` > 1,
  ``logit_bias``, non-text message parts.

Reasoning (``<think>`` blocks) comes back as ``reasoning_content`` on stream deltas
and on messages (``null`` when there was none), never inside ``content``.
``/v1/completions`` sends its prompt to the model as-is (no chat template), as
OpenAI's legacy completions do. ``finish_reason`` is ``stop`` or ``length``
(``cancelled`` when something else cancelled the request).
"""

from __future__ import annotations

import math
import time
import uuid
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import (
    ChatMessage,
    Complete,
    Content,
    GeniusError,
    Role,
    Thought,
    ThoughtDelta,
)

from .._answer import AnswerBuilder
from ._exchange import Api, Reply, Watched, dumps, error_payload, error_response, status_of
from ._fields import (
    NO_LIMIT,
    Fields,
    RequestError,
    SamplingFields,
    build_config,
    parse_body,
    parse_keep_alive,
)
from ._infer import Job, inference_events, open_job

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from rusty_genius_core import InferenceEvent, ModelStatus, Usage

    from ._infer import Context

__all__ = ["chat_completions", "completions", "list_models", "parse_chat", "parse_completion"]

_ROLES: Final = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
}
_DONE: Final = b"data: [DONE]\n\n"


# -- parsing --------------------------------------------------------------------------------


def _content(fields: Fields, where: str) -> str:
    value = fields.raw("content")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise fields.fail("content", "a string or an array of text parts")
    texts: list[str] = []
    for j, part in enumerate(value):
        if not isinstance(part, dict):
            raise RequestError(f"'{where}.content[{j}]' must be an object", f"{where}.content")
        part_fields = Fields(part, f"{where}.content[{j}]")
        kind = part_fields.string("type", required=True)
        if kind not in ("text", "input_text"):
            raise RequestError(
                f"'{where}.content[{j}].type' {kind!r} is not supported; only text parts are",
                f"{where}.content",
            )
        texts.append(part_fields.string("text", required=True) or "")
    return "".join(texts)


def _messages(fields: Fields) -> tuple[ChatMessage, ...]:
    items = fields.array("messages")
    if items is None:
        raise RequestError("'messages' is required", "messages")
    if not items:
        raise RequestError("'messages' must not be empty", "messages")
    out: list[ChatMessage] = []
    for i, item in enumerate(items):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"'{where}' must be an object", where)
        message = Fields(item, where)
        role = message.string("role", required=True)
        if role not in _ROLES:
            raise RequestError(
                f"'{where}.role' must be one of {', '.join(_ROLES)}, got {role!r}",
                f"{where}.role",
            )
        out.append(ChatMessage(role=_ROLES[role], content=_content(message, where)))
    return tuple(out)


def _refuse_unsupported(fields: Fields) -> None:
    n = fields.integer("n", 1)
    if n is not None and n != 1:
        raise RequestError("'n' must be 1; one choice per request is supported", "n")
    best_of = fields.integer("best_of", 1)
    if best_of is not None and best_of != 1:
        raise RequestError("'best_of' must be 1", "best_of")
    if fields.raw("logprobs") not in (None, False, 0):
        raise RequestError("'logprobs' is not supported", "logprobs")
    if fields.raw("echo") not in (None, False):
        raise RequestError("'echo' is not supported", "echo")
    if fields.raw("suffix") not in (None, ""):
        raise RequestError("'suffix' is not supported", "suffix")
    if fields.raw("tools") not in (None, []):
        raise RequestError("'tools' (function calling) is not supported", "tools")
    if fields.raw("functions") not in (None, []):
        raise RequestError("'functions' (function calling) is not supported", "functions")
    if fields.raw("logit_bias") not in (None, {}):
        raise RequestError("'logit_bias' is not supported", "logit_bias")
    choice = fields.raw("tool_choice")
    if choice not in (None, "none", "auto"):
        raise RequestError("'tool_choice' is not supported", "tool_choice")
    response_format = fields.object("response_format")
    if response_format is not None:
        kind = response_format.string("type")
        if kind not in (None, "text"):
            raise RequestError(
                f"'response_format.type' {kind!r} is not supported; only 'text' is",
                "response_format.type",
            )


def _penalty(f: float) -> float:
    """``frequency_penalty`` (additive, OpenAI) as a multiplicative llama.cpp repeat penalty."""
    return math.pow(1.0 + abs(f) / 2.0, 1.0 if f >= 0 else -1.0)


def _common(fields: Fields, *, raw: bool) -> tuple[str, SamplingFields, float | None, bool, bool]:
    _refuse_unsupported(fields)
    model = fields.string("model", required=True, non_empty=True)
    assert model is not None
    values = SamplingFields()
    values.read_common(fields)
    if values.repeat_penalty is None:
        values.repeat_penalty = fields.number("repetition_penalty", 0.0, 10.0, lo_open=True)
    frequency = fields.number("frequency_penalty", -2.0, 2.0)
    fields.number("presence_penalty", -2.0, 2.0)  # checked, then ignored (module docstring)
    if values.repeat_penalty is None and frequency:
        values.repeat_penalty = _penalty(frequency)
    values.max_tokens = fields.integer("max_completion_tokens", 1, NO_LIMIT)
    if values.max_tokens is None:
        values.max_tokens = fields.integer("max_tokens", 1, NO_LIMIT)
    values.read_seed(fields)
    values.stop = fields.stop()
    values.raw = raw
    include = fields.boolean("include_reasoning")
    values.show_thinking = include is not False
    keep_alive = parse_keep_alive(fields.raw("keep_alive"))
    stream = bool(fields.boolean("stream"))
    options = fields.object("stream_options")
    include_usage = bool(options.boolean("include_usage")) if options is not None else False
    return model.strip(), values, keep_alive, stream, include_usage


def parse_chat(raw: bytes) -> tuple[Job, bool]:
    """A ``/v1/chat/completions`` body as a :class:`Job`, and whether usage is streamed."""
    fields = parse_body(raw)
    model, values, keep_alive, stream, include_usage = _common(fields, raw=False)
    messages = _messages(fields)
    config = build_config(values)
    return (
        Job(model=model, messages=messages, config=config, keep_alive=keep_alive, stream=stream),
        include_usage,
    )


def parse_completion(raw: bytes) -> tuple[Job, bool]:
    """A ``/v1/completions`` body as a raw-prompt :class:`Job`, and whether usage is streamed."""
    fields = parse_body(raw)
    model, values, keep_alive, stream, include_usage = _common(fields, raw=True)
    prompt = fields.raw("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if prompt is None:
        raise RequestError("'prompt' is required", "prompt")
    if not isinstance(prompt, str):
        raise RequestError(
            "'prompt' must be a string (or a list of exactly one string); "
            "batches and token arrays are not supported",
            "prompt",
        )
    if not prompt:
        raise RequestError("'prompt' must not be empty", "prompt")
    config = build_config(values)
    return (
        Job(model=model, prompt=prompt, config=config, keep_alive=keep_alive, stream=stream),
        include_usage,
    )


# -- answering ------------------------------------------------------------------------------


def usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _sse(data: object) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"


class _Chunks:
    """The chunk objects of one streamed answer."""

    def __init__(self, job: Job, *, chat: bool, include_usage: bool) -> None:
        self.chat = chat
        self.include_usage = include_usage
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = job.model

    def _wrap(self, choice: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, **choice, "logprobs": None, "finish_reason": finish}
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [choice],
        }
        if self.include_usage:
            data["usage"] = None
        return data

    def text(self, text: str, *, thought: bool = False, finish: str | None = None) -> bytes:
        key = "reasoning_content" if thought else "content"
        if self.chat:
            choice: dict[str, Any] = {"delta": {key: text} if text or finish is None else {}}
        else:
            choice = {"text": "", "reasoning_content": text} if thought else {"text": text}
        return _sse(self._wrap(choice, finish))

    def role(self) -> bytes:
        return _sse(self._wrap({"delta": {"role": "assistant", "content": ""}}, None))

    def usage(self, usage: Usage) -> bytes:
        data = self._wrap({}, None)
        data["choices"] = []
        data["usage"] = usage_dict(usage)
        return _sse(data)

    def event(self, event: InferenceEvent) -> list[bytes]:
        if isinstance(event, Content) and event.text:
            return [self.text(event.text)]
        if isinstance(event, Thought) and isinstance(event.event, ThoughtDelta):
            return [self.text(event.event.text, thought=True)]
        if isinstance(event, Complete):
            out = [self.text("", finish=event.usage.finish_reason.value)]
            if self.include_usage:
                out.append(self.usage(event.usage))
            return out
        return []


async def _stream(
    context: Context, job: Job, include_usage: bool, chat: bool, reply: Reply
) -> None:
    chunks = _Chunks(job, chat=chat, include_usage=include_usage)
    try:
        stream = await open_job(context, job)
    except GeniusError as exc:
        await reply.respond(error_response(Api.OPENAI, exc, retry_after=context.retry_after))
        return
    async with stream, aclosing(inference_events(context.stats, stream)) as events:
        try:
            event = await anext(events)
        except GeniusError as exc:
            await reply.respond(error_response(Api.OPENAI, exc, retry_after=context.retry_after))
            return
        await reply.start(200, "text/event-stream; charset=utf-8")
        if chat:
            await reply.write(chunks.role())
        try:
            while True:
                for data in chunks.event(event):
                    await reply.write(data)
                if isinstance(event, Complete):
                    break
                event = await anext(events)
        except GeniusError as exc:  # after the status line: the error travels in the stream
            await reply.write(_sse(error_payload(Api.OPENAI, status_of(exc), str(exc))))
    await reply.finish(_DONE)


async def _whole(context: Context, job: Job, chat: bool, reply: Reply) -> None:
    builder = AnswerBuilder(job.model)
    try:
        stream = await open_job(context, job)
        async with stream, aclosing(inference_events(context.stats, stream)) as events:
            async for event in events:
                builder.feed(event)
    except GeniusError as exc:
        await reply.respond(error_response(Api.OPENAI, exc, retry_after=context.retry_after))
        return
    answer = builder.build()
    finish = answer.usage.finish_reason.value
    thought = answer.thought if answer.thought else None
    if chat:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": answer.content,
                "reasoning_content": thought,
            },
            "logprobs": None,
            "finish_reason": finish,
        }
    else:
        choice = {
            "index": 0,
            "text": answer.content,
            "reasoning_content": thought,
            "logprobs": None,
            "finish_reason": finish,
        }
    await reply.json(
        200,
        {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": job.model,
            "system_fingerprint": None,
            "choices": [choice],
            "usage": usage_dict(answer.usage),
        },
    )


def _respond(context: Context, job: Job, include_usage: bool, *, chat: bool) -> Response:
    async def produce(reply: Reply) -> None:
        if job.stream:
            await _stream(context, job, include_usage, chat, reply)
        else:
            await _whole(context, job, chat, reply)

    return Watched(produce, Api.OPENAI, on_disconnect=lambda: context.stats.add(disconnected=1))


async def chat_completions(context: Context, request: Request, body: bytes) -> Response:
    job, include_usage = parse_chat(body)
    return _respond(context, job, include_usage, chat=True)


async def completions(context: Context, request: Request, body: bytes) -> Response:
    job, include_usage = parse_completion(body)
    return _respond(context, job, include_usage, chat=False)


def _model_row(status: ModelStatus, created: int) -> dict[str, Any]:
    return {"id": status.name, "object": "model", "created": created, "owned_by": "rusty-genius"}


async def model_rows(context: Context) -> list[dict[str, Any]]:
    """Downloaded and loaded models, as OpenAI lists them."""
    genius = context.genius
    downloaded = {e.reference: e for e in await genius.assets.list_models()}
    rows = []
    for status in await genius.list_models():
        if status.downloaded or status.loaded:
            entry = downloaded.get(status.name)
            created = int(entry.downloaded_at.timestamp()) if entry is not None else 0
            rows.append(_model_row(status, created))
    return rows


async def list_models(context: Context, request: Request) -> dict[str, Any]:
    return {"object": "list", "data": await model_rows(context)}


async def retrieve_model(context: Context, name: str) -> dict[str, Any] | None:
    """The model's row when this server can serve it: listed, known to the registry or the
    manifest (it is downloaded on first use), or any name when the engine needs no weights."""
    for row in await model_rows(context):
        if row["id"] == name:
            return row
    row = {"id": name, "object": "model", "created": 0, "owned_by": "rusty-genius"}
    if context.genius.backend == "pinky":
        return row
    try:
        await context.genius.assets.resolve(name, network=False)
    except GeniusError:
        return None
    return row
