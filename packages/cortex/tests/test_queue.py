"""The engine turn: up to ``capacity`` shared turns, an exclusive one alone, arrival order."""

from __future__ import annotations

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from rusty_genius_cortex._queue import RequestQueue


async def test_shared_turns_run_up_to_capacity_and_the_rest_wait_in_order() -> None:
    queue = RequestQueue("test.shared", capacity=2)
    inside: list[str] = []
    log: list[str] = []
    gates = {name: anyio.Event() for name in "abcd"}

    async def hold(name: str, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        async with queue:
            inside.append(name)
            log.append(f"+{name}")
            await gates[name].wait()
            inside.remove(name)
            log.append(f"-{name}")

    async with anyio.create_task_group() as tg:
        for name in "abcd":
            await tg.start(hold, name)
        await anyio.wait_all_tasks_blocked()
        assert inside == ["a", "b"]
        gates["b"].set()
        await anyio.wait_all_tasks_blocked()
        assert inside == ["a", "c"]
        for name in "acd":
            gates[name].set()
    assert log[:4] == ["+a", "+b", "-b", "+c"]


async def test_the_exclusive_turn_waits_for_shared_ones_and_holds_later_ones_back() -> None:
    queue = RequestQueue("test.exclusive", capacity=4)
    log: list[str] = []
    release_a = anyio.Event()

    async def shared(name: str, gate: anyio.Event | None = None) -> None:
        async with queue:
            log.append(f"+{name}")
            if gate is not None:
                await gate.wait()
            log.append(f"-{name}")

    async def exclusive() -> None:
        async with queue.exclusive():
            log.append("+X")
            await anyio.lowlevel.checkpoint()
            queue.capacity = 1  # as an engine does after a load
            log.append("-X")

    async with anyio.create_task_group() as tg:
        tg.start_soon(shared, "a", release_a)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(exclusive)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(shared, "b")  # arrives after the exclusive turn: waits behind it
        await anyio.wait_all_tasks_blocked()
        assert log == ["+a"]
        release_a.set()
    assert log == ["+a", "-a", "+X", "-X", "+b", "-b"]
    assert queue.capacity == 1


@pytest.mark.parametrize("exclusive", [False, True])
async def test_a_cancelled_waiter_leaves_the_queue_and_lets_the_next_one_in(
    exclusive: bool,
) -> None:
    queue = RequestQueue("test.cancel", capacity=1)
    log: list[str] = []
    release = anyio.Event()

    async def holder() -> None:
        async with queue:
            await release.wait()

    async def waiter(name: str) -> None:
        async with queue:
            log.append(name)

    async def exclusive_waiter(name: str) -> None:
        async with queue.exclusive():
            log.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await anyio.wait_all_tasks_blocked()
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as inner:
                inner.start_soon(exclusive_waiter if exclusive else waiter, "gone")
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(waiter, "next")
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
        release.set()
    assert log == ["next"]


async def test_capacity_is_at_least_one() -> None:
    queue = RequestQueue("test.capacity", capacity=0)
    assert queue.capacity == 1
    queue.capacity = -3
    assert queue.capacity == 1
