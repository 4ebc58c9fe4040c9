"""Byte counts to :class:`AssetProgress` events, coalesced but never lost."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import attrs

from rusty_genius_core import AssetEvent, AssetProgress, background_tasks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["ProgressThrottle"]


@attrs.define(eq=False, repr=False)
class ProgressThrottle:
    """Turns byte counts into :class:`AssetProgress` events, coalesced but never lost.

    An event goes out when at least ``min_bytes`` more arrived and ``min_interval``
    seconds passed since the last one, and always for the final count. Inside
    :meth:`trailing`, a count held back goes out at most ``min_interval`` after the last
    event even when no more bytes come, so a stalled download shows where it stalled.
    Each event is awaited, in order, so a slow consumer slows the download instead of
    losing events.
    """

    _emit: Callable[[AssetEvent], Awaitable[None]]
    filename: str
    total: int | None
    min_bytes: int = attrs.field(default=64 * 1024, kw_only=True)
    min_interval: float = attrs.field(default=0.1, kw_only=True)
    _last_done: int = attrs.field(default=-1, init=False)
    _last_time: float = attrs.field(default=-math.inf, init=False)
    _held: int | None = attrs.field(default=None, init=False)
    _wake: anyio.Event = attrs.field(factory=anyio.Event, init=False)
    _lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)

    async def __call__(self, done: int) -> None:
        if done == self._last_done:
            return
        now = anyio.current_time()
        final = self.total is not None and done >= self.total
        if not final and (
            abs(done - self._last_done) < self.min_bytes
            or now - self._last_time < self.min_interval
        ):
            self._held = done
            self._wake.set()
            return
        await self._send(done)

    async def finish(self, done: int) -> None:
        """Send ``done`` unless it was the last count sent."""
        if done != self._last_done:
            await self._send(done)

    @contextlib.asynccontextmanager
    async def trailing(self) -> AsyncIterator[None]:
        """Within the block, send a held-back count once ``min_interval`` has passed.

        An error of the block, or of ``emit`` called from the background, comes out as itself.
        """
        async with background_tasks() as tg:
            tg.start_soon(self._flush_held)
            yield

    async def _flush_held(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._held is not None:
                await anyio.sleep_until(self._last_time + self.min_interval)
                async with self._lock:  # read under the lock: a newer count may have gone
                    if self._held is not None:
                        await self._emit_locked(self._held)

    async def _send(self, done: int) -> None:
        async with self._lock:  # the flusher and the download send in turn, in order
            await self._emit_locked(done)

    async def _emit_locked(self, done: int) -> None:
        self._held = None
        self._last_done, self._last_time = done, anyio.current_time()
        await self._emit(AssetProgress(filename=self.filename, done=done, total=self.total))
