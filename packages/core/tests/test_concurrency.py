"""The shared task-group idioms, on asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from rusty_genius_core import (
    background_tasks,
    exception_leaves,
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
