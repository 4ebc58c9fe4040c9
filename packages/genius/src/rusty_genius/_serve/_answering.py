"""The two ways both APIs answer an inference job: all at once, or streamed from its first event.

Until the first event nothing has been sent, so a failure there is answered with its
status in the API's own error shape; once the status line is out, each API reports an
error inside its stream, its own way. ``truncate`` (Ollama's default) cuts a prompt too
long for the context until it fits (:mod:`._fit`) instead of refusing it.
"""

from __future__ import annotations

from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING

from rusty_genius_core import GeniusError

from .._answer import AnswerBuilder
from ._fit import open_fitted
from ._replies import error_response

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from rusty_genius_core import InferenceEvent

    from .._answer import Answer
    from ._errors import Api
    from ._infer import Context, Job
    from ._replies import Reply

__all__ = ["started_events", "whole_answer"]


async def whole_answer(
    context: Context, job: Job, api: Api, reply: Reply, *, truncate: bool = False
) -> Answer | None:
    """The job's whole answer; ``None`` when it failed, which is answered with its status."""
    builder = AnswerBuilder(job.model)
    try:
        stream, events, event = await open_fitted(context, job, truncate=truncate)
        async with stream, aclosing(events):
            builder.feed(event)
            async for event in events:
                builder.feed(event)
    except GeniusError as exc:
        await reply.respond(error_response(api, exc, retry_after=context.retry_after))
        return None
    return builder.build()


@asynccontextmanager
async def started_events(
    context: Context, job: Job, api: Api, reply: Reply, *, truncate: bool = False
) -> AsyncIterator[tuple[InferenceEvent, AsyncIterator[InferenceEvent]] | None]:
    """The job's first event and the rest of its events, open for the block.

    ``None`` when the job failed before its first event; that failure is answered with
    its status already, and the block sends nothing more.
    """
    try:
        stream, events, event = await open_fitted(context, job, truncate=truncate)
    except GeniusError as exc:
        await reply.respond(error_response(api, exc, retry_after=context.retry_after))
        yield None
        return
    async with stream, aclosing(events):
        yield event, events
