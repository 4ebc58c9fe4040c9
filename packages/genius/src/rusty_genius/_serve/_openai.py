"""The OpenAI-compatible endpoints: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``.

Request fields and how they map (unset sampling fields keep rusty-genius's defaults;
``temperature: 0`` is greedy decoding):

* ``temperature`` [0, 5], ``top_p`` (0, 1], ``seed`` [0, 2**32-1] → :class:`Sampling`
  and :class:`InferenceConfig` as they are. Extensions, as vLLM and llama-server take
  them: ``top_k``, ``min_p``, ``repeat_penalty`` (or vLLM's ``repetition_penalty``),
  ``keep_alive`` (Ollama's semantics), ``include_reasoning`` (``false`` drops thoughts),
  ``cache_prompt`` (llama-server's: reuse a slot's cached prompt prefix; unset reuses
  unless the request has a ``seed``).
* ``frequency_penalty`` f in [-2, 2], when no ``repeat_penalty`` is given, becomes
  llama.cpp's multiplicative ``repeat_penalty = (1 + |f|/2) ** sign(f)``: 0 is off,
  2 doubles the penalty, -2 halves the logits' penalty (favours repeats).
  ``presence_penalty`` is accepted and ignored (llama.cpp's sampler chain here has no
  additive penalty).
* ``max_completion_tokens`` (or the older ``max_tokens``); none means until the model
  stops or the context is full. ``stop``: a string or up to 16 strings.
* ``stream``, ``stream_options.include_usage`` (a last chunk with empty ``choices``
  and ``usage``, as OpenAI sends it).
* ``tools`` (function tools with JSON-Schema parameters), ``tool_choice`` (``none``,
  ``auto``, ``required`` or a named function), ``parallel_tool_calls`` (false: at
  most one call per answer);
  assistant messages' ``tool_calls`` and ``tool`` messages' ``tool_call_id`` go back
  to the model. Calls stream as OpenAI streams them: a first delta with ``id``,
  ``type`` and ``function.name`` (empty ``arguments``), then argument fragments;
  ``finish_reason`` is ``tool_calls``.
* ``response_format``: ``text``, ``json_object``, ``json_schema`` (``schema``,
  ``name``, ``strict``); a schema must be a valid JSON Schema.
* Refused with 400, naming the field: ``n`` other than 1, ``logprobs``,
  ``functions``, ``echo``, ``suffix``, ``best_of`` > 1, ``logit_bias``, non-text
  message parts. A prompt longer than the context: 400, ``context_length_exceeded``.

Reasoning (``<think>`` blocks) comes back as ``reasoning_content`` on stream deltas
and on messages (``null`` when there was none), never inside ``content``.
``/v1/completions`` sends its prompt to the model as-is (no chat template), as
OpenAI's legacy completions do. ``finish_reason`` is ``stop``, ``length`` or
``tool_calls`` (``cancelled`` when something else cancelled the request).
"""

from __future__ import annotations

import math
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import (
    ChatMessage,
    Complete,
    Content,
    GeniusError,
    InferenceConfig,
    Role,
    Thought,
    ThoughtDelta,
    ToolCallDelta,
)

from . import _agent_wire
from ._answering import started_events, whole_answer
from ._errors import Api, dumps, error_payload, status_of
from ._infer import Job, build_config
from ._replies import Reply, Watched, json_response
from ._wire import stop_strings

if TYPE_CHECKING:
    from starlette.responses import Response

    from rusty_genius_core import InferenceEvent, ModelStatus, Usage

    from ._infer import Context
    from ._models_openai import ChatCompletionRequest, CompletionRequest, OpenAIRequestBase

__all__ = [
    "chat_completions",
    "completions",
    "list_models",
    "parse_chat",
    "parse_completion",
    "retrieve_model",
]

_ROLES: Final = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
}
_DONE: Final = b"data: [DONE]\n\n"


# -- requests -------------------------------------------------------------------------------


def _penalty(f: float) -> float:
    """``frequency_penalty`` (additive, OpenAI) as a multiplicative llama.cpp repeat penalty."""
    return math.pow(1.0 + abs(f) / 2.0, 1.0 if f >= 0 else -1.0)


