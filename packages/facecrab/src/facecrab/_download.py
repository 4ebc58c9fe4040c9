"""Resumable, verified downloads of one file, streamed with httpx.

Bytes go to ``<file>.partial`` and are hashed as they arrive (a partial left by an
earlier run is hashed first, in a thread). A broken connection resumes with
``Range: bytes=<partial size>-``; a server that answers 200 instead restarts the
file, and a 416 re-validates the partial (complete, or discarded). Failures that may
pass (transport errors, 408/429/5xx) are retried with exponential backoff; the count
restarts whenever an attempt brought new bytes. Only a file whose size and sha256
match is renamed into place; a mismatch deletes the partial and raises
:class:`IntegrityError`. (huggingface_hub's own downloader re-fetched whole files
after a cut when measured on a loopback hub, so resuming is done here.)
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

import anyio
import anyio.to_thread
import attrs

from rusty_genius_core import AssetEvent, AssetProgress

from ._errors import DownloadError, IntegrityError
from ._threads import Stopped, run_stoppable

if TYPE_CHECKING:
    import threading
    from hashlib import _Hash

    import httpx

__all__ = ["FetchResult", "ProgressThrottle", "RetryPolicy", "Sleep", "fetch_file"]

Sleep = Callable[[float], Awaitable[None]]
"""How backoff waits; tests inject one that records the delays instead of sleeping."""

_FLUSH: Final = 1 << 20
_QUEUE: Final = 2
"""Batches handed to the writer and not yet on disk (one being written, one waiting)."""
_HASH_CHUNK: Final = 1 << 20
_SYNC_EVERY: Final = 8 << 20
"""Bytes appended between background data syncs while the body streams in."""
_datasync: Final = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
_RETRY_STATUS: Final = frozenset({408, 425, 429})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Exponential backoff: ``initial_delay * multiplier**(n-1)`` seconds, at most ``max_delay``.

    ``attempts`` is how many failures in a row (attempts that brought no new bytes) are
    retried before giving up.
    """

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    initial_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))

    def delay(self, failure: int) -> float:
        return min(self.max_delay, self.initial_delay * self.multiplier ** max(0, failure - 1))


@attrs.frozen(kw_only=True)
class FetchResult:
    """A verified file: where, what, and what it took."""

    path: Path
    sha256: str
    size: int
    commit: str | None
    transferred: int
    """Body bytes received over the network for this file."""
    resumed_from: int
    """Bytes of a partial left by an earlier run that were kept."""


class ProgressThrottle:
    """Turns byte counts into :class:`AssetProgress` events, coalesced but never lost.

    An event goes out when at least ``min_bytes`` more arrived and ``min_interval``
    seconds passed since the last one, and always for the final count. Inside
    :meth:`trailing`, a count held back goes out at most ``min_interval`` after the last
    event even when no more bytes come, so a stalled download shows where it stalled.
    Each event is awaited, in order, so a slow consumer slows the download instead of
    losing events.
    """

    def __init__(
        self,
        emit: Callable[[AssetEvent], Awaitable[None]],
        filename: str,
        total: int | None,
        *,
        min_bytes: int = 64 * 1024,
        min_interval: float = 0.1,
    ) -> None:
        self._emit = emit
        self.filename = filename
        self.total = total
        self.min_bytes = min_bytes
        self.min_interval = min_interval
        self._last_done = -1
        self._last_time = -math.inf
        self._held: int | None = None
        self._wake = anyio.Event()
        self._lock = anyio.Lock()

    async def __call__(self, done: int) -> None:
        if done == self._last_done:
            return
        now = anyio.current_time()
        final = self.total is not None and done >= self.total
        if not final and (
            abs(done - self._last_done) < self.min_bytes
            or now - self._last_time < self.min_interval
        ):
            self._held = done
            self._wake.set()
            return
        await self._send(done)

    async def finish(self, done: int) -> None:
        """Send ``done`` unless it was the last count sent."""
        if done != self._last_done:
            await self._send(done)

    @contextlib.asynccontextmanager
    async def trailing(self) -> AsyncIterator[None]:
        """Within the block, send a held-back count once ``min_interval`` has passed."""

        async def flusher() -> None:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                while self._held is not None:
                    await anyio.sleep_until(self._last_time + self.min_interval)
                    async with self._lock:  # read under the lock: a newer count may have gone
                        if self._held is not None:
                            await self._emit_locked(self._held)

        failure: BaseException | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(flusher)
            try:
                yield
            except BaseException as exc:  # re-raised below, not wrapped by the task group
                failure = exc
            tg.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _send(self, done: int) -> None:
        async with self._lock:  # the flusher and the download send in turn, in order
            await self._emit_locked(done)

    async def _emit_locked(self, done: int) -> None:
        self._held = None
        self._last_done, self._last_time = done, anyio.current_time()
        await self._emit(AssetProgress(filename=self.filename, done=done, total=self.total))


