"""Ollama's context window: a chat or prompt too long for the context is cut, not refused.

Ollama keeps a conversation inside ``num_ctx`` by dropping its oldest messages (system
messages and the latest message stay) and, for a single text still too long, keeps its
end; ``"truncate": false`` asks for the error instead. The engine is the one that counts
tokens, so :func:`open_fitted` asks it: a request refused with
:class:`~rusty_genius_core.ContextLengthError` before its first event is retried shorter
(:func:`shortened`) until it fits, and only then streamed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from rusty_genius_core import ContextLengthError, Role

from ._infer import inference_events, open_job

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from rusty_genius_core import InferenceEvent

    from .._streams import InferenceStream
    from ._infer import Context, Job

__all__ = ["open_fitted", "shortened"]


def _tail(text: str) -> str | None:
    return text[len(text) // 2 :] if len(text) > 1 else None


def shortened(job: Job) -> Job | None:
    """``job`` one step shorter, or ``None`` when nothing is left to cut."""
    if job.messages is None:
        assert job.prompt is not None
        tail = _tail(job.prompt)
        return None if tail is None else attrs.evolve(job, prompt=tail)
    messages = list(job.messages)
    for i, message in enumerate(messages[:-1]):
        if message.role is not Role.SYSTEM:
            del messages[i]
            return attrs.evolve(job, messages=tuple(messages))
    last = messages[-1]
    tail = _tail(last.content)
    if tail is None:
        return None
    messages[-1] = attrs.evolve(last, content=tail)
    return attrs.evolve(job, messages=tuple(messages))


async def open_fitted(
    context: Context, job: Job, *, truncate: bool
) -> tuple[InferenceStream, AsyncGenerator[InferenceEvent, None], InferenceEvent]:
    """The job's stream, its events and the first event, cut to the context if ``truncate``.

    The caller owns the stream and the events (``async with stream, aclosing(events)``).
    """
    while True:
        stream = await open_job(context, job)
        events = inference_events(context.stats, stream)
        try:
            first = await anext(events)
        except ContextLengthError:
            await events.aclose()
            await stream.aclose()
            shorter = shortened(job) if truncate else None
            if shorter is None:
                raise
            job = shorter
            continue
        except BaseException:
            await events.aclose()
            await stream.aclose()
            raise
        return stream, events, first
