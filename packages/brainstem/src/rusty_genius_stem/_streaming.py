"""One request's engine stream: events forwarded to its consumer, the ``Complete`` returned."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import attrs

from rusty_genius_core import Complete, EngineError, Infer, OutputBody, ProcessStart

from ._records import Job, cancelled_complete

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from rusty_genius_core import AdapterSet, InferenceEvent

    from ._leftover import EngineRun

__all__ = ["Send", "stream_events"]

Send = Callable[[str, OutputBody], Awaitable[None]]
"""Sends one body of one request to the consumer, with backpressure."""


async def stream_events(
    job: Job,
    command: Infer,
    run: EngineRun[OutputBody],
    send: Send,
    adapters: AdapterSet = (),
) -> OutputBody:
    """Run ``job``'s engine stream in ``run``, sending its events; its final ``Complete``.

    ``adapters`` are the request's LoRA adapters over its instance's model (which may be
    loaded under another alias of the same base file: events name the request's model).
    """
    instance = job.instance
    assert instance is not None
    assert instance.engine is not None
    events = instance.engine.infer(
        prompt=command.prompt,
        messages=command.messages,
        config=command.config,
        stop=job.stop,
        tools=command.tools,
        tool_choice=command.tool_choice,
        response_format=command.response_format,
        **({"adapters": adapters} if adapters else {}),  # engines older than adapters
    )
    load_seconds = job.load_seconds
    cold = load_seconds is not None
    final: Complete | None = None
    announced = False
    try:
        async for event in events:
            if run.abandoned:
                break
            run.sending = True  # waiting for our consumer is not the engine's fault
            if isinstance(event, ProcessStart):
                event = attrs.evolve(event, cold=cold, model=job.model)
                announced = True
            elif not announced:
                await send(job.request_id, ProcessStart(model=job.model, cold=cold))
                announced = True
            if isinstance(event, Complete):
                final = event
                break
            await send(job.request_id, event)
            run.sending = False
    finally:
        run.sending = False
        await _aclose(events)
    if final is None:
        if job.cancelled:
            return cancelled_complete()
        raise EngineError(
            f"engine {instance.engine.backend!r} ended request {job.request_id!r} without Complete"
        )
    # The load is the orchestrator's business: this request paid for it only if it waited.
    return Complete(usage=attrs.evolve(final.usage, load_duration=load_seconds or 0.0))


async def _aclose(events: AsyncGenerator[InferenceEvent, None]) -> None:
    """Close the engine's iterator even when we are cancelled: its cleanup stops the worker."""
    with anyio.CancelScope(shield=True):
        await events.aclose()
