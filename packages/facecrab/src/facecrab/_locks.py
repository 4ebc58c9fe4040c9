"""``<file>.lock``: one model file's download, shared with other processes."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import filelock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from ._paths import GeniusPaths

__all__ = ["file_lock"]


@contextlib.asynccontextmanager
async def file_lock(paths: GeniusPaths, target: Path, poll: float) -> AsyncIterator[None]:
    """Hold ``target``'s lock; polled every ``poll`` s so cancellation stays prompt.

    No symbolic link may lead there (:meth:`GeniusPaths.refuse_links`): filelock would
    open, and on some versions truncate, whatever a planted ``.lock`` link points at.
    """

    def prepare() -> None:
        paths.refuse_links(target)  # before mkdir, which would follow a linked folder
        target.parent.mkdir(parents=True, exist_ok=True)

    await anyio.to_thread.run_sync(prepare)
    lock = filelock.FileLock(str(target) + ".lock", thread_local=False)
    while True:
        try:
            lock.acquire(timeout=0)
            break
        except filelock.Timeout:
            await anyio.sleep(poll)
    try:
        yield
    finally:
        lock.release()
