"""Serving the ASGI app with hypercorn on whichever event loop runs: asyncio or trio.

The listening socket is bound here, before hypercorn starts, so that port ``0``
gives an ephemeral port the caller learns at once, and so that a port in use
fails the ``async with`` rather than a background task. Leaving the block stops
the server gracefully: no new connections, and running requests get
``graceful_timeout`` seconds before they are cancelled (which cancels their
brainstem requests).
"""

from __future__ import annotations

import logging
import socket
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs

from rusty_genius_core import ConfigError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from hypercorn.config import Config, Sockets
    from starlette.types import ASGIApp

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerAddress", "open_server"]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8080

log = logging.getLogger("rusty_genius.serve")


@attrs.frozen(kw_only=True)
class ServerAddress:
    """Where a server listens; ``url`` is its base URL (``http://127.0.0.1:8080``)."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


async def _listen(host: str, port: int, backlog: int) -> socket.socket:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer in [0, 65535], got {port!r}")
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


def _config(graceful_timeout: float) -> Config:
    from hypercorn.config import Config  # imported when serving, not with rusty_genius

    config = Config()
    config.errorlog = log  # hypercorn's messages go to logging, not to stderr
    config.accesslog = None
    config.graceful_timeout = graceful_timeout
    return config


def _on_trio() -> bool:
    """Whether this task runs under trio (then trio is imported; no sniffio needed)."""
    trio: Any = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


async def _run(app: ASGIApp, config: Config, sockets: Sockets, stop: anyio.Event) -> None:
    from hypercorn.utils import wrap_app

    wrapped: Any = wrap_app(app, config.wsgi_max_body_size, "asgi")  # type: ignore[arg-type]
    if _on_trio():
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
    backlog: int = 128,
) -> AsyncIterator[ServerAddress]:
    """Serve ``app`` over HTTP/1.1 on ``host:port`` until the block ends.

    ``port=0`` picks a free port; the yielded :class:`ServerAddress` says which.
    The default host is the loopback interface: only this machine can connect.
    """
    sock = await _listen(host, port, backlog)
    try:
        bound = sock.getsockname()
        address = ServerAddress(host=str(bound[0]), port=int(bound[1]))
        from hypercorn.config import Sockets

        sockets = Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_run, app, _config(graceful_timeout), sockets, stop)
            try:
                yield address
            finally:
                stop.set()
    finally:
        sock.close()
