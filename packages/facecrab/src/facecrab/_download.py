"""Resumable, verified downloads of one file, streamed with httpx.

Bytes go to ``<file>.partial`` and are hashed as they arrive (a partial left by an
earlier run is hashed first, in a thread). A broken connection resumes with
``Range: bytes=<partial size>-``; a server that answers 200 instead restarts the
file, and a 416 re-validates the partial (complete, or discarded). Failures that may
pass (transport errors, 408/429/5xx) are retried with exponential backoff; the count
restarts whenever an attempt made progress (see :class:`~facecrab._stall.TransferLimits`);
a 429 or 503 with ``Retry-After`` waits as long as it says (bounded). An attempt whose
bytes come slower than the stall rule allows is a failed attempt, and ``attempt_deadline``
ends the whole transfer; either way the partial is kept. Only a file whose size and sha256
match is renamed into place; a mismatch deletes the partial and raises
:class:`IntegrityError`. (huggingface_hub's own downloader re-fetched whole files
after a cut when measured on a loopback hub, so resuming is done here.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import attrs

from rusty_genius_core._record import Record

from ._errors import DownloadError, IntegrityError
from ._partial import PartialFile, sha256_if_size
from ._reach import unreachable
from ._stall import StallWatch, TransferLimits, retry_after_seconds
from ._threads import run_stoppable

if TYPE_CHECKING:
    import httpx

__all__ = ["FetchResult", "RetryPolicy", "Sleep", "fetch_file"]

Sleep = Callable[[float], Awaitable[None]]
"""How backoff waits; tests inject one that records the delays instead of sleeping."""

_RETRY_STATUS: Final = frozenset({408, 425, 429})
_RETRY_AFTER_STATUS: Final = frozenset({429, 503})


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RetryPolicy(Record):
    """Exponential backoff: ``initial_delay * multiplier**(n-1)`` seconds, at most ``max_delay``.

    ``attempts`` is how many failures in a row (attempts that made no progress) are
    retried before giving up. A 429 or 503 that says ``Retry-After`` waits that long
    instead, at most ``max_retry_after`` seconds.
    """

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    initial_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    max_retry_after: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))

    def delay(self, failure: int) -> float:
        return min(self.max_delay, self.initial_delay * self.multiplier ** max(0, failure - 1))


@attrs.frozen(kw_only=True, repr=False, eq=False)
class FetchResult(Record):
    """A verified file: where, what, and what it took."""

    path: Path
    sha256: str
    size: int
    commit: str | None
    transferred: int
    """Body bytes received over the network for this file."""
    resumed_from: int
    """Bytes of a partial left by an earlier run that were kept."""


class _Retry(Exception):
    """A failed attempt worth another: ``delay`` overrides the backoff (``Retry-After``),
    ``immediate`` skips it, ``stalled`` marks a breach of the stall rule."""

    def __init__(
        self,
        reason: str,
        *,
        immediate: bool = False,
        delay: float | None = None,
        stalled: bool = False,
    ) -> None:
        super().__init__(reason)
        self.immediate = immediate
        self.delay = delay
        self.stalled = stalled


def _reason(exc: Exception) -> str:
    """A failed attempt in words, without internal class names."""
    import httpx

    if isinstance(exc, _Retry):
        return str(exc)
    detail = str(exc)
    if isinstance(exc, httpx.TimeoutException):
        try:
            timeouts = exc.request.extensions.get("timeout", {})
        except RuntimeError:  # no request attached
            timeouts = {}
        if isinstance(exc, httpx.ReadTimeout):
            return f"the hub sent nothing for {timeouts.get('read', '?')} s (read timeout)"
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connecting to the hub took over {timeouts.get('connect', '?')} s"
        return f"the connection timed out ({detail or 'no detail'})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to the hub: {detail or 'connection failed'}"
    return f"the connection broke: {detail or 'no detail'}"


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
    limits: TransferLimits | None = None,
    deadline: float | None = None,
) -> FetchResult:
    """Download ``url_for(commit)`` to ``dest``, resuming and verifying; see the module doc.

    ``url_for(None)`` is the revision's URL; once a response names the commit
    (``X-Repo-Commit``), retries ask for that commit so a moving branch cannot mix files.
    ``deadline`` (``anyio.current_time()`` based) ends the transfer with a
    :class:`DownloadError`; ``limits`` gives the stall rule and names the deadline.
    """
    name = dest.name
    if size is not None and sha256 is not None:
        existing = await run_stoppable(lambda stop: sha256_if_size(dest, size, stop))
        if existing == sha256:  # verified earlier, but the registry never heard of it
            await progress(size)
            return FetchResult(
                path=dest, sha256=sha256, size=size, commit=None, transferred=0, resumed_from=size
            )
    partial_path = dest.with_name(dest.name + ".partial")
    started_over = False
    while True:
        download = _Download(
            client,
            url_for=url_for,
            headers=headers,
            partial=PartialFile(partial_path),
            size=size,
            retry=retry,
            sleep=sleep,
            progress=progress,
            limits=limits or TransferLimits(),
            deadline=deadline,
        )
        digest = await download.run()
        partial = download.partial
        wrong_size = size is not None and partial.size != size
        if wrong_size or (sha256 is not None and digest != sha256):
            await partial.discard()
            if download.resumed_from and not started_over:
                started_over = True  # the old partial may be another version's bytes
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
            commit=download.commit,
            transferred=download.transferred,
            resumed_from=download.resumed_from,
        )


class _Download:
    """One pass over a file's partial: GET (with ``Range`` from the partial's size) until
    the partial holds ``size`` bytes, retrying with backoff; then flush, fsync, hash.

    Holds the request (client, URL, headers), the partial being filled, and what the
    pass learned: the commit the hub named, the bytes received, the failures in a row.
    """

    __slots__ = (
        "client",
        "commit",
        "deadline",
        "failures",
        "headers",
        "limits",
        "name",
        "partial",
        "progress",
        "resumed_from",
        "retry",
        "size",
        "sleep",
        "transferred",
        "url_for",
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url_for: Callable[[str | None], str],
        headers: dict[str, str],
        partial: PartialFile,
        size: int | None,
        retry: RetryPolicy,
        sleep: Sleep,
        progress: Callable[[int], Awaitable[None]],
        limits: TransferLimits,
        deadline: float | None,
    ) -> None:
        self.client = client
        self.limits = limits
        self.deadline = deadline
        self.url_for = url_for
        self.headers = headers
        self.partial = partial
        self.size = size
        self.retry = retry
        self.sleep = sleep
        self.progress = progress
        self.name = partial.path.name.removesuffix(".partial")
        self.commit: str | None = None
        """The first commit a response named (``X-Repo-Commit``); later requests ask for it."""
        self.resumed_from = 0
        """Bytes of a partial left by an earlier run that were kept."""
        self.transferred = 0
        """Body bytes received over the network."""
        self.failures = 0
        """Failed attempts in a row that made no progress (fewer than ``window_bytes``)."""

    async def run(self) -> str:
        """Fill the partial and return its sha256.

        On an error the partial is kept for a later resume, except after an
        :class:`IntegrityError` (its bytes cannot be trusted), which deletes it.
        """
        partial = self.partial
        await partial.open(self.size)
        self.resumed_from = partial.size
        try:
            deadline = math.inf if self.deadline is None else self.deadline
            with anyio.CancelScope(deadline=deadline) as overall:
                await self._transfer()
            if overall.cancelled_caught:
                raise DownloadError(
                    f"{self.name}: the download did not finish within "
                    f"{self.limits.attempt_deadline:g} s (attempt_deadline) and was stopped at "
                    f"byte {self._where()}. {self._kept()}; for a slow link raise "
                    "GENIUS_ATTEMPT_DEADLINE"
                )
            return await partial.finish()
        except IntegrityError:
            await partial.discard()
            raise
        except BaseException:
            await partial.keep()
            raise

    def _where(self) -> str:
        """``1500000 of 2500001``: how far the partial got."""
        return f"{self.partial.size}" + (f" of {self.size}" if self.size is not None else "")

    def _kept(self) -> str:
        size = self.partial.size
        if size:
            return f"The partial file is kept: pulling again resumes from byte {size}"
        return "Nothing was received, so nothing was kept"

    async def _transfer(self) -> None:
        """Attempt until complete; transport errors and ``_Retry`` back off, then retry."""
        import httpx  # here, not at import: a registry hit never needs it

        partial, size = self.partial, self.size
        if partial.size:
            await self.progress(partial.size)
        while size is None or partial.size < size:
            before = partial.size
            try:
                if await self._attempt():
                    break
                raise _Retry(f"the response ended at byte {partial.size}")
            except (httpx.TransportError, _Retry) as exc:
                if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and (
                    self.transferred == 0 and self.failures == 0
                ):
                    # A name that does not resolve or a refused connection: no retry.
                    raise _unreachable(self.url_for(None), exc) from exc
                if partial.size - before >= self.limits.window_bytes:
                    self.failures = 0
                self.failures += 1
                stalled = isinstance(exc, _Retry) and exc.stalled
                if self.failures > self.retry.attempts:
                    advice = f"; {self.limits.advice()}" if stalled else ""
                    raise DownloadError(
                        f"{self.name}: giving up after {self.failures} failed attempts in a row at "
                        f"byte {self._where()}: {_reason(exc)}. {self._kept()}{advice}"
                    ) from exc
                if isinstance(exc, _Retry) and exc.immediate:
                    continue
                told = exc.delay if isinstance(exc, _Retry) else None
                await self.sleep(self.retry.delay(self.failures) if told is None else told)

    async def _attempt(self) -> bool:
        """One GET under the stall rule; whether the file is complete.

        Raises ``_Retry`` (a stall among them) or a transport error to retry.
        """
        import httpx

        watch = StallWatch(self.limits)
        url = self.url_for(self.commit)
        complete = False
        try:
            with watch.scope:
                complete = await self._exchange(url, watch)
        except httpx.TooManyRedirects as exc:
            raise DownloadError(
                f"{self.name}: the hub redirected more than {self.client.max_redirects} times "
                f"from {url} (a redirect loop); check HF_ENDPOINT and any proxy in between"
            ) from exc
        if watch.stalled:
            raise _Retry(watch.describe(), stalled=True)
        return complete

    async def _exchange(self, url: str, watch: StallWatch) -> bool:
        """One request and its body; see :meth:`_attempt`."""
        partial, size, name = self.partial, self.size, self.name
        start = partial.size
        request_headers = {**self.headers, "Accept-Encoding": "identity"}
        if start:
            request_headers["Range"] = f"bytes={start}-"
        async with self.client.stream("GET", url, headers=request_headers) as response:
            watch.answered()
            self.commit = self.commit or _commit_of(response)
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
                told = None
                if code in _RETRY_AFTER_STATUS:
                    told = retry_after_seconds(response.headers.get("retry-after"))
                raise _Retry(
                    f"the hub answered HTTP {code} {response.reason_phrase}".rstrip(),
                    delay=None if told is None else min(told, self.retry.max_retry_after),
                )
            elif code in (401, 403):
                raise DownloadError(
                    f"{name}: access denied (HTTP {code}) at {url}; a gated or private repo needs HF_TOKEN"
                )
            elif code == 404:
                raise DownloadError(f"{name}: not found (HTTP 404) at {url}")
            else:
                raise DownloadError(f"{name}: unexpected HTTP {code} at {url}")
            progress = self.progress
            async with partial.writing():
                async for chunk in response.aiter_raw():
                    self.transferred += len(chunk)
                    watch.received(len(chunk))
                    with watch.paused():  # the disk's and the listeners' time, not the hub's
                        await partial.write(chunk)
                        if size is not None and partial.size > size:
                            raise IntegrityError(
                                f"{name}: the server sent more than the expected {size} bytes"
                            )
                        await progress(partial.size)
        return size is None or partial.size >= size


def _unreachable(url: str, exc: Exception) -> DownloadError:
    parts = urlsplit(url)
    return unreachable(f"{parts.scheme}://{parts.netloc}", f"{type(exc).__name__}: {exc}")
