"""The server's counters of inference requests, and a way to wait for them to change."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import attrs

from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ServerStatistics", "Stats"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ServerStatistics(Record):
    """A snapshot of the server's inference requests.

    ``waiting``: submitted to the brainstem, no event yet (queued, loading);
    ``streaming``: past their first event; ``served``: ended with ``Complete``;
    ``disconnected``: cancelled because their client left; ``refused``: answered 503.
    """

    waiting: int = 0
    streaming: int = 0
    served: int = 0
    disconnected: int = 0
    refused: int = 0


class Stats:
    """Mutable counters behind :class:`ServerStatistics`, with a change notification."""

    def __init__(self) -> None:
        self._now = ServerStatistics()
        self._changed = anyio.Event()

    def snapshot(self) -> ServerStatistics:
        return self._now

    def add(self, **deltas: int) -> None:
        self._now = attrs.evolve(
            self._now, **{k: getattr(self._now, k) + v for k, v in deltas.items()}
        )
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, predicate: Callable[[ServerStatistics], bool]) -> ServerStatistics:
        while not predicate(self._now):
            await self._changed.wait()
        return self._now
