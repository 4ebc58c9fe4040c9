"""The task-group idioms the packages share, written once.

- :func:`background_tasks`: a task group whose tasks serve the body of an ``async with``
  (a flusher, a writer, a pull feeding a stream). They are cancelled as soon as the body
  ends, and an exception of the body or of a task comes out as itself, not wrapped in an
  exception group.
- :func:`unwrap_exception_groups`: around a task group of our own, re-raise a group whose
  leaves are all one exception as that exception, with its own cause and context.
- :func:`running_on_trio`: for the few places that must reach past anyio to the loop.
- :func:`loop_clock` and :func:`loop_checkpoint`: ``anyio.current_time`` and
  ``anyio.lowlevel.checkpoint`` of the running loop, looked up once for a path that calls
  them once per token (anyio asks sniffio which loop runs on every call).
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from anyio.abc import TaskGroup

__all__ = [
    "background_tasks",
    "exception_leaves",
    "loop_checkpoint",
    "loop_clock",
    "running_on_trio",
    "unwrap_exception_groups",
]


def exception_leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc``, nested groups flattened, in order; ``[exc]`` for a plain one."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in exception_leaves(inner)]
    return [exc]


@contextlib.contextmanager
def unwrap_exception_groups() -> Iterator[None]:
    """Re-raise an exception group that holds one exception (at any depth, perhaps
    several times) as that exception; any other group passes unchanged.

    The exception keeps the ``__cause__`` and ``__context__`` it was raised with, so its
    traceback reads as if no task group had been in between.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = exception_leaves(group)
        leaf = leaves[0]
        if any(other is not leaf for other in leaves):
            raise
        cause, context, suppress = leaf.__cause__, leaf.__context__, leaf.__suppress_context__
        try:
            raise leaf
        finally:
            leaf.__cause__, leaf.__context__ = cause, context
            leaf.__suppress_context__ = suppress
            del leaf, leaves, group


@contextlib.asynccontextmanager
async def background_tasks() -> AsyncIterator[TaskGroup]:
    """A task group for helpers of the body, cancelled when the body ends.

    ``async with background_tasks() as tg: tg.start_soon(flusher); ...`` runs
    ``flusher`` while the body runs. When the body ends (normally or with an exception)
    the helpers are cancelled; the body's exception, or a failing helper's, is raised as
    itself. A failing helper cancels the body, as in any task group.
    """
    with unwrap_exception_groups():
        async with anyio.create_task_group() as tg:
            try:
                yield tg
            finally:
                tg.cancel_scope.cancel()


def running_on_trio() -> bool:
    """Whether the calling task runs under trio (trio is then imported: no sniffio needed)."""
    trio: Any = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


def loop_clock() -> Callable[[], float]:
    """The running loop's clock, the one ``anyio.current_time()`` reads (virtual under
    trio's ``MockClock``), as a function bound once: call it inside the loop."""
    if running_on_trio():
        return sys.modules["trio"].current_time  # type: ignore[no-any-return]
    import asyncio  # imported by the running loop: no import-time cost here

    return asyncio.get_running_loop().time


def loop_checkpoint() -> Callable[[], Awaitable[None]]:
    """The running loop's ``anyio.lowlevel.checkpoint`` (a cancellation and scheduling
    point), as a function bound once: call it inside the loop."""
    if running_on_trio():
        return sys.modules["trio"].lowlevel.checkpoint  # type: ignore[no-any-return]
    from asyncio import sleep

    async def checkpoint() -> None:
        await sleep(0)  # what anyio's asyncio backend does for a checkpoint

    return checkpoint
