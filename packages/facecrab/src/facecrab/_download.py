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

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio
import anyio.to_thread
import attrs

from ._errors import DownloadError, IntegrityError
from ._partial import PartialFile, sha256_if_size
from ._threads import run_stoppable

if TYPE_CHECKING:
    import httpx

__all__ = ["FetchResult", "RetryPolicy", "Sleep", "fetch_file"]

Sleep = Callable[[float], Awaitable[None]]
"""How backoff waits; tests inject one that records the delays instead of sleeping."""

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


class _Retry(Exception):
    def __init__(self, reason: str, *, immediate: bool = False) -> None:
        super().__init__(reason)
        self.immediate = immediate


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
) -> FetchResult:
    """Download ``url_for(commit)`` to ``dest``, resuming and verifying; see the module doc.

    ``url_for(None)`` is the revision's URL; once a response names the commit
    (``X-Repo-Commit``), retries ask for that commit so a moving branch cannot mix files.
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
        "failures",
        "headers",
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
    ) -> None:
        self.client = client
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
        """Failed attempts in a row that brought no new bytes."""

    async def run(self) -> str:
        """Fill the partial and return its sha256.

        On an error the partial is kept for a later resume, except after an
        :class:`IntegrityError` (its bytes cannot be trusted), which deletes it.
        """
        partial = self.partial
        await partial.open(self.size)
        self.resumed_from = partial.size
        try:
            await self._transfer()
            return await partial.finish()
        except IntegrityError:
            await partial.discard()
            raise
        except BaseException:
            await partial.keep()
            raise

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
                raise _Retry(f"the response for {self.name} ended at byte {partial.size}")
            except (httpx.TransportError, _Retry) as exc:
                if partial.size > before:
                    self.failures = 0
                self.failures += 1
                if self.failures > self.retry.attempts:
                    raise DownloadError(
                        f"{self.name}: giving up after {self.failures} failed attempts in a row at "
                        f"byte {partial.size}: {type(exc).__name__}: {exc}"
                    ) from exc
                if not (isinstance(exc, _Retry) and exc.immediate):
                    await self.sleep(self.retry.delay(self.failures))

    async def _attempt(self) -> bool:
        """One GET; whether the file is complete. Raises ``_Retry`` or a transport error to retry."""
        partial, size, name = self.partial, self.size, self.name
        start = partial.size
        url = self.url_for(self.commit)
        request_headers = {**self.headers, "Accept-Encoding": "identity"}
        if start:
            request_headers["Range"] = f"bytes={start}-"
        async with self.client.stream("GET", url, headers=request_headers) as response:
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
                raise _Retry(f"HTTP {code}")
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
                    await partial.write(chunk)
                    if size is not None and partial.size > size:
                        raise IntegrityError(
                            f"{name}: the server sent more than the expected {size} bytes"
                        )
                    await progress(partial.size)
        return size is None or partial.size >= size
