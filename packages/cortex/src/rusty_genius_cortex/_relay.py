"""Items from one worker thread to one async consumer, without a round trip per item.

``anyio.from_thread.run(send.send, item)`` and one ``to_thread.run_sync`` hop
per token both make the decoding thread wait for the event loop on every token:
measured here (2 busy cores), about 150-200 µs per item on asyncio and trio,
10 % of a token's time at the 600 tok/s a GPU reaches. This relay lets the
worker append to a buffer under a thread lock and wake the consumer only when
it sleeps, with ``run_sync_soon`` (schedule, do not wait: the public
``anyio.lowlevel.current_token()`` handle), which costs about 1 µs per item;
while the consumer is busy the items queue up and it takes them as one batch.

A worker that feeds many relays in rounds (the decoding loop: one token for each of
its sequences per step) passes a :class:`WakeBatch` instead: the relays it filled
in a round wake their consumers together, with one ``run_sync_soon`` per event loop
when the round ends. Each ``run_sync_soon`` writes to the loop's wake-up socket, a
system call that also drops the GIL; one per sequence per step let the event loop
take the GIL from the decoding thread several times in every step.

The buffer is bounded: a worker that runs ahead of a slow consumer waits
(backpressure), and stops waiting when the consumer closes the relay, the
worker's own abort check says so, or the consumer's event loop has ended (so a
worker never outlives a loop that was torn down without closing its stream).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import anyio
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["ThreadRelay", "WakeBatch"]

T = TypeVar("T")

_POLL: Final = 0.02  # seconds between abort / loop checks while the buffer is full


def _noop() -> None:
    pass


class ThreadRelay(Generic[T]):
    """One producer thread, one consumer task in the event loop that created the relay.

    Worker side: :meth:`put_many` and, exactly once at the very end, :meth:`finish`.
    Consumer side: :meth:`get` until it returns an empty batch; :meth:`close` when
    it stops early, then :meth:`wait_finished` to know the worker is done.
    """

    def __init__(self, capacity: int = 256) -> None:
        if capacity < 1:
            raise ValueError(f"ThreadRelay capacity must be >= 1, got {capacity}")
        self._token = anyio.lowlevel.current_token()
        self._capacity = capacity
        self._cond = threading.Condition(threading.Lock())
        self._items: list[T] = []
        self._waiter: anyio.Event | None = None
        self._finished = False
        self._closed = False

    # -- worker thread ------------------------------------------------------------------------

    def put_many(self, items: Iterable[T], abort: Callable[[], bool] | None = None) -> bool:
        """Append ``items``; wait while the buffer is full. False if the consumer is gone.

        ``abort`` is polled while waiting for room, so a stop request is seen
        even when the consumer reads slowly; it returns False too.
        """
        return self._put(items, abort, wait=True)

    def put_nowait(self, items: Iterable[T], wakes: WakeBatch | None = None) -> bool:
        """Append ``items`` even past the capacity (never waits); False if the consumer is gone.

        For a worker that serves many consumers and must not stall on one slow
        reader: what it buffers for one is bounded by that request's own limits.
        With ``wakes``, a sleeping consumer is woken at :meth:`WakeBatch.flush`.
        """
        return self._put(items, None, wait=False, wakes=wakes)

    def _put(
        self,
        items: Iterable[T],
        abort: Callable[[], bool] | None,
        *,
        wait: bool,
        wakes: WakeBatch | None = None,
    ) -> bool:
        with self._cond:
            while wait and len(self._items) >= self._capacity and not self._closed:
                if (abort is not None and abort()) or not self._loop_alive():
                    return False
                self._cond.wait(_POLL)
            if self._closed:
                return False
            self._items.extend(items)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._wake_later(waiter, wakes)
        return True

    def finish(self, wakes: WakeBatch | None = None) -> None:
        """The worker is done; nothing follows. Call it last, from the worker.

        With ``wakes``, the consumer hears of it at :meth:`WakeBatch.flush`.
        """
        with self._cond:
            self._finished = True
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._wake_later(waiter, wakes)

    def _wake_later(self, waiter: anyio.Event, wakes: WakeBatch | None) -> None:
        if wakes is None:
            self._wake(waiter)
        else:
            wakes.add(self, waiter)

    def _wake(self, waiter: anyio.Event) -> None:
        token = self._token
        try:
            token.backend_class.run_sync_soon(waiter.set, (), token.native_token)
        except RuntimeError:  # RunFinishedError: the loop is gone, nobody will read again
            self._loop_gone()

    def _loop_gone(self) -> None:
        with self._cond:
            self._closed = True

    def _loop_alive(self) -> bool:
        """False once the consumer's event loop has ended (it can no longer close us)."""
        token = self._token
        try:
            token.backend_class.run_sync_soon(_noop, (), token.native_token)
        except RuntimeError:
            self._closed = True  # called with the condition held
            return False
        return True

    # -- consumer task ------------------------------------------------------------------------

    async def get(self) -> list[T]:
        """The next batch (everything buffered); an empty list once the worker finished."""
        event: anyio.Event | None = None  # made only to sleep: most calls find items waiting
        while True:
            with self._cond:
                if self._items:
                    items, self._items = self._items, []
                    self._cond.notify()
                    return items
                if self._finished:
                    return []
                if event is None or event.is_set():
                    event = anyio.Event()
                self._waiter = event
            await event.wait()

    def close(self) -> None:
        """The consumer stops reading: buffered items are dropped and the worker unblocked."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    async def wait_finished(self) -> None:
        """Wait until the worker called :meth:`finish` (shield this in cleanup code)."""
        while True:
            event = anyio.Event()
            with self._cond:
                if self._finished:
                    return
                self._waiter = event
            await event.wait()

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._finished


def _set_all(waiters: list[anyio.Event]) -> None:
    for waiter in waiters:
        waiter.set()


class WakeBatch:
    """Consumers to wake, collected by one worker thread over a round; see the module docstring.

    Not thread-safe: it belongs to the one worker that fills it and calls :meth:`flush`.
    """

    __slots__ = ("_loops",)

    def __init__(self) -> None:
        # per event loop (its native token's id): its token, the relays and their waiters
        self._loops: dict[
            int, tuple[anyio.lowlevel.EventLoopToken, list[ThreadRelay[Any]], list[anyio.Event]]
        ] = {}

    def add(self, relay: ThreadRelay[Any], waiter: anyio.Event) -> None:
        token = relay._token
        entry = self._loops.get(id(token.native_token))
        if entry is None:
            entry = self._loops[id(token.native_token)] = (token, [], [])
        entry[1].append(relay)
        entry[2].append(waiter)

    def flush(self) -> None:
        """Wake every consumer collected so far: one ``run_sync_soon`` per event loop."""
        loops, self._loops = self._loops, {}
        for token, relays, waiters in loops.values():
            try:
                token.backend_class.run_sync_soon(_set_all, (waiters,), token.native_token)
            except RuntimeError:  # that loop is gone: nobody will read those relays again
                for relay in relays:
                    relay._loop_gone()
