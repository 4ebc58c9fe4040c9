"""The OpenAI chat/completions wire format, as the remote engine speaks it.

Requests: chat messages, and prompts without ``raw``, go to
``POST /v1/chat/completions`` (a prompt becomes one user message, as the local
engines template it); a ``raw`` prompt goes to ``POST /v1/completions``. Both
ask for ``stream=True`` and ``stream_options.include_usage``, and carry the
sampling, ``max_tokens``, ``seed`` and stop strings.

Tools, ``tool_choice`` and ``response_format`` go as OpenAI spells them, and so do
the messages' ``tool_calls`` and ``tool_call_id``.

Responses: each server-sent event's JSON becomes ``(text, is_thought)`` pieces
(reasoning deltas are ``reasoning_content``, or ``reasoning`` as newer vLLM
names it) and :class:`~rusty_genius_core.ToolCallDelta` s for streamed
``tool_calls`` (a server that leaves out a call's id gets one made up);
``finish_reason`` and ``usage`` are kept in a :class:`Reply`; the
server's token counts go into the final :class:`~rusty_genius_core.Usage`.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Final

import attrs

from rusty_genius_core import (
    ChatMessage,
    EngineError,
    FinishReason,
    InferenceConfig,
    ResponseKind,
    Role,
    ToolCallDelta,
    Usage,
)
from rusty_genius_core._record import FieldsRepr

if TYPE_CHECKING:
    from ._base import EngineRequest

__all__ = ["Piece", "Reply", "deltas", "error_text", "finish_reason", "request_body", "usage_of"]

_FINISH: Final = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
}
Piece = tuple[str, bool] | ToolCallDelta
"""What one event carries: ``(text, is_thought)``, or a piece of a tool call."""


@attrs.define(repr=False)
class Reply(FieldsRepr):
    """What the server said about one request besides its text."""

    finish: str | None = None
    usage: dict[str, Any] | None = None
    done: bool = False  # ``data: [DONE]`` arrived: nothing after it counts
    calls: set[int] = attrs.Factory(set)  # the tool calls begun, by index


def request_body(model: str | None, request: EngineRequest) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of ``request`` for the server's ``model``."""
    config = request.config
    body: dict[str, Any] = {
        "model": model,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    body.update(_sampling_fields(config))
    if request.prompt is not None and config.raw:
        body["prompt"] = request.prompt
        return "/v1/completions", body
    messages = request.messages
    if messages is None:
        assert request.prompt is not None
        messages = (ChatMessage(role=Role.USER, content=request.prompt),)
    body["messages"] = [_message(m) for m in messages]
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    **({"strict": True} if t.strict else {}),
                },
            }
            for t in request.tools
        ]
        choice = request.tool_choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": choice.function}}
            if choice.function is not None
            else choice.mode.value
        )
        if not choice.parallel:
            body["parallel_tool_calls"] = False
    _response_format(request, body)
    return "/v1/chat/completions", body


def _message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role.value, "content": message.content}
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None and message.role is Role.TOOL:
        out["name"] = message.name
    return out


def _response_format(request: EngineRequest, body: dict[str, Any]) -> None:
    form = request.response_format
    if form.kind is ResponseKind.JSON_OBJECT:
        body["response_format"] = {"type": "json_object"}
    elif form.kind is ResponseKind.JSON_SCHEMA:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": form.name, "schema": form.schema, "strict": form.strict},
        }


def _tool_deltas(calls: object, reply: Reply) -> list[Piece]:
    out: list[Piece] = []
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        index = call.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        assert isinstance(function, dict)
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else ""
        if isinstance(arguments, dict):  # some servers send an object, as Ollama does
            text = json.dumps(arguments)
        if index not in reply.calls:
            name = function.get("name")
            if not isinstance(name, str) or not name:
                continue  # a fragment of a call that never began
            reply.calls.add(index)
            ident = call.get("id")
            ident = ident if isinstance(ident, str) and ident else f"call_{index}"
            out.append(ToolCallDelta(index=index, id=ident, name=name, arguments=text))
        elif text:
            out.append(ToolCallDelta(index=index, arguments=text))
    return out


def _sampling_fields(config: InferenceConfig) -> dict[str, Any]:
    sampling = config.sampling
    body: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,  # vLLM, llama-server and genius serve take it
        "min_p": sampling.min_p,
        "max_tokens": config.max_tokens,
    }
    if sampling.repeat_penalty != 1.0:
        body["repeat_penalty"] = sampling.repeat_penalty  # llama-server, genius serve
        body["repetition_penalty"] = sampling.repeat_penalty  # vLLM
    if config.seed is not None:
        body["seed"] = config.seed
    if config.stop:
        body["stop"] = list(config.stop)
    if not config.show_thinking:
        body["include_reasoning"] = False
    return body


def error_text(body: bytes) -> str:
    """The message of an OpenAI-style error body (or the start of whatever it is)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace").strip()[:500]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if error is not None:
        return str(error)
    return json.dumps(data)[:500]


def deltas(payload: str, reply: Reply, url: str) -> list[Piece]:
    """The pieces of one SSE payload; records finish and usage in ``reply``."""
    if payload.strip() == "[DONE]":
        reply.done = True
        return []
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise EngineError(f"{url} sent an event that is not JSON: {payload[:200]!r}") from exc
    if not isinstance(data, dict):
        raise EngineError(f"{url} sent an event that is not a JSON object: {payload[:200]!r}")
    if "error" in data:
        raise EngineError(f"{url} reported an error mid-stream: {error_text(payload.encode())}")
    usage = data.get("usage")
    if isinstance(usage, dict):
        reply.usage = usage
    out: list[Piece] = []
    choices = data.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta")
        part = delta if isinstance(delta, dict) else choice
        reasoning = part.get("reasoning_content") or part.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out.append((reasoning, True))
        content = part.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(content, str) and content:
            out.append((content, False))
        if isinstance(delta, dict):
            out.extend(_tool_deltas(delta.get("tool_calls"), reply))
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            reply.finish = finish
    return out


def finish_reason(reply: Reply) -> FinishReason:
    """``stop``, ``length`` and ``tool_calls`` map back; anything else (or nothing) is ``stop``."""
    return _FINISH.get(reply.finish or "stop", FinishReason.STOP)


def _count(usage: dict[str, Any] | None, key: str) -> int | None:
    value = usage.get(key) if usage else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def usage_of(measured: Usage, reported: dict[str, Any] | None) -> Usage:
    """Token counts from the server when it sent them; timings as measured here."""
    prompt = _count(reported, "prompt_tokens")
    completion = _count(reported, "completion_tokens")
    changes: dict[str, Any] = {}
    if prompt is not None:
        changes["prompt_tokens"] = prompt
    if completion is not None:
        changes["completion_tokens"] = completion
        rate = 0.0
        if completion > 1 and measured.decode_duration > 0:
            rate = (completion - 1) / measured.decode_duration
        changes["decode_tokens_per_second"] = rate if math.isfinite(rate) else 0.0
    return attrs.evolve(measured, **changes)
