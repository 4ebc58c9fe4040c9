"""Byte counts to :class:`AssetProgress` events, coalesced but never lost."""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

import anyio

from rusty_genius_core import AssetEvent, AssetProgress, background_tasks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["ProgressThrottle"]


class ProgressThrottle:
    """Turns byte counts into :class:`AssetProgress` events, coalesced but never lost.

    An event goes out when at least ``min_bytes`` more arrived and ``min_interval``
    seconds passed since the last one, and always for the final count. Inside
    :meth:`trailing`, a count held back goes out at most ``min_interval`` after the last
    event even when no more bytes come, so a stalled download shows where it stalled.
    Each event is awaited, in order, so a slow consumer slows the download instead of
    losing events.
    """

    def __init__(
        self,
        emit: Callable[[AssetEvent], Awaitable[None]],
        filename: str,
        total: int | None,
        *,
        min_bytes: int = 64 * 1024,
        min_interval: float = 0.1,
    ) -> None:
        self._emit = emit
        self.filename = filename
        self.total = total
        self.min_bytes = min_bytes
        self.min_interval = min_interval
        self._last_done = -1
        self._last_time = -math.inf
        self._held: int | None = None
        self._wake = anyio.Event()
        self._lock = anyio.Lock()

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
