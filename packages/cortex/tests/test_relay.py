"""ThreadRelay: a plain thread feeding an async consumer, on both backends."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread
import pytest

from rusty_genius_cortex._relay import ThreadRelay


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
