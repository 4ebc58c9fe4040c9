"""The Ollama-compatible endpoints under ``/api``.

``/api/chat`` and ``/api/generate`` stream NDJSON by default (``"stream": false`` for
one object). Fields:

* ``options``: ``temperature``, ``top_p``, ``top_k``, ``min_p``, ``repeat_penalty``,
  ``seed`` (negative: random), ``num_predict`` (negative: no limit), ``stop``,
  ``num_ctx`` (the model is loaded with that context first, reloading it if it was
  loaded with another, as Ollama does). Other options are ignored, as Ollama ignores
  the ones a runner does not know.
* ``think``: ``true`` (or ``"low"``/``"medium"``/``"high"``) or unset puts the
  model's ``<think>`` text in ``thinking`` (``message.thinking`` for chat);
  ``false`` drops it.
* ``keep_alive``: a duration (``"5m"``, ``"1h30m"``) or seconds; ``0`` unloads the
  model after the request, a negative value keeps it loaded.
* ``raw`` (generate): the prompt goes to the model as-is; ``system`` (generate)
  becomes a system message. ``template`` and ``context`` are ignored; ``images``
  and ``suffix`` are refused with 400.
* ``format``: ``"json"`` (any JSON object) or a JSON Schema the answer satisfies.
* ``truncate`` (default true): a chat or prompt longer than the context loses its
  oldest messages (or the start of its text) until it fits, as Ollama does; ``false``
  answers 400 instead (``_fit.py``).
* ``tools`` (chat): function tools; the calls come back in ``message.tool_calls``
  with arguments as an object, whole, in one line before the last (as Ollama sends
  them); messages may carry ``tool_calls`` (assistant) and ``tool_name`` (tool).
* An empty prompt (or no messages) only loads the model, or unloads it when
  ``keep_alive`` is 0 (``done_reason`` ``load`` / ``unload``).

The final object carries ``done_reason`` and Ollama's timings in nanoseconds:
``total_duration`` (the request as the server saw it), ``load_duration``,
``prompt_eval_count``/``prompt_eval_duration``, ``eval_count``/``eval_duration``
(first to last generated token).
"""

from __future__ import annotations

import datetime as dt
import time
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final

import attrs
from starlette.responses import Response

from rusty_genius_core import (
    AssetComplete,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    ChatMessage,
    Complete,
    Content,
    GeniusError,
    LoadOptions,
    Role,
    Thought,
    ThoughtDelta,
    ToolCall,
    ToolCallCollector,
    ToolCallDelta,
)
from rusty_genius_core._record import Record

from . import _agent_wire
from ._answering import started_events, whole_answer
from ._create import created_tags
from ._errors import Api, dumps
from ._infer import Job, build_config
from ._replies import Reply, Watched, error_response, json_response
from ._wire import stop_strings

if TYPE_CHECKING:
    from rusty_genius_core import AssetEvent, InferenceConfig, InferenceEvent, ModelStatus, Usage

    from ._infer import Context
    from ._models_ollama import DeleteRequest, GenerateRequest, OllamaChatRequest, PullRequest
    from ._models_ollama import OllamaRequestBase as OllamaRequest

__all__ = [
    "chat",
    "delete",
    "generate",
    "parse_chat",
    "parse_generate",
    "ps",
    "pull",
    "server_version",
    "tags",
]

