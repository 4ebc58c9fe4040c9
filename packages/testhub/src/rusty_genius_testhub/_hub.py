"""A loopback Hugging Face hub: real HTTP/1.1 on 127.0.0.1, with fault injection.

It speaks the paths huggingface_hub and facecrab use, in Hugging Face's shapes (see
:mod:`._router`): repo trees with LFS metadata, ``model_info``, and ``resolve`` with
``X-Repo-Commit``, ``X-Linked-Etag``, ``X-Linked-Size``, ``ETag`` and ``Range`` support;
LFS files redirect (302) to a ``/cdn/`` path first, as the real hub sends them to its CDN.

The parts, one module each: :mod:`._catalog` (repos and files), :mod:`._faults` (the
fault registry), :mod:`._log` (the request log), :mod:`._wire` (HTTP/1.1 framing with
h11) and :mod:`._router` (the routes). This module is the server: :class:`LoopbackHub`,
the object tests hold, and the accept loop on anyio sockets, so the same server runs on
asyncio and trio. A fault lands on an exact byte (cut the connection after N body bytes,
stall, drip one byte at a time, flip bytes, answer a status, ignore ``Range``, redirect
in a loop). Every request is recorded
(:class:`RequestRecord`) for assertions. Files on disk are streamed in chunks.

Use ``async with open_hub() as hub`` inside a test's event loop, or
``with run_hub_in_thread() as hub`` when the calling thread blocks (subprocesses,
benchmarks). The fault and statistics methods are thread-safe.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread

from ._catalog import Catalog, HubRepo
from ._faults import Fault, FaultRegistry, StallHandle
from ._log import RequestKind, RequestLog, RequestRecord
from ._router import Router
from ._wire import REASONS, ConnectionDropped, HttpConnection

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping
    from pathlib import Path

__all__ = ["LoopbackHub", "open_hub", "run_hub_in_thread"]

_CHUNK: Final = 256 * 1024


class LoopbackHub:
    """The hub's state: repos, faults and the request log. Built by :func:`open_hub`."""

    def __init__(self, *, redirect_lfs: bool = True, chunk_size: int = _CHUNK) -> None:
        self.redirect_lfs = redirect_lfs
        self.chunk_size = chunk_size
        self.host = "127.0.0.1"
        self.port = 0
        self.errors: list[BaseException] = []
        self._catalog = Catalog()
        self._faults = FaultRegistry()
        self._log = RequestLog()
        self._router = Router(self, self._catalog, self._faults, self._log)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- repos -------------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, Path | bytes],
        *,
        revision: str = "main",
        commit: str | None = None,
    ) -> HubRepo:
        """Serve ``files`` (in-repo path -> file on disk or bytes) as ``repo_id`` at ``revision``.

        Registering the same repo again with another revision adds that revision; with the
        same revision it replaces it. ``commit`` defaults to a stable 40-hex id.
        """
        return self._catalog.add(repo_id, files, revision=revision, commit=commit)

    # -- faults ------------------------------------------------------------------------------
    # Each fault matches a file (its in-repo path or ``org/repo/path``); ``after=N`` lets the
    # first N matching requests through, then it fires ``times`` times (``None``: forever).

    def cut_after(
        self,
        path: str,
        nbytes: int,
        *,
        times: int | None = 1,
        after: int = 0,
        abrupt: bool = False,
    ) -> None:
        """Send the headers and ``nbytes`` of the body, then close the connection.

        ``path`` is the file's in-repo path or ``org/repo/path``. ``abrupt`` resets the
        connection (RST) instead of closing it cleanly.
        """
        self._faults.add(
            Fault(kind="cut", key=path, times=times, after=after, nbytes=nbytes, abrupt=abrupt)
        )

    def stall(
        self,
        path: str,
        after_bytes: int,
        release: anyio.Event | None = None,
        *,
        times: int | None = 1,
        after: int = 0,
    ) -> StallHandle:
        """Stop sending after ``after_bytes`` body bytes until the stall is released."""
        handle = StallHandle(after_bytes, release)
        self._faults.add(
            Fault(
                kind="stall", key=path, times=times, after=after, nbytes=after_bytes, stall=handle
            )
        )
        return handle

    def drip(
        self,
        path: str,
        after_bytes: int,
        interval: float,
        *,
        times: int | None = 1,
        after: int = 0,
    ) -> None:
        """Send ``after_bytes`` of the body at full speed, then one byte every ``interval`` s.

        A hub that is never silent for long but never gets anywhere either: a read
        timeout does not fire, only a minimum rate catches it.
        """
        if interval <= 0:
            raise ValueError(f"a drip's interval must be positive, got {interval}")
        self._faults.add(
            Fault(
                kind="drip",
                key=path,
                times=times,
                after=after,
                nbytes=after_bytes,
                interval=interval,
            )
        )

    def redirect_loop(self, path: str, *, times: int | None = None, after: int = 0) -> None:
        """Answer the file's ``resolve`` request with a 302 to the same URL, again and again."""
        self._faults.add(Fault(kind="redirect_loop", key=path, times=times, after=after))

    def corrupt(self, path: str, *, times: int | None = None, after: int = 0) -> None:
        """Serve wrong bytes of the right length."""
        self._faults.add(Fault(kind="corrupt", key=path, times=times, after=after))

    def status(
        self,
        target: str,
        code: int,
        *,
        times: int | None = 1,
        after: int = 0,
        retry_after: str | None = None,
    ) -> None:
        """Answer ``code`` instead, for a file (``path``/``org/repo/path``) or a whole repo.

        A file's fault answers its ``resolve`` request (a 416 with ``Content-Range:
        bytes */SIZE``); a repo's fault also answers the tree and model_info requests.
        ``retry_after`` is sent as the ``Retry-After`` header (seconds or an HTTP date).
        """
        if code not in REASONS or code < 400:
            raise ValueError(f"status fault {code} is not an error status this hub knows")
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        self._faults.add(
            Fault(kind="status", key=target, times=times, after=after, code=code, headers=headers)
        )

    def ignore_range(self, path: str, *, times: int | None = None, after: int = 0) -> None:
        """Answer ``Range`` requests with 200 and the whole file, as some servers do."""
        self._faults.add(Fault(kind="ignore_range", key=path, times=times, after=after))

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- statistics --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request so far, in arrival order."""
        return self._log.snapshot()

    def request_count(
        self, method: str | None = None, *, kind: RequestKind | None = None, file: str | None = None
    ) -> int:
        return self._log.count(method, kind, file)

    def bytes_served(self, file: str | None = None) -> int:
        """Body bytes sent, for one file (in-repo path or ``org/repo/path``) or in all."""
        return self._log.bytes_served(file)

    def body_requests(self, file: str) -> list[RequestRecord]:
        """GETs that were answered with the file's bytes (200 or 206)."""
        return self._log.body_requests(file)

    def ranges_seen(self, file: str) -> list[str | None]:
        """The ``Range`` header of every GET that reached the file's bytes (or was refused)."""
        return self._log.ranges_seen(file)

    def reset_stats(self) -> None:
        self._log.clear()

    async def wait_for(self, predicate: Callable[[LoopbackHub], bool]) -> None:
        """Wait (from any event loop) until ``predicate(hub)`` holds; checked on every request."""
        await anyio.to_thread.run_sync(
            self.wait_for_blocking, predicate, None, abandon_on_cancel=True
        )

    def wait_for_blocking(
        self, predicate: Callable[[LoopbackHub], bool], timeout: float | None = None
    ) -> bool:
        return self._log.wait_blocking(lambda: predicate(self), timeout)

    # -- serving -----------------------------------------------------------------------------

    def _shutdown(self) -> None:
        self._faults.release_stalls()
        self._log.wake()

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        """Serve one connection: requests in turn while it stays open."""
        conn = HttpConnection(stream)
        try:
            async with stream:
                while (request := await conn.next_request()) is not None:
                    await self._router.handle(conn, request)
                    if not conn.next_cycle():
                        return
        except (ConnectionDropped, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return
        except ConnectionError:
            return
        except Exception as exc:  # a bug in the hub: surface it when the hub closes
            self.errors.append(exc)


@contextlib.asynccontextmanager
async def open_hub(
    *, redirect_lfs: bool = True, chunk_size: int = _CHUNK
) -> AsyncIterator[LoopbackHub]:
    """Serve a :class:`LoopbackHub` on an ephemeral 127.0.0.1 port in the caller's event loop."""
    hub = LoopbackHub(redirect_lfs=redirect_lfs, chunk_size=chunk_size)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener, anyio.create_task_group() as tg:
        hub.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.start_soon(listener.serve, hub._handle)
        try:
            yield hub
        finally:
            hub._shutdown()
            tg.cancel_scope.cancel()
    if hub.errors:
        raise RuntimeError("the loopback hub failed while serving") from hub.errors[0]


@contextlib.contextmanager
def run_hub_in_thread(
    *, redirect_lfs: bool = True, chunk_size: int = _CHUNK, backend: str = "asyncio"
) -> Iterator[LoopbackHub]:
    """Serve a :class:`LoopbackHub` from its own thread and event loop.

    For callers whose thread blocks: subprocess tests, benchmarks, synchronous clients.
    """
    with (
        anyio.from_thread.start_blocking_portal(backend) as portal,
        portal.wrap_async_context_manager(
            open_hub(redirect_lfs=redirect_lfs, chunk_size=chunk_size)
        ) as hub,
    ):
        yield hub
