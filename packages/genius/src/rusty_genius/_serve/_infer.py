"""What both APIs share: a parsed inference job, its stream and its bookkeeping."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

import attrs

from rusty_genius_core import (
    AssetComplete,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    BusyError,
    ChatMessage,
    Complete,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ResponseFormat,
    Sampling,
    Tool,
    ToolChoice,
    limits,
)
from rusty_genius_core._record import Record

from .._genius import Genius
from ._statistics import Stats

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .._streams import InferenceStream

__all__ = ["NO_LIMIT", "Context", "Job", "build_config", "inference_events", "open_job"]

_ASSET_EVENTS = (AssetStarted, AssetProgress, AssetComplete, AssetFailed)

_CUSTOM_LOADS: Final = 64  # models remembered as loaded with custom options

NO_LIMIT: Final = limits.MAX_CONTEXT
"""``max_tokens`` when a request sets none: the engine stops at the context's end."""


def build_config(
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    min_p: float | None = None,
    repeat_penalty: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    stop: tuple[str, ...] = (),
    raw: bool = False,
    show_thinking: bool = True,
    cache_prompt: bool | None = None,
) -> InferenceConfig:
    """The :class:`InferenceConfig` of a request; unset sampling fields keep their defaults.

    ``temperature == 0`` asks for greedy decoding, so the other unset fields take
    :meth:`Sampling.greedy`'s values, as the command line does. The request models
    checked every range already (they read the same limits as the config).
    """
    base = Sampling.greedy() if temperature == 0.0 else Sampling()
    return InferenceConfig(
        max_tokens=max_tokens if max_tokens is not None else NO_LIMIT,
        show_thinking=show_thinking,
        stop=stop,
        seed=seed,
        raw=raw,
        cache_prompt=cache_prompt,
        sampling=Sampling(
            temperature=base.temperature if temperature is None else temperature,
            top_p=base.top_p if top_p is None else top_p,
            top_k=base.top_k if top_k is None else top_k,
            min_p=base.min_p if min_p is None else min_p,
            repeat_penalty=base.repeat_penalty if repeat_penalty is None else repeat_penalty,
        ),
    )


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Job(Record):
    """One inference request, parsed: exactly one of ``prompt`` and ``messages``.

    ``load_options`` (Ollama's ``num_ctx``) makes the server load the model with
    them first, so a larger context reloads it, as Ollama does.
    """

    model: str
    prompt: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    config: InferenceConfig
    keep_alive: float | None = None
    load_options: LoadOptions | None = None
    stream: bool = False
    received: float = attrs.field(factory=time.perf_counter)
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = attrs.field(factory=ToolChoice)
    response_format: ResponseFormat = attrs.field(factory=ResponseFormat)
    truncate: bool = False
    """Cut a prompt longer than the context to fit (Ollama's ``truncate``), else refuse it."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Context(Record):
    """What every handler needs: the running facade and the server's counters."""

    genius: Genius
    stats: Stats
    retry_after: int
    max_body_bytes: int
    # Models this server loaded with other than their default options (Ollama's num_ctx),
    # so that the next request without options gets the default again, as Ollama's
    # scheduler does, not the last request's context.
    custom_loads: dict[str, LoadOptions] = attrs.field(factory=dict)

    async def load(self, model: str, options: LoadOptions | None, **kw: float | None) -> None:
        """Load ``model`` with ``options`` (``None``: its default) when the request needs it.

        A request without options loads nothing unless this server last loaded the
        model with custom ones: then it reloads it with the default (once the running
        requests are done: the brainstem waits for them before a reload).
        """
        if options is None:
            if model not in self.custom_loads:
                return
            options = LoadOptions()
        await self.genius.load(model, options, **kw)
        self.custom_loads.pop(model, None)
        if options != LoadOptions():
            self.custom_loads[model] = options
            while len(self.custom_loads) > _CUSTOM_LOADS:
                del self.custom_loads[next(iter(self.custom_loads))]


async def open_job(context: Context, job: Job) -> InferenceStream:
    """Load with the job's options if it has any, then create (not start) its stream."""
    genius = context.genius
    await context.load(job.model, job.load_options)
    given = job.messages if job.messages is not None else job.prompt
    assert given is not None
    return genius.infer(
        job.model,
        given,
        config=job.config,
        keep_alive=job.keep_alive,
        tools=job.tools,
        tool_choice=job.tool_choice,
        response_format=job.response_format,
    )


async def inference_events(
    stats: Stats, stream: InferenceStream
) -> AsyncGenerator[InferenceEvent, None]:
    """The stream's inference events (asset events of a load are skipped), counted in ``stats``.

    The request counts as ``waiting`` from its submission to its first event, then
    as ``streaming``; a :class:`~rusty_genius_core.BusyError` counts as ``refused``.
    """
    phase = "waiting"
    stats.add(waiting=1)
    try:
        async for event in stream:
            if isinstance(event, _ASSET_EVENTS):
                continue
            if phase == "waiting":
                phase = "streaming"
                stats.add(waiting=-1, streaming=1)
            if isinstance(event, Complete):
                stats.add(served=1)
            yield event
    except BusyError:
        stats.add(refused=1)
        raise
    finally:
        stats.add(**{phase: -1})