_ROLES: Final = {r.value: r for r in Role}
_NDJSON: Final = "application/x-ndjson"
_FOREVER: Final = dt.timedelta(microseconds=(2**63 - 1) // 1000)  # Go's max Duration


def server_version() -> str:
    try:
        return version("rusty-genius")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


def _timestamp(when: dt.datetime | None = None) -> str:
    when = when or dt.datetime.now(dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LoadOnly(Record):
    """A chat or generate request without a prompt: load the model, or unload it."""

    model: str
    keep_alive: float | None
    load_options: LoadOptions | None
    chat: bool


# -- requests -------------------------------------------------------------------------------


def _load_options(body: OllamaRequest) -> LoadOptions | None:
    options = body.options
    if options is None or options.num_ctx is None:
        return None
    return LoadOptions(context_size=options.num_ctx)


def _config(body: OllamaRequest, *, raw: bool = False) -> InferenceConfig:
    options = body.options
    if options is None:
        return build_config(raw=raw, show_thinking=body.show_thinking)
    predict = options.num_predict
    return build_config(
        temperature=options.temperature,
        top_p=options.top_p,
        top_k=options.top_k,
        min_p=options.min_p,
        repeat_penalty=options.repeat_penalty,
        max_tokens=predict if predict is not None and predict > 0 else None,
        seed=options.seed if options.seed is not None and options.seed >= 0 else None,
        stop=stop_strings(options.stop),
        raw=raw,
        show_thinking=body.show_thinking,
    )


def parse_chat(body: OllamaChatRequest) -> Job | LoadOnly:
    """A validated ``/api/chat`` body as a :class:`Job`, or a load-only request."""
    load_options = _load_options(body)
    if not body.messages:
        return LoadOnly(
            model=body.model, keep_alive=body.keep_alive, load_options=load_options, chat=True
        )
    tools = _agent_wire.tools(body.tools)
    return Job(
        model=body.model,
        messages=tuple(
            _agent_wire.built(
                lambda m=m, i=i: ChatMessage(
                    role=_ROLES[m.role],
                    content=m.content or "",
                    tool_calls=_agent_wire.ollama_calls(m.tool_calls, f"messages[{i}].tool_calls"),
                    name=m.tool_name if m.role == "tool" else None,
                ),
                f"messages[{i}]",
            )
            for i, m in enumerate(body.messages)
        ),
        config=_config(body),
        keep_alive=body.keep_alive,
        load_options=load_options,
        stream=body.stream is not False,
        tools=tools,
        response_format=_agent_wire.ollama_format(body.format),
        truncate=body.truncate is not False,
    )


def parse_generate(body: GenerateRequest) -> Job | LoadOnly:
    """A validated ``/api/generate`` body as a :class:`Job`, or a load-only request."""
    load_options = _load_options(body)
    prompt = body.prompt or ""
    raw = body.raw is True
    if not prompt:
        return LoadOnly(
            model=body.model, keep_alive=body.keep_alive, load_options=load_options, chat=False
        )
    common: dict[str, Any] = {
        "model": body.model,
        "config": _config(body, raw=raw),
        "keep_alive": body.keep_alive,
        "load_options": load_options,
        "stream": body.stream is not False,
        "response_format": _agent_wire.ollama_format(body.format),
        "truncate": body.truncate is not False,
    }
    if body.system and not raw:
        messages = (
            ChatMessage(role=Role.SYSTEM, content=body.system),
            ChatMessage(role=Role.USER, content=prompt),
        )
        return Job(messages=messages, **common)
    return Job(prompt=prompt, **common)


# -- answering ------------------------------------------------------------------------------


def _ns(seconds: float) -> int:
    return max(0, round(seconds * 1e9))


def _final(job: Job, usage: Usage) -> dict[str, Any]:
    reason = usage.finish_reason.value
    return {
        "done": True,
        "done_reason": "stop" if reason == "tool_calls" else reason,  # as Ollama says it
        "total_duration": _ns(time.perf_counter() - job.received),
        "load_duration": _ns(usage.load_duration),
        "prompt_eval_count": usage.prompt_tokens,
        "prompt_eval_duration": _ns(usage.prompt_duration),
        "eval_count": usage.completion_tokens,
        "eval_duration": _ns(usage.decode_duration),
    }


def _piece(job: Job, *, chat: bool, content: str, thinking: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"model": job.model, "created_at": _timestamp()}
    if chat:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        data["message"] = message
    else:
        data["response"] = content
        if thinking:
            data["thinking"] = thinking
    return data


def _line(data: object) -> bytes:
    return dumps(data) + b"\n"


def _calls_out(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    """Calls as Ollama sends them: arguments as an object."""
    return [{"function": {"name": c.name, "arguments": c.parsed_arguments()}} for c in calls]


def _calls_line(job: Job, collector: ToolCallCollector) -> bytes:
    piece = _piece(job, chat=True, content="", thinking=None)
    piece["message"]["tool_calls"] = _calls_out(collector.calls())
    return _line({**piece, "done": False})


def _event_line(job: Job, event: InferenceEvent, *, chat: bool) -> bytes | None:
    if isinstance(event, Content) and event.text:
        return _line({**_piece(job, chat=chat, content=event.text, thinking=None), "done": False})
    if isinstance(event, Thought) and isinstance(event.event, ThoughtDelta):
        piece = _piece(job, chat=chat, content="", thinking=event.event.text)
        return _line({**piece, "done": False})
    if isinstance(event, Complete):
        return _line(
            {**_piece(job, chat=chat, content="", thinking=None), **_final(job, event.usage)}
        )
    return None


async def _stream(context: Context, job: Job, chat: bool, reply: Reply) -> None:
    async with started_events(context, job, Api.OLLAMA, reply, truncate=job.truncate) as started:
        if started is None:
            return
        event, events = started
        await reply.start(200, _NDJSON)
        calls = ToolCallCollector()
        try:
            while True:
                if isinstance(event, ToolCallDelta):
                    calls.add(event)  # Ollama sends each call whole
                elif isinstance(event, Complete) and calls and chat:
                    await reply.write(_calls_line(job, calls))
                line = _event_line(job, event, chat=chat)
                if line is not None:
                    await reply.write(line)
                if isinstance(event, Complete):
                    break
                event = await anext(events)
        except GeniusError as exc:
            await reply.write(_line({"error": str(exc)}))
    await reply.finish()


async def _whole(context: Context, job: Job, chat: bool, reply: Reply) -> None:
    answer = await whole_answer(context, job, Api.OLLAMA, reply, truncate=job.truncate)
    if answer is None:
        return
    piece = _piece(job, chat=chat, content=answer.content, thinking=answer.thought or None)
    if chat and answer.tool_calls:
        piece["message"]["tool_calls"] = _calls_out(answer.tool_calls)
    await reply.json(200, {**piece, **_final(job, answer.usage)})


async def _load_only(context: Context, request: LoadOnly, reply: Reply) -> None:
    genius = context.genius
    try:
        if request.keep_alive == 0:
            await genius.unload(request.model)
            reason = "unload"
        else:
            await context.load(
                request.model, request.load_options or LoadOptions(), keep_alive=request.keep_alive
            )
            reason = "load"
    except GeniusError as exc:
        await reply.respond(error_response(Api.OLLAMA, exc, retry_after=context.retry_after))
        return
    data: dict[str, Any] = {"model": request.model, "created_at": _timestamp()}
    if request.chat:
        data["message"] = {"role": "assistant", "content": ""}
    else:
        data["response"] = ""
    await reply.json(200, {**data, "done": True, "done_reason": reason})


def _respond(context: Context, parsed: Job | LoadOnly, *, chat: bool) -> Response:
    async def produce(reply: Reply) -> None:
        if isinstance(parsed, LoadOnly):
            await _load_only(context, parsed, reply)
        elif parsed.stream:
            await _stream(context, parsed, chat, reply)
        else:
            await _whole(context, parsed, chat, reply)

    return Watched(produce, Api.OLLAMA, on_disconnect=lambda: context.stats.add(disconnected=1))


def chat(context: Context, body: OllamaChatRequest) -> Response:
    return _respond(context, parse_chat(body), chat=True)


def generate(context: Context, body: GenerateRequest) -> Response:
    return _respond(context, parse_generate(body), chat=False)


# -- models ---------------------------------------------------------------------------------


def _details(quantization: str) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "",
        "families": None,
        "parameter_size": "",
        "quantization_level": quantization,
    }


async def tags(context: Context) -> Response:
    """Downloaded models, then created ones (over their base's file)."""
    entries = await context.genius.assets.list_models()
    return json_response(
        {
            "models": [
                {
                    "name": e.reference,
                    "model": e.reference,
                    "modified_at": _timestamp(e.downloaded_at),
                    "size": e.size,
                    "digest": e.sha256,
                    "details": _details(e.quantization),
                }
                for e in entries
            ]
            + await created_tags(context.genius.assets)
        }
    )


def _expires(status: ModelStatus) -> str:
    """Ollama's ``expires_at``; a keep_alive past Go's longest duration reads as forever.

    A client may send any finite number of seconds, and a datetime cannot hold
    most of them, so the time is capped where Ollama's own would be.
    """
    now = dt.datetime.now(dt.UTC)
    if status.expires_at is None or status.expires_at - now.timestamp() >= _FOREVER.total_seconds():
        return _timestamp(now + _FOREVER)
    return _timestamp(dt.datetime.fromtimestamp(status.expires_at, dt.UTC))


async def ps(context: Context) -> Response:
    digests = {e.reference: e.sha256 for e in await context.genius.assets.list_models()}
    return json_response(
        {
            "models": [
                {
                    "name": m.name,
                    "model": m.name,
                    "size": m.size or 0,
                    "digest": digests.get(m.name, ""),
                    "details": _details(m.quantization),
                    "expires_at": _expires(m),
                    "size_vram": 0,
                }
                for m in await context.genius.ps()
            ]
        }
    )


def _pull_lines(event: AssetEvent) -> list[dict[str, Any]]:
    if isinstance(event, AssetStarted):
        return [
            {
                "status": f"pulling {event.filename}",
                "digest": event.filename,
                "total": event.total or 0,
                "completed": 0,
            }
        ]
    if isinstance(event, AssetProgress):
        return [
            {
                "status": f"pulling {event.filename}",
                "digest": event.filename,
                "total": event.total or 0,
                "completed": event.done,
            }
        ]
    if isinstance(event, AssetComplete):
        return [{"status": "verifying sha256 digest"}, {"status": "success"}]
    return []


def pull(context: Context, body: PullRequest) -> Response:
    reference = body.model
    stream = body.stream is not False

    async def produce(reply: Reply) -> None:
        events = context.genius.pull(reference)
        async with events:
            try:
                first = await anext(events)
                while isinstance(first, AssetFailed):  # the failure itself is raised next
                    first = await anext(events)
                if not stream:
                    async for _ in events:
                        pass
            except GeniusError as exc:
                await reply.respond(error_response(Api.OLLAMA, exc))
                return
            if not stream:
                await reply.json(200, {"status": "success"})
                return
            await reply.start(200, _NDJSON)
            await reply.write(_line({"status": "pulling manifest"}))
            event: AssetEvent = first
            try:
                while True:
                    for data in _pull_lines(event):
                        await reply.write(_line(data))
                    event = await anext(events)
            except StopAsyncIteration:
                pass
            except GeniusError as exc:
                await reply.write(_line({"error": str(exc)}))
        await reply.finish()

    return Watched(produce, Api.OLLAMA)


async def delete(context: Context, body: DeleteRequest) -> Response:
    """200 with an empty body when the model was deleted, as Ollama answers."""
    reference = body.model
    if not await context.genius.remove_model(reference):
        return error_response(Api.OLLAMA, 404, f"model '{reference}' not found")
    return Response(status_code=200)