class _Retry(Exception):
    def __init__(self, reason: str, *, immediate: bool = False) -> None:
        super().__init__(reason)
        self.immediate = immediate


class _Partial:
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
            f = self.path.open("ab")
            have = os.fstat(f.fileno()).st_size
            if limit is not None and have > limit:  # not ours: longer than the file can be
                f.truncate(0)
                have = 0
            return f, have

        file, have = await anyio.to_thread.run_sync(open_sync)
        self._file = file
        if have:
            try:
                self._hash = await run_stoppable(lambda stop: _hash_prefix(self.path, have, stop))
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

        An error of the block or of the writer is re-raised as itself; what the writer did
        not reach stays queued for :meth:`finish` or :meth:`keep`.
        """
        failure: BaseException | None = None

        async def writer() -> None:
            nonlocal failure
            try:
                while True:
                    while not self._queue:
                        self._ready = anyio.Event()
                        await self._ready.wait()
                    await self._on_disk(self._append_head)
                    self._drained.set()
                    if self._flushed - self._synced >= _SYNC_EVERY:
                        self._sync_wanted.set()
            except Exception as exc:
                failure = exc
                tg.cancel_scope.cancel()

        async def syncer() -> None:
            nonlocal failure
            assert self._file is not None
            fd = self._file.fileno()
            try:
                while True:
                    await self._sync_wanted.wait()
                    self._sync_wanted = anyio.Event()
                    upto = self._flushed
                    await self._on_disk(lambda: _datasync(fd))
                    self._synced = upto
            except Exception as exc:
                failure = exc
                tg.cancel_scope.cancel()

        self._writer_active = True
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer)
                tg.start_soon(syncer)
                try:
                    yield
                except BaseException as exc:  # re-raised below, not wrapped by the task group
                    failure = failure or exc
                tg.cancel_scope.cancel()
        finally:
            self._writer_active = False
        if failure is not None:
            raise failure

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
        """Flush what arrived and close, leaving the partial for a later resume."""
        with anyio.CancelScope(shield=True):
            if self._file is None or self._file.closed:
                return
            try:
                with contextlib.suppress(DownloadError):  # the error that ended it is raised
                    await self.flush()
            finally:
                self._file.close()

    async def discard(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: self.path.unlink(missing_ok=True))


def _hash_prefix(path: Path, length: int, stop: threading.Event) -> _Hash:
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


def _sha256_if_size(path: Path, size: int, stop: threading.Event) -> str | None:
    try:
        if path.stat().st_size != size:
            return None
    except FileNotFoundError:
        return None
    return _hash_prefix(path, size, stop).hexdigest()


def _commit_of(response: httpx.Response) -> str | None:
    for r in (*response.history, response):
        commit: str | None = r.headers.get("x-repo-commit")
        if commit:
            return commit
    return None


def _content_range(response: httpx.Response) -> tuple[int | None, int | None]:
    """``(start, total)`` of ``Content-Range: bytes a-b/total`` or ``bytes */total``."""
    value = response.headers.get("content-range", "")
    unit, _, spec = value.partition(" ")
    if unit.lower() != "bytes":
        return None, None
    span, _, total = spec.partition("/")
    first = span.partition("-")[0]
    return (
        int(first) if first.isdigit() else None,
        int(total) if total.isdigit() else None,
    )


async def _attempt(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    partial: _Partial,
    size: int | None,
    received: Callable[[int], None],
    progress: Callable[[int], Awaitable[None]],
    name: str,
    seen_commit: Callable[[str], None],
) -> bool:
    """One GET; whether the file is complete. Raises ``_Retry`` or a transport error to retry."""
    start = partial.size
    request_headers = {**headers, "Accept-Encoding": "identity"}
    if start:
        request_headers["Range"] = f"bytes={start}-"
    async with client.stream("GET", url, headers=request_headers) as response:
        if commit := _commit_of(response):
            seen_commit(commit)
        code = response.status_code
        if code == 416:
            _, total = _content_range(response)
            if start and total == start and (size is None or size == start):
                return True  # the partial already holds the whole file
            await partial.reset()
            raise _Retry(f"HTTP 416 for bytes={start}-; starting {name} over", immediate=True)
        if code == 206:
            first, _ = _content_range(response)
            if first != start:
                await partial.reset()
                raise _Retry(f"HTTP 206 from byte {first}, asked for {start}", immediate=True)
        elif code == 200:
            if start:
                await partial.reset()  # the server ignored Range: take the whole file
        elif code in _RETRY_STATUS or code >= 500:
            raise _Retry(f"HTTP {code}")
        elif code in (401, 403):
            raise DownloadError(
                f"{name}: access denied (HTTP {code}) at {url}; a gated or private repo needs HF_TOKEN"
            )
        elif code == 404:
            raise DownloadError(f"{name}: not found (HTTP 404) at {url}")
        else:
            raise DownloadError(f"{name}: unexpected HTTP {code} at {url}")
        async with partial.writing():
            async for chunk in response.aiter_raw():
                received(len(chunk))
                await partial.write(chunk)
                if size is not None and partial.size > size:
                    raise IntegrityError(
                        f"{name}: the server sent more than the expected {size} bytes"
                    )
                await progress(partial.size)
    return size is None or partial.size >= size


async def fetch_file(
    client: httpx.AsyncClient,
    *,
    url_for: Callable[[str | None], str],
    dest: Path,
    size: int | None,
    sha256: str | None,
    headers: dict[str, str],
    retry: RetryPolicy,
    sleep: Sleep,
    progress: Callable[[int], Awaitable[None]],
) -> FetchResult:
    """Download ``url_for(commit)`` to ``dest``, resuming and verifying; see the module doc.

    ``url_for(None)`` is the revision's URL; once a response names the commit
    (``X-Repo-Commit``), retries ask for that commit so a moving branch cannot mix files.
    """
    name = dest.name
    if size is not None and sha256 is not None:
        existing = await run_stoppable(lambda stop: _sha256_if_size(dest, size, stop))
        if existing == sha256:  # verified earlier, but the registry never heard of it
            await progress(size)
            return FetchResult(
                path=dest, sha256=sha256, size=size, commit=None, transferred=0, resumed_from=size
            )
    partial = _Partial(dest.with_name(dest.name + ".partial"))
    started_over = False
    while True:
        await partial.open(size)
        resumed_from = partial.size
        transferred = 0

        def received(n: int) -> None:
            nonlocal transferred
            transferred += n

        try:
            commit = await _transfer(
                client, url_for, headers, partial, size, retry, sleep, received, progress, name
            )
            digest = await partial.finish()
        except IntegrityError:
            await partial.discard()
            raise
        except BaseException:
            await partial.keep()
            raise
        wrong_size = size is not None and partial.size != size
        if wrong_size or (sha256 is not None and digest != sha256):
            await partial.discard()
            if resumed_from and not started_over:
                started_over = True  # the old partial may be another version's bytes
                partial = _Partial(partial.path)
                continue
            what = (
                f"{partial.size} bytes, expected {size}"
                if wrong_size
                else f"sha256 {digest}, expected {sha256}"
            )
            raise IntegrityError(f"{name}: downloaded {what}; the partial file was deleted")
        await anyio.to_thread.run_sync(os.replace, partial.path, dest)
        return FetchResult(
            path=dest,
            sha256=digest,
            size=partial.size,
            commit=commit,
            transferred=transferred,
            resumed_from=resumed_from,
        )


async def _transfer(
    client: httpx.AsyncClient,
    url_for: Callable[[str | None], str],
    headers: dict[str, str],
    partial: _Partial,
    size: int | None,
    retry: RetryPolicy,
    sleep: Sleep,
    received: Callable[[int], None],
    progress: Callable[[int], Awaitable[None]],
    name: str,
) -> str | None:
    import httpx  # here, not at import: a registry hit never needs it

    commit: str | None = None
    failures = 0

    def seen_commit(found: str) -> None:
        nonlocal commit
        commit = commit or found

    if partial.size:
        await progress(partial.size)
    while size is None or partial.size < size:
        before = partial.size
        try:
            complete = await _attempt(
                client,
                url_for(commit),
                headers,
                partial,
                size,
                received,
                progress,
                name,
                seen_commit,
            )
            if complete:
                break
            raise _Retry(f"the response for {name} ended at byte {partial.size}")
        except (httpx.TransportError, _Retry) as exc:
            if partial.size > before:
                failures = 0
            failures += 1
            if failures > retry.attempts:
                raise DownloadError(
                    f"{name}: giving up after {failures} failed attempts in a row at "
                    f"byte {partial.size}: {type(exc).__name__}: {exc}"
                ) from exc
            if not (isinstance(exc, _Retry) and exc.immediate):
                await sleep(retry.delay(failures))
    return commit
