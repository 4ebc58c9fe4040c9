"""Serving the ASGI app with hypercorn on whichever event loop runs: asyncio or trio.

The listening socket is bound here, before hypercorn starts, so that port ``0``
gives an ephemeral port the caller learns at once, and so that a port in use
fails the ``async with`` rather than a background task. Leaving the block stops
the server gracefully: no new connections, and running requests get
``graceful_timeout`` seconds before they are cancelled (which cancels their
brainstem requests).

The listen backlog (``backlog``, ``genius serve --backlog``, ``GENIUS_BACKLOG``) is how
many connections the kernel completes and queues before the server accepts them; a
burst beyond it has its handshakes dropped or answered with SYN cookies, and clients
see resets and timeouts. It is 1024 by default; Linux silently caps it at
``net.core.somaxconn`` (``/proc/sys/net/core/somaxconn``, 4096 on current kernels).
Issue 18 measured 500 simultaneous requests against the former fixed 128: up to 59
lost per wave on asyncio and 68 on trio, none with 1024. Why the loops differed, read
from the installed hypercorn (0.18) and trio (0.35):

* asyncio: hypercorn's worker passes our socket to ``asyncio.start_server(sock=...,
  backlog=config.backlog)``, and asyncio calls ``sock.listen(backlog)`` again, so the
  queue was hypercorn's default of **100**, never our 128. Its accept callback then
  drains up to ``backlog`` connections per readiness event in one go.
* trio: hypercorn's worker does not re-listen a socket it is given (it listens only
  sockets it creates), so the queue was our 128; but ``trio.serve_listeners`` accepts
  **one connection per pass of the scheduler** (each ``accept`` ends in a checkpoint),
  and every pass also runs the handlers of the connections just accepted. Under a burst
  the queue empties more slowly than asyncio's batch drain, so more of it overflowed.

Fixed here: hypercorn's ``config.backlog`` is set to ours, so both loops listen with
the same queue, deep enough for a burst that trio's one-at-a-time accept drains in
time. The accept loop itself belongs to hypercorn and trio and is left as it is.
"""

from __future__ import annotations

import logging
import socket
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs

from rusty_genius_core import ConfigError, running_on_trio
from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hypercorn.config import Config, Sockets
    from starlette.types import ASGIApp

__all__ = [
    "DEFAULT_BACKLOG",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BACKLOG",
    "ServerAddress",
    "listen_backlog_cap",
    "open_server",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8080
DEFAULT_BACKLOG: Final = 1024
MAX_BACKLOG: Final = 65535  # listen(2) takes an int; the kernel caps it at somaxconn anyway
_SOMAXCONN: Final = Path("/proc/sys/net/core/somaxconn")

log = logging.getLogger("rusty_genius.serve")


def base_url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, an IPv6 ``host`` in brackets (the CLI's server URL uses it too)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ServerAddress(Record):
    """Where a server listens; ``url`` is its base URL (``http://127.0.0.1:8080``)."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return base_url("http", self.host, self.port)


def listen_backlog_cap() -> int | None:
    """The kernel's ceiling on a listen backlog (Linux ``net.core.somaxconn``), if known."""
    try:
        return int(_SOMAXCONN.read_text().strip())
    except (OSError, ValueError):
        return None


def _check_backlog(backlog: int) -> None:
    if isinstance(backlog, bool) or not isinstance(backlog, int) or not 1 <= backlog <= MAX_BACKLOG:
        raise ConfigError(f"backlog must be an integer in [1, {MAX_BACKLOG}], got {backlog!r}")
    cap = listen_backlog_cap()
    if cap is not None and backlog > cap:
        log.warning(
            "listen backlog %d is capped at %d by the kernel (net.core.somaxconn)", backlog, cap
        )


async def _listen(host: str, port: int, backlog: int) -> socket.socket:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer in [0, 65535], got {port!r}")
    _check_backlog(backlog)
    try:
        infos = await anyio.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        raise ConfigError(f"cannot resolve host {host!r}: {exc}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # tokens go out at once
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _config(graceful_timeout: float, backlog: int) -> Config:
    from hypercorn.config import Config  # imported when serving, not with rusty_genius

    config = Config()
    config.errorlog = log  # hypercorn's messages go to logging, not to stderr
    config.accesslog = None
    config.graceful_timeout = graceful_timeout
    # asyncio.start_server listens our socket again with this: without it, hypercorn's 100
    config.backlog = backlog
    return config


async def _run(app: ASGIApp, config: Config, sockets: Sockets, stop: anyio.Event) -> None:
    from hypercorn.utils import wrap_app

    wrapped: Any = wrap_app(app, config.wsgi_max_body_size, "asgi")  # type: ignore[arg-type]
    if running_on_trio():
        from hypercorn.trio.run import worker_serve as trio_serve

        await trio_serve(wrapped, config, sockets=sockets, shutdown_trigger=stop.wait)
    else:
        from hypercorn.asyncio.run import worker_serve as asyncio_serve

        await asyncio_serve(wrapped, config, sockets=sockets, shutdown_trigger=stop.wait)


@asynccontextmanager
async def open_server(
    app: ASGIApp,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    graceful_timeout: float = 5.0,
    backlog: int = DEFAULT_BACKLOG,
) -> AsyncIterator[ServerAddress]:
    """Serve ``app`` over HTTP/1.1 on ``host:port`` until the block ends.

    ``port=0`` picks a free port; the yielded :class:`ServerAddress` says which.
    The default host is the loopback interface: only this machine can connect.
    ``backlog`` is the listen queue for connections not yet accepted (between 1 and
    65535; Linux caps it at ``net.core.somaxconn``), the same on asyncio and trio.
    """
    sock = await _listen(host, port, backlog)
    try:
        bound = sock.getsockname()
        address = ServerAddress(host=str(bound[0]), port=int(bound[1]))
        from hypercorn.config import Sockets

        sockets = Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_run, app, _config(graceful_timeout, backlog), sockets, stop)
            try:
                yield address
            finally:
                stop.set()
    finally:
        sock.close()