def _config(body: OpenAIRequestBase, *, raw: bool) -> InferenceConfig:
    repeat = body.repeat_penalty if body.repeat_penalty is not None else body.repetition_penalty
    if repeat is None and body.frequency_penalty:
        repeat = _penalty(body.frequency_penalty)
    # presence_penalty is checked, then ignored (module docstring)
    max_tokens = body.max_completion_tokens
    return build_config(
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        min_p=body.min_p,
        repeat_penalty=repeat,
        max_tokens=max_tokens if max_tokens is not None else body.max_tokens,
        seed=body.seed,
        stop=stop_strings(body.stop),
        raw=raw,
        show_thinking=body.include_reasoning is not False,
        cache_prompt=body.cache_prompt,
    )


def _include_usage(body: OpenAIRequestBase) -> bool:
    return body.stream_options is not None and body.stream_options.include_usage is True


def parse_chat(body: ChatCompletionRequest) -> tuple[Job, bool]:
    """A validated ``/v1/chat/completions`` body as a :class:`Job`, and whether usage streams."""
    messages = tuple(
        _agent_wire.built(
            lambda m=m, i=i: ChatMessage(
                role=_ROLES[m.role],
                content=m.text(),
                tool_calls=_agent_wire.openai_calls(m.tool_calls, f"messages[{i}].tool_calls"),
                tool_call_id=m.tool_call_id,
                name=m.name if m.role == "tool" else None,
            ),
            f"messages[{i}]",
        )
        for i, m in enumerate(body.messages)
    )
    tools = _agent_wire.tools(body.tools)
    job = Job(
        model=body.model,
        messages=messages,
        config=_config(body, raw=False),
        keep_alive=body.keep_alive,
        stream=body.stream is True,
        tools=tools,
        tool_choice=_agent_wire.tool_choice(
            body.tool_choice, tools, parallel=body.parallel_tool_calls
        ),
        response_format=_agent_wire.response_format(body.response_format),
    )
    return job, _include_usage(body)


def parse_completion(body: CompletionRequest) -> tuple[Job, bool]:
    """A validated ``/v1/completions`` body as a raw-prompt :class:`Job`, and usage streaming."""
    job = Job(
        model=body.model,
        prompt=body.prompt,
        config=_config(body, raw=True),
        keep_alive=body.keep_alive,
        stream=body.stream is True,
        response_format=_agent_wire.response_format(body.response_format),
    )
    return job, _include_usage(body)


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

    def tool_call(self, delta: ToolCallDelta) -> bytes:
        """One piece of a call, as OpenAI streams it: the first with id, type and name."""
        function: dict[str, Any] = {"arguments": delta.arguments}
        call: dict[str, Any] = {"index": delta.index}
        if delta.id is not None:
            call.update(id=delta.id, type="function")
            function = {"name": delta.name, "arguments": delta.arguments}
        call["function"] = function
        return _sse(self._wrap({"delta": {"tool_calls": [call]}}, None))

    def event(self, event: InferenceEvent) -> list[bytes]:
        if isinstance(event, Content) and event.text:
            return [self.text(event.text)]
        if isinstance(event, ToolCallDelta) and self.chat:
            return [self.tool_call(event)]
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
    async with started_events(context, job, Api.OPENAI, reply) as started:
        if started is None:
            return
        event, events = started
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
    answer = await whole_answer(context, job, Api.OPENAI, reply)
    if answer is None:
        return
    finish = answer.usage.finish_reason.value
    thought = answer.thought if answer.thought else None
    if chat:
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in answer.tool_calls
        ]
        choice: dict[str, Any] = {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": answer.content if answer.content or not calls else None,
                "reasoning_content": thought,
                **({"tool_calls": calls} if calls else {}),
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


def chat_completions(context: Context, body: ChatCompletionRequest) -> Response:
    job, include_usage = parse_chat(body)
    return _respond(context, job, include_usage, chat=True)


def completions(context: Context, body: CompletionRequest) -> Response:
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


async def list_models(context: Context) -> Response:
    return json_response({"object": "list", "data": await model_rows(context)})


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
