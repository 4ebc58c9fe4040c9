"""``<file>.partial``: appended to, hashed and synced in worker threads while a body streams in."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections import deque
from typing import TYPE_CHECKING, BinaryIO, Final

import anyio
import anyio.to_thread

from rusty_genius_core import background_tasks

from ._errors import DownloadError
from ._paths import refuse_link
from ._threads import Stopped, run_stoppable

if TYPE_CHECKING:
    import threading
    from collections.abc import AsyncIterator, Awaitable, Callable
    from hashlib import _Hash
    from pathlib import Path

__all__ = ["PartialFile", "hash_prefix", "sha256_if_size"]

_FLUSH: Final = 1 << 20
_QUEUE: Final = 2
"""Batches handed to the writer and not yet on disk (one being written, one waiting)."""
_HASH_CHUNK: Final = 1 << 20
_SYNC_EVERY: Final = 8 << 20
"""Bytes appended between background data syncs while the body streams in."""
_datasync: Final = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
_APPEND: Final = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
"""How a partial is opened: appended to, created if missing, never through a symbolic link."""


class PartialFile:
    """``<file>.partial``, appended to and hashed in a worker thread, 1 MiB at a time.

    Received pieces are kept as they came (no copies) until they add up to 1 MiB. While
    :meth:`writing` is open, each such batch goes to one writer task that appends and
    hashes it in a thread while the next ones arrive (at most ``_QUEUE`` batches wait, so
    memory stays bounded). The thread writes, then hashes, then drops a batch from the
    queue, and truncates back if a write fails, so the file on disk is always exactly the
    hashed prefix and :meth:`keep` can append what is still queued.

    Every :data:`_SYNC_EVERY` bytes a second thread flushes the data written so far to
    the disk (one such sync at a time), so the fsync that :meth:`finish` owes before
    the rename finds little left: for the 98 MB test model it was 30-55 ms at the end.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._hash: _Hash = hashlib.sha256()
        self._size = 0
        self._flushed = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: deque[list[bytes]] = deque()
        self._writer_active = False
        self._decided = False
        self._ready = anyio.Event()
        self._drained = anyio.Event()
        self._synced = 0
        self._sync_wanted = anyio.Event()

    @property
    def size(self) -> int:
        """Bytes received so far: on disk, queued for the writer, or pending."""
        return self._size

    async def open(self, limit: int | None) -> None:
        def open_sync() -> tuple[BinaryIO, int]:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            refuse_link(self.path)  # where O_NOFOLLOW does not exist
            try:
                fd = os.open(self.path, _APPEND, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # a link planted after the check
                    refuse_link(self.path)
                raise
            f = os.fdopen(fd, "ab")
            have = os.fstat(f.fileno()).st_size
            if limit is not None and have > limit:  # not ours: longer than the file can be
                f.truncate(0)
                have = 0
            return f, have

        file, have = await anyio.to_thread.run_sync(open_sync)
        self._file = file
        if have:
            try:
                self._hash = await run_stoppable(lambda stop: hash_prefix(self.path, have, stop))
            except BaseException:
                file.close()
                raise
        self._size = self._flushed = have

    async def write(self, data: bytes) -> None:
        self._size += len(data)
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _FLUSH:
            await self._hand_off()

    async def _hand_off(self) -> None:
        """Queue the pending pieces for the writer, waiting while the queue is full."""
        if not self._writer_active:
            await self.flush()
            return
        while len(self._queue) >= _QUEUE:
            self._drained = anyio.Event()
            await self._drained.wait()
        self._queue.append(self._pending)
        self._pending, self._pending_size = [], 0
        self._ready.set()

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Write and hash in the background while the body streams in.

        Exactly one error comes out, as itself: the first of a failing writer or syncer
        (which cancels the block), else the block's own. What the writer did not reach
        stays queued for :meth:`finish` or :meth:`keep`.
        """
        self._writer_active, self._decided = True, False
        try:
            async with background_tasks() as tg:
                tg.start_soon(self._first_failure, self._writer)
                tg.start_soon(self._first_failure, self._syncer)
                try:
                    yield
                except Exception:
                    if not self._decided:
                        raise
                    # A helper's disk error came first and is raised; this one came after it.
                finally:
                    self._decided = True
        finally:
            self._writer_active = False

    async def _first_failure(self, helper: Callable[[], Awaitable[None]]) -> None:
        """Run ``helper``; raise its disk error only while nothing else has ended the block.

        A second failure of a dying disk (writer and syncer at once), or one that comes
        while the block is ending anyway, adds nothing: several errors would come out
        as an exception group, not as themselves. The batch a failed write left queued is
        retried, and fails again, in :meth:`finish`; :meth:`keep` expects that.
        """
        try:
            await helper()
        except DownloadError:
            if self._decided:
                return
            self._decided = True
            raise

    async def _writer(self) -> None:
        while True:
            while not self._queue:
                self._ready = anyio.Event()
                await self._ready.wait()
            await self._on_disk(self._append_head)
            self._drained.set()
            if self._flushed - self._synced >= _SYNC_EVERY:
                self._sync_wanted.set()

    async def _syncer(self) -> None:
        assert self._file is not None
        fd = self._file.fileno()
        while True:
            await self._sync_wanted.wait()
            self._sync_wanted = anyio.Event()
            upto = self._flushed
            await self._on_disk(lambda: _datasync(fd))
            self._synced = upto

    async def _on_disk(self, work: Callable[[], None]) -> None:
        """Run file work in a thread; a failing disk (full, I/O error) names the file."""
        try:
            await anyio.to_thread.run_sync(work)
        except DownloadError:
            raise
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DownloadError(f"{self.path}: {reason}; the partial file is kept") from exc

    def _append_head(self) -> None:
        """Append and hash the oldest queued buffer, then drop it (in a worker thread)."""
        assert self._file is not None
        pieces = self._queue[0]
        try:
            for piece in pieces:
                self._file.write(piece)
            self._file.flush()
        except BaseException:
            with contextlib.suppress(OSError):  # keep the file equal to the hashed prefix
                self._file.truncate(self._flushed)
            raise
        for piece in pieces:
            self._hash.update(piece)
            self._flushed += len(piece)
        self._queue.popleft()

    def _append_all(self) -> None:
        while self._queue:
            self._append_head()

    async def flush(self) -> None:
        """Append and hash everything queued or pending (the writer is not running)."""
        if self._pending:
            self._queue.append(self._pending)
            self._pending, self._pending_size = [], 0
        if self._queue:
            await self._on_disk(self._append_all)

    async def reset(self) -> None:
        """Start the file over (the server sent it whole, or the partial was refused)."""
        assert not self._writer_active
        self._pending, self._pending_size = [], 0
        self._queue.clear()

        def truncate() -> None:
            assert self._file is not None
            self._file.flush()
            self._file.truncate(0)

        await anyio.to_thread.run_sync(truncate)
        self._hash = hashlib.sha256()
        self._size = self._flushed = 0

    async def finish(self) -> str:
        """Flush, fsync and close; the sha256 of everything written."""
        await self.flush()

        def sync_close() -> None:
            assert self._file is not None
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

        await self._on_disk(sync_close)
        return self._hash.hexdigest()

    async def keep(self) -> None:
        """Flush what arrived and close, leaving the partial for a later resume (an empty
        one is removed)."""
        with anyio.CancelScope(shield=True):
            if self._file is None or self._file.closed:
                return
            try:
                with contextlib.suppress(DownloadError):  # the error that ended it is raised
                    await self.flush()
            finally:
                self._file.close()
            if self._size == 0:  # nothing to resume from (a 404, a refused request)
                await anyio.to_thread.run_sync(lambda: self.path.unlink(missing_ok=True))

    async def discard(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: self.path.unlink(missing_ok=True))


def hash_prefix(path: Path, length: int, stop: threading.Event) -> _Hash:
    digest = hashlib.sha256()
    remaining = length
    with path.open("rb") as f:
        while remaining > 0:
            if stop.is_set():
                raise Stopped
            chunk = f.read(min(_HASH_CHUNK, remaining))
            if not chunk:
                raise DownloadError(f"{path} shrank while it was being hashed")
            digest.update(chunk)
            remaining -= len(chunk)
    return digest


def sha256_if_size(path: Path, size: int, stop: threading.Event) -> str | None:
    try:
        if path.stat().st_size != size:
            return None
    except FileNotFoundError:
        return None
    return hash_prefix(path, size, stop).hexdigest()
