"""Reading stdin without holding up Ctrl-C."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["read_stdin"]


async def read_stdin(read: Callable[[], str]) -> str:
    """``read()`` from stdin in a daemon thread, so that Ctrl-C never waits for input.

    A thread blocked on a terminal or an idle pipe cannot be interrupted; an anyio worker
    would hold up cancellation (or, abandoned, the interpreter's exit) until a line came.
    """
    outcome: list[str | BaseException] = []
    async with anyio.from_thread.BlockingPortal() as portal:
        done = anyio.Event()

        def work() -> None:
            try:
                outcome.append(read())
            except BaseException as exc:  # handed to the event loop's side below
                outcome.append(exc)
            finally:
                with contextlib.suppress(RuntimeError):  # the portal is gone: nobody waits
                    portal.call(done.set)

        threading.Thread(target=work, name="genius-stdin", daemon=True).start()
        await done.wait()
    [result] = outcome
    if isinstance(result, BaseException):
        raise result
    return result
