"""ThreadRelay: a plain thread feeding an async consumer, on both backends."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from rusty_genius_cortex._relay import ThreadRelay, WakeBatch, _noop

if TYPE_CHECKING:
    from collections.abc import Callable


async def test_items_arrive_in_order_then_an_empty_batch() -> None:
    relay: ThreadRelay[int] = ThreadRelay(capacity=8)

    def work() -> None:
        for i in range(2000):
            assert relay.put_many([i])
        relay.finish()

    worker = threading.Thread(target=work)
    worker.start()
    received: list[int] = []
    while batch := await relay.get():
        assert len(batch) <= 8
        received.extend(batch)
    worker.join()
    assert received == list(range(2000))
    assert relay.finished
    assert await relay.get() == []


async def test_a_full_buffer_holds_the_worker_back() -> None:
    relay: ThreadRelay[int] = ThreadRelay(capacity=4)
    full = threading.Event()
    produced: list[int] = []

    def saw_full() -> bool:
        full.set()  # called only while put_many waits for room
        return False

    def work() -> None:
        for i in range(10):
            assert relay.put_many([i], abort=saw_full)
            produced.append(i)
        relay.finish()

    worker = threading.Thread(target=work)
    worker.start()
    await anyio.to_thread.run_sync(full.wait)
    assert produced == [0, 1, 2, 3]  # the fifth put is waiting
    assert await relay.get() == [0, 1, 2, 3]
    rest: list[int] = []
    while batch := await relay.get():
        rest.extend(batch)
    worker.join()
    assert rest == list(range(4, 10))


async def test_closing_releases_a_blocked_worker() -> None:
    relay: ThreadRelay[int] = ThreadRelay(capacity=1)
    blocked = threading.Event()
    results: list[bool] = []

    def waiting() -> bool:
        blocked.set()  # put_many is waiting for room
        return False

    def work() -> None:
        results.append(relay.put_many([1]))
        results.append(relay.put_many([2], abort=waiting))
        relay.finish()

    worker = threading.Thread(target=work)
    worker.start()
    await anyio.to_thread.run_sync(blocked.wait)
    relay.close()
    with anyio.CancelScope(shield=True):
        await relay.wait_finished()
    worker.join()
    assert results == [True, False]


async def test_abort_stops_waiting_for_room() -> None:
    relay: ThreadRelay[int] = ThreadRelay(capacity=1)
    stop = threading.Event()
    results: list[bool] = []

    def work() -> None:
        results.append(relay.put_many([1], abort=stop.is_set))
        stop.set()
        results.append(relay.put_many([2], abort=stop.is_set))
        relay.finish()

    worker = threading.Thread(target=work)
    worker.start()
    await relay.wait_finished()
    worker.join()
    assert results == [True, False]
    assert await relay.get() == [1]


async def test_consumer_cancelled_while_waiting() -> None:
    relay: ThreadRelay[int] = ThreadRelay()
    with anyio.move_on_after(0):
        await relay.get()
    go = threading.Event()

    def work() -> None:
        go.wait()
        relay.put_many([7])  # wakes a stale waiter: harmless
        relay.finish()

    worker = threading.Thread(target=work)
    worker.start()
    go.set()
    assert await relay.get() == [7]
    await relay.wait_finished()
    worker.join()


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ThreadRelay(capacity=0)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_worker_is_released_when_the_loop_is_gone(backend: str) -> None:
    """A loop torn down without closing the relay must not leave its worker waiting forever."""
    relays: list[ThreadRelay[int]] = []

    async def make() -> None:
        relays.append(ThreadRelay(capacity=1))

    anyio.run(make, backend=backend)
    relay = relays[0]
    assert relay.put_many([1])  # fits
    assert not relay.put_many([2])  # full, and nobody will ever read


async def test_put_nowait_never_waits_and_reports_a_closed_relay() -> None:
    """The decoding loop serves many consumers: one slow reader must not stall it."""
    relay: ThreadRelay[int] = ThreadRelay(capacity=2)

    def work() -> None:
        assert relay.put_nowait(range(10))  # past the capacity, at once
        relay.finish()

    await anyio.to_thread.run_sync(work)
    assert await relay.get() == list(range(10))
    assert await relay.get() == []
    closed: ThreadRelay[int] = ThreadRelay(capacity=2)
    closed.close()
    assert not await anyio.to_thread.run_sync(closed.put_nowait, [1])


async def test_a_wake_batch_wakes_every_consumer_at_its_flush_with_one_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decoding loop fills one relay per sequence in a step, then wakes them all at once."""
    relays: list[ThreadRelay[int]] = [ThreadRelay() for _ in range(3)]
    backend = anyio.lowlevel.current_token().backend_class
    schedule = backend.run_sync_soon
    wakes_scheduled: list[int] = []  # how many consumers each scheduled call wakes

    def counted(func: Callable[..., object], args: tuple[Any, ...], token: object) -> None:
        if func is not _noop:  # a liveness probe, not a wake
            wakes_scheduled.append(len(args[0]) if args and isinstance(args[0], list) else -1)
        schedule(func, args, token)

    monkeypatch.setattr(backend, "run_sync_soon", counted)
    got: dict[int, list[int]] = {}

    async def consume(i: int) -> None:
        got[i] = await relays[i].get()

    def produce() -> None:
        wakes = WakeBatch()
        for i, relay in enumerate(relays):
            assert relay.put_nowait([i], wakes)
        assert wakes_scheduled == []  # nobody woken before the round ends
        wakes.flush()
        wakes.flush()  # nothing left to wake

    async with anyio.create_task_group() as tg:
        for i in range(len(relays)):
            tg.start_soon(consume, i)
        while any(r._waiter is None for r in relays):  # every consumer asleep in get()
            await anyio.lowlevel.checkpoint()
        await anyio.to_thread.run_sync(produce)
    assert got == {0: [0], 1: [1], 2: [2]}
    assert wakes_scheduled == [3]


async def test_a_finish_in_a_wake_batch_ends_the_consumer_at_the_flush() -> None:
    relay: ThreadRelay[int] = ThreadRelay()

    def produce() -> None:
        wakes = WakeBatch()
        relay.put_nowait([1], wakes)
        relay.finish(wakes)
        wakes.flush()

    await anyio.to_thread.run_sync(produce)
    assert await relay.get() == [1]
    assert await relay.get() == []
    assert relay.finished


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_wake_batch_for_a_loop_that_is_gone_closes_its_relays(backend: str) -> None:
    relays: list[ThreadRelay[int]] = []

    async def make() -> None:
        relays.append(ThreadRelay())
        relays[0]._waiter = anyio.Event()  # as a consumer asleep in get() leaves it

    anyio.run(make, backend=backend)
    wakes = WakeBatch()
    assert relays[0].put_nowait([1], wakes)
    wakes.flush()  # the loop has ended: nobody will ever read
    assert not relays[0].put_nowait([2])
