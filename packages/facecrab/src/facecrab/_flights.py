"""Download slots shared by the tasks of one process: one per destination file.

The task holding a slot's lock downloads; the others wait for the lock and meanwhile
receive the owner's events (:meth:`Flight.join`, :meth:`Flight.broadcast`). A slot
remembers how its last download ended, so a waiter does not repeat a failure at once.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from rusty_genius_core import AssetError, AssetEvent, unwrap_exception_groups
from rusty_genius_core._record import FieldsRepr

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

__all__ = ["Flight", "Flights", "no_progress"]


async def no_progress(_event: AssetEvent) -> None:
    """The progress callback of a caller that asked for none."""


@attrs.define(repr=False)
class Flight(FieldsRepr):
    """One file's download slot in this process."""

    lock: anyio.Lock = attrs.Factory(anyio.Lock)
    watchers: list[MemoryObjectSendStream[AssetEvent]] = attrs.Factory(list)
    users: int = 0
    generation: int = 0
    """Downloads finished (or failed) under this slot."""
    error: AssetError | None = None
    """How the last download failed; ``None`` when it succeeded."""

    async def join(self, emit: Callable[[AssetEvent], Awaitable[None]]) -> None:
        """Take the lock; while waiting, relay the owner's events to ``emit``.

        An error of ``emit`` stops the wait and is raised as itself.
        """
        if emit is no_progress or not self.lock.locked():
            await self.lock.acquire()
            return
        send, receive = anyio.create_memory_object_stream[AssetEvent]()

        async def relay() -> None:
            with receive:
                async for event in receive:
                    await emit(event)

        acquired = False
        try:
            with unwrap_exception_groups():
                async with anyio.create_task_group() as tg:
                    tg.start_soon(relay)
                    with send:
                        self.watchers.append(send)
                        try:
                            await self.lock.acquire()
                            acquired = True
                        finally:
                            self.watchers.remove(send)
        except BaseException:
            if acquired:  # cancelled or failed while the relay drained: do not keep the lock
                self.lock.release()
            raise

    def broadcast(
        self, emit: Callable[[AssetEvent], Awaitable[None]]
    ) -> Callable[[AssetEvent], Awaitable[None]]:
        """``emit``, then a copy of each event to every task waiting in :meth:`join`."""

        async def broadcast(event: AssetEvent) -> None:
            await emit(event)
            for watcher in list(self.watchers):
                try:
                    await watcher.send(event)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    if watcher in self.watchers:
                        self.watchers.remove(watcher)

        return broadcast


class Flights:
    """The slots of one authority, by key (the destination path); a slot lives while used."""

    def __init__(self) -> None:
        self._by_key: dict[str, Flight] = {}

    @contextlib.contextmanager
    def using(self, key: str) -> Iterator[Flight]:
        flight = self._by_key.get(key)
        if flight is None:
            flight = self._by_key[key] = Flight()
        flight.users += 1
        try:
            yield flight
        finally:
            flight.users -= 1
            if flight.users == 0 and self._by_key.get(key) is flight:
                del self._by_key[key]
