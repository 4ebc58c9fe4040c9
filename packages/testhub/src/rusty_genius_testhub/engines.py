"""Engine doubles the brainstem and genius tests share, built on Pinky.

- :class:`NeedsWeights`: Pinky that asks for a download first, as llama.cpp does.
- :class:`HungEngine` and :class:`HungFirst`: an engine that ignores its stop signal, and a
  factory whose first engine is one (issue 18: the stop deadline).
- :func:`collect`, :func:`events_of`, :func:`text_of` and :func:`final`: read what an engine's
  ``infer`` yields; :func:`comparable` leaves out the timings that differ run to run.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from rusty_genius_core import Complete, Content, Usage
from rusty_genius_cortex import PinkyEngine

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Sequence

    from rusty_genius_core import InferenceEvent
    from rusty_genius_cortex import Engine, StopSignal

__all__ = [
    "HungEngine",
    "HungFirst",
    "NeedsWeights",
    "collect",
    "comparable",
    "events_of",
    "final",
    "text_of",
]


async def collect(stream: AsyncIterator[InferenceEvent]) -> list[InferenceEvent]:
    """Every event of one ``infer`` stream, in order."""
    return [event async for event in stream]


async def events_of(engine: Engine, **request: Any) -> list[InferenceEvent]:
    """Every event of ``engine.infer(**request)``, the stream closed even on a failure."""
    async with contextlib.aclosing(engine.infer(**request)) as stream:
        return [event async for event in stream]


def comparable(events: Sequence[InferenceEvent]) -> list[object]:
    """Events with the timings of ``Complete`` left out (they differ run to run)."""

    def strip(usage: Usage) -> Usage:
        return Usage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason=usage.finish_reason,
        )

    return [attrs.evolve(e, usage=strip(e.usage)) if isinstance(e, Complete) else e for e in events]


def text_of(events: Sequence[InferenceEvent]) -> str:
    """The answer's text: its :class:`Content` events joined."""
    return "".join(e.text for e in events if isinstance(e, Content))


def final(events: Sequence[InferenceEvent]) -> Usage:
    """The usage of the stream's one :class:`Complete`, which must be its last event."""
    last = events[-1]
    assert isinstance(last, Complete)
    assert sum(isinstance(e, Complete) for e in events) == 1
    return last.usage


class NeedsWeights(PinkyEngine):
    """Pinky that asks for a download first, as llama.cpp does (no llama_cpp needed)."""

    @property
    def needs_weights(self) -> bool:
        return True


class HungEngine(PinkyEngine):
    """Pinky that, after its first token, ignores stop and cancellation until released.

    It waits in a shielded scope, as llama.cpp's engine waits for a stuck worker thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()
        self.hanging = anyio.Event()
        self.unloaded = anyio.Event()

    async def _generate(
        self, request: Any, meter: Any, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        yield Content(text="stuck")
        self.hanging.set()
        with anyio.CancelScope(shield=True):
            await self.release.wait()
        async with contextlib.aclosing(super()._generate(request, meter, stop)) as events:
            async for event in events:
                yield event

    async def _unload_model(self) -> None:
        self.unloaded.set()


class HungFirst:
    """An engine factory whose first engine is :attr:`hung`; the others are plain Pinky."""

    def __init__(self) -> None:
        self.hung = HungEngine()
        self.made: list[PinkyEngine] = []

    def __call__(self) -> PinkyEngine:
        engine = PinkyEngine() if self.made else self.hung
        self.made.append(engine)
        return engine
