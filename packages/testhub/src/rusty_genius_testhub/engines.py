"""Engine doubles the brainstem and genius tests share, built on Pinky.

- :class:`NeedsWeights`: Pinky that asks for a download first, as llama.cpp does.
- :class:`HungEngine` and :class:`HungFirst`: an engine that ignores its stop signal, and a
  factory whose first engine is one (issue 18: the stop deadline).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio

from rusty_genius_core import Content
from rusty_genius_cortex import PinkyEngine

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from rusty_genius_core import InferenceEvent
    from rusty_genius_cortex import StopSignal

__all__ = ["HungEngine", "HungFirst", "NeedsWeights"]


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
