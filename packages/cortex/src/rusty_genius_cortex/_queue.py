"""First come, first served turns on one engine, per event loop.

An engine object may outlive one event loop (tests run it under asyncio, then
trio), and anyio's primitives belong to the loop that first used them, so the
semaphore lives in a :class:`anyio.lowlevel.RunVar`: one per loop, created on
first use. A semaphore rather than a lock, because the turn may be released
by another task than the one that took it (an abandoned async generator is
closed by the loop's finalizer). Within one loop anyio's semaphore is fair:
requests run in arrival order. Engines pair it with a thread lock for the model
itself, which also covers several loops sharing one engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from anyio.lowlevel import RunVar

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["RequestQueue"]


class RequestQueue:
    """``async with queue:`` waits for this engine's turn in the current event loop."""

    __slots__ = ("_var",)

    def __init__(self, name: str) -> None:
        self._var: RunVar[anyio.Semaphore] = RunVar(name)

    def _semaphore(self) -> anyio.Semaphore:
        try:
            return self._var.get()
        except LookupError:
            semaphore = anyio.Semaphore(1)
            self._var.set(semaphore)
            return semaphore

    async def __aenter__(self) -> None:
        await self._semaphore().acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._semaphore().release()
