"""First come, first served turns on one engine, per event loop: shared and exclusive.

An engine object may outlive one event loop (tests run it under asyncio, then
trio), and anyio's primitives belong to the loop that first used them, so the
gate lives in a :class:`anyio.lowlevel.RunVar`: one per loop, created on first
use. Requests take a *shared* turn, up to :attr:`RequestQueue.capacity` at once
(the loaded model's parallel sequences); loads and unloads take the *exclusive*
turn, which waits for every running request to end and keeps new ones waiting
behind it. Turns are granted strictly in arrival order, so a waiting load is not
starved by a stream of requests, and a turn may be released by another task than
the one that took it (an abandoned async generator is closed by the loop's
finalizer). Engines pair it with thread-side locking of the model itself, which
also covers several loops sharing one engine.
"""

from __future__ import annotations

import collections
import contextlib
from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel
from anyio.lowlevel import RunVar

from rusty_genius_core._record import PlainRepr

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["RequestQueue"]


class _Waiter(PlainRepr):
    __slots__ = ("event", "exclusive", "granted")

    def __init__(self, exclusive: bool) -> None:
        self.exclusive: Final = exclusive
        self.event = anyio.Event()
        self.granted = False


class _Gate(PlainRepr):
    __slots__ = ("exclusive", "shared", "waiters")

    def __init__(self) -> None:
        self.shared = 0
        self.exclusive = False
        self.waiters: collections.deque[_Waiter] = collections.deque()

    def fits(self, exclusive: bool, capacity: int) -> bool:
        if self.exclusive:
            return False
        return self.shared == 0 if exclusive else self.shared < capacity

    def take(self, exclusive: bool) -> None:
        if exclusive:
            self.exclusive = True
        else:
            self.shared += 1

    def release(self, exclusive: bool, capacity: int) -> None:
        if exclusive:
            self.exclusive = False
        else:
            self.shared -= 1
        self.wake(capacity)

    def wake(self, capacity: int) -> None:
        while self.waiters and self.fits(self.waiters[0].exclusive, capacity):
            waiter = self.waiters.popleft()
            self.take(waiter.exclusive)
            waiter.granted = True
            waiter.event.set()


class RequestQueue:
    """``async with queue:`` waits for a shared turn; ``async with queue.exclusive():`` for all."""

    __slots__ = ("_capacity", "_var")

    def __init__(self, name: str, capacity: int = 1) -> None:
        self._var: RunVar[_Gate] = RunVar(name)
        self._capacity = max(1, capacity)

    @property
    def capacity(self) -> int:
        """How many shared turns run at once."""
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        """Change it (engines do while holding the exclusive turn, after a load)."""
        self._capacity = max(1, value)

    def _gate(self) -> _Gate:
        try:
            return self._var.get()
        except LookupError:
            gate = _Gate()
            self._var.set(gate)
            return gate

    async def _acquire(self, exclusive: bool) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        gate = self._gate()
        if not gate.waiters and gate.fits(exclusive, self._capacity):
            gate.take(exclusive)
            try:
                await anyio.lowlevel.cancel_shielded_checkpoint()
            except BaseException:
                gate.release(exclusive, self._capacity)
                raise
            return
        waiter = _Waiter(exclusive)
        gate.waiters.append(waiter)
        try:
            await waiter.event.wait()
        except BaseException:
            if waiter.granted:
                gate.release(exclusive, self._capacity)
            else:
                gate.waiters.remove(waiter)
                gate.wake(self._capacity)  # a waiting exclusive turn may have held others back
            raise

    def _release(self, exclusive: bool) -> None:
        self._gate().release(exclusive, self._capacity)

    async def __aenter__(self) -> None:
        await self._acquire(False)

    async def __aexit__(self, *exc_info: object) -> None:
        self._release(False)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """The exclusive turn: no shared turn runs while it is held."""
        await self._acquire(True)
        try:
            yield
        finally:
            self._release(True)
