"""The shared task-group idioms, on asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from rusty_genius_core import (
    background_tasks,
    exception_leaves,
    loop_checkpoint,
    loop_clock,
    running_on_trio,
    unwrap_exception_groups,
)


class Boom(Exception):
    pass


def test_leaves_flatten_nested_groups_in_order() -> None:
    a, b, c = Boom("a"), ValueError("b"), KeyError("c")
    group = BaseExceptionGroup("outer", [a, BaseExceptionGroup("inner", [b, c])])
    assert exception_leaves(group) == [a, b, c]
    assert exception_leaves(a) == [a]


def test_a_group_of_one_exception_comes_out_as_itself_with_its_own_cause() -> None:
    cause = KeyError("why")
    try:
        raise Boom("x") from cause
    except Boom as exc:
        boom = exc
    with pytest.raises(Boom) as info, unwrap_exception_groups():
        raise ExceptionGroup("ours", [ExceptionGroup("nested", [boom]), boom])
    assert info.value is boom
    assert boom.__cause__ is cause
    assert boom.__suppress_context__ is True


def test_a_group_of_several_exceptions_passes_unchanged() -> None:
    group = ExceptionGroup("two", [Boom("a"), Boom("b")])
    with pytest.raises(ExceptionGroup) as info, unwrap_exception_groups():
        raise group
    assert info.value is group


async def test_background_tasks_are_cancelled_when_the_body_ends() -> None:
    started, cancelled = anyio.Event(), anyio.Event()

    async def helper() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with background_tasks() as tg:
        tg.start_soon(helper)
        await started.wait()
    assert cancelled.is_set()


async def test_the_body_exception_comes_out_unwrapped() -> None:
    async def helper() -> None:
        await anyio.sleep_forever()

    async def run() -> None:
        async with background_tasks() as tg:
            tg.start_soon(helper)
            await anyio.lowlevel.checkpoint()
            raise Boom("body")

    with pytest.raises(Boom, match="body"):
        await run()


async def test_a_failing_helper_cancels_the_body_and_comes_out_unwrapped() -> None:
    body_cancelled = anyio.Event()

    async def helper() -> None:
        raise Boom("helper")

    async def run() -> None:
        async with background_tasks() as tg:
            tg.start_soon(helper)
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                body_cancelled.set()
                raise

    with pytest.raises(Boom, match="helper"):
        await run()
    assert body_cancelled.is_set()


async def test_an_outer_cancellation_still_propagates() -> None:
    with anyio.CancelScope() as scope:
        async with background_tasks() as tg:
            tg.start_soon(anyio.sleep_forever)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught


async def test_running_on_trio_names_the_loop(anyio_backend: tuple[str, object]) -> None:
    assert running_on_trio() is (anyio_backend[0] == "trio")


def test_outside_any_loop_is_not_trio() -> None:
    assert running_on_trio() is False


async def test_the_loop_clock_is_the_one_anyio_reads() -> None:
    clock = loop_clock()
    before = anyio.current_time()
    now = clock()
    assert before <= now <= anyio.current_time()


@pytest.mark.virtual_time
async def test_the_loop_clock_follows_a_virtual_clock() -> None:
    """Bound once, it still reads the loop's clock: two virtual hours pass in no real time."""
    clock = loop_clock()
    started = clock()
    await anyio.sleep(7200)
    assert clock() - started >= 7200


async def test_the_loop_checkpoint_lets_other_tasks_run() -> None:
    checkpoint = loop_checkpoint()
    ran = anyio.Event()

    async def other() -> None:
        ran.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        for _ in range(10):  # trio may run a batch in either order: a few turns at most
            await checkpoint()
            if ran.is_set():
                break
        assert ran.is_set()


async def test_the_loop_checkpoint_is_a_cancellation_point() -> None:
    checkpoint = loop_checkpoint()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await checkpoint()
        pytest.fail("a cancelled scope's checkpoint returned")  # pragma: no cover
    assert scope.cancelled_caught
