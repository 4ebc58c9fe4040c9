"""What both APIs share: a parsed inference job, its stream and its bookkeeping."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

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
)

from .._genius import Genius
from ._exchange import Stats

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from .._genius import InferenceStream

__all__ = ["Context", "Job", "inference_events"]

_ASSET_EVENTS = (AssetStarted, AssetProgress, AssetComplete, AssetFailed)


@attrs.frozen(kw_only=True)
class Job:
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


@attrs.frozen(kw_only=True)
class Context:
    """What every handler needs: the running facade and the server's counters."""

    genius: Genius
    stats: Stats
    retry_after: int
    max_body_bytes: int


async def open_job(context: Context, job: Job) -> InferenceStream:
    """Load with the job's options if it has any, then create (not start) its stream."""
    genius = context.genius
    if job.load_options is not None:
        await genius.load(job.model, job.load_options)
    if job.messages is not None:
        return genius.infer(job.model, job.messages, config=job.config, keep_alive=job.keep_alive)
    assert job.prompt is not None
    return genius.infer(job.model, job.prompt, config=job.config, keep_alive=job.keep_alive)


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
