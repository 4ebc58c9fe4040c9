"""Blocking work in worker threads that a cancelled caller can leave behind promptly."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, TypeVar

import anyio.to_thread

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Stopped", "run_stoppable"]

T = TypeVar("T")


class Stopped(Exception):
    """Raised in a worker thread that saw its stop flag (its caller was cancelled)."""


async def run_stoppable(func: Callable[[threading.Event], T]) -> T:
    """Run blocking ``func(stop)`` in a worker thread; cancelling sets ``stop`` and moves on.

    ``func`` must check ``stop`` between steps; the thread is abandoned on cancellation
    and ends at its next check.
    """
    stop = threading.Event()
    try:
        return await anyio.to_thread.run_sync(func, stop, abandon_on_cancel=True)
    finally:
        stop.set()
