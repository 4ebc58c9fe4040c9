"""Engine streams in tasks that the brainstem can leave behind: what a stop deadline needs.

An engine is asked to stop with its :class:`~rusty_genius_cortex.StopSignal` (and,
when the brainstem itself is cancelled, by cancellation). One that ignores both, such
as a llama.cpp worker thread stuck in a call that never returns (the engine waits for
it in a shielded scope), would hold the task consuming its stream for good: in a task
group, that task keeps the whole brainstem, and every ``async with`` above it, from
ending. So each request's stream runs in an :class:`EngineRun`, a task that no task
group waits for (trio's system nursery, or a plain asyncio task). The request's own
task waits for the run, and past the stop deadline stops waiting: the run is
*abandoned*, sends nothing more, and unloads its engine if it ever ends.

This is the one place the brainstem leaves structured concurrency, and only for work
that is otherwise always awaited: a run outlives its request only once abandoned.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

import anyio
import anyio.lowlevel

from rusty_genius_core import running_on_trio
from rusty_genius_core._record import PlainRepr

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

__all__ = ["EngineRun"]

log = logging.getLogger("rusty_genius_stem")

T = TypeVar("T")


class _Task(Protocol):
    def add_done_callback(self, callback: Callable[[Any], object], /) -> None: ...


class _Loop(Protocol):
    def create_task(self, coro: Coroutine[Any, Any, None], /, *, name: str) -> _Task: ...


_kept: set[_Task] = set()  # asyncio keeps only weak references to its tasks


def _start_detached(func: Callable[[], Awaitable[None]], name: str) -> None:
    """Run ``func`` in a task that no task group waits for, on the running loop."""

    async def main() -> None:
        await func()

    if running_on_trio():
        trio: Any = sys.modules["trio"]
        # A copy of this task's context, as asyncio's create_task takes (trio's default
        # would be the run's own).
        trio.lowlevel.spawn_system_task(main, name=name, context=contextvars.copy_context())
        return
    # anyio's token of an asyncio loop is the loop itself (the library code here does not
    # import asyncio; see the import-linter contract).
    loop: _Loop = anyio.lowlevel.current_token().native_token  # type: ignore[assignment]
    task = loop.create_task(main(), name=name)
    _kept.add(task)
    task.add_done_callback(_kept.discard)


class EngineRun(PlainRepr, Generic[T]):
    """One request's engine stream, run by :meth:`start` in a task that can be left behind.

    The work gets the run: it marks :attr:`sending` while it waits for its own consumer
    (not the engine's fault), and checks :attr:`abandoned` before each send.
    """

    __slots__ = ("_error", "_result", "_scope", "abandoned", "cleanup", "done", "name", "sending")

    def __init__(self, *, name: str) -> None:
        self.name: Final = name
        self.done = anyio.Event()
        self.sending = False
        self.abandoned = False
        self.cleanup: Callable[[], Awaitable[None]] | None = None
        """Run if the work ends after it was abandoned (the engine's unload)."""
        self._scope = anyio.CancelScope()
        self._result: T | None = None
        self._error: Exception | None = None

    def start(self, work: Callable[[EngineRun[T]], Awaitable[T]]) -> None:
        async def run() -> None:
            try:
                with self._scope:
                    self._result = await work(self)
            except Exception as exc:  # handed to the request's task, which reports it
                self._error = exc
            finally:
                self.done.set()
            if self.abandoned:
                await self._clean_up()

        _start_detached(run, self.name)

    async def _clean_up(self) -> None:
        log.warning("%s ended after it was abandoned; releasing its engine", self.name)
        if self.cleanup is not None:
            try:
                await self.cleanup()
            except Exception:
                log.exception("releasing the engine of %s failed", self.name)

    def cancel(self) -> None:
        """Cancel the work (the request's task was cancelled)."""
        self._scope.cancel()

    def abandon(self) -> None:
        """Stop waiting for it: it sends nothing more, and cleans up if it ever ends."""
        self.abandoned = True

    async def wait_stopped(self, seconds: float) -> bool:
        """Wait until the work ends; False once the engine kept it ``seconds`` more.

        Time spent waiting for the consumer (:attr:`sending`) does not count: at each
        deadline that finds the work sending, the engine gets another ``seconds``.
        """
        while not self.done.is_set():
            with anyio.move_on_after(seconds):
                await self.done.wait()
            if not self.done.is_set() and not self.sending:
                return False
        return True

    def outcome(self) -> T:
        """The work's result, or its exception raised here."""
        if self._error is not None:
            raise self._error
        assert self._result is not None, "outcome() of a run that did not finish"
        return self._result
