"""Where a command runs: on a running ``genius serve``, or in-process.

``GENIUS_HOST`` reads as ``OLLAMA_HOST`` does: ``host``, ``host:port``, ``:port`` or a URL
(``http://host:port``, ``https://host``); the defaults are the address and port that
``genius serve`` listens on. Finding out costs one TCP connect: refused in microseconds on
a loopback port where nothing listens, and given up after :data:`PROBE_TIMEOUT` on a host
that does not answer. This module imports no HTTP client.

The errors of a command that runs on the server::

    GeniusError
    ├── ServerRefusedError   the server answered 4xx: the request was bad (exit 2)
    └── ServerFailedError    the server answered 5xx, broke off, or an error line (exit 1)
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from typing import TYPE_CHECKING, Final

import anyio

from rusty_genius_core import ConfigError, GeniusError
from rusty_genius_core._record import PlainRecord

from .._serve._server import DEFAULT_HOST, DEFAULT_PORT, base_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._parsed import Options
    from ._remote import Remote
    from ._render import Output

__all__ = [
    "HOST_ENV",
    "PROBE_TIMEOUT",
    "ServerFailedError",
    "ServerRefusedError",
    "ServerUrl",
    "is_listening",
    "open_remote",
    "server_url",
]

HOST_ENV: Final = "GENIUS_HOST"
PROBE_TIMEOUT: Final = 0.5
"""Seconds a connect to ``GENIUS_HOST`` may take before the command runs in-process."""


class ServerRefusedError(GeniusError):
    """The server refused the request as bad input (a 4xx answer)."""

    http_status = 400


class ServerFailedError(GeniusError):
    """The server failed the request (a 5xx answer, an error line, or a broken connection)."""

    http_status = 502


class ServerUrl(PlainRecord):
    """A server's base URL and the host and port to connect to."""

    __match_args__ = ("scheme", "host", "port")
    __slots__ = ("host", "port", "scheme")

    def __init__(self, *, scheme: str, host: str, port: int) -> None:
        self.scheme: Final = scheme
        self.host: Final = host
        self.port: Final = port

    @property
    def url(self) -> str:
        return base_url(self.scheme, self.host, self.port)


def server_url(text: str | None) -> ServerUrl:
    """``GENIUS_HOST``'s value read as Ollama reads ``OLLAMA_HOST``; ConfigError when malformed."""
    text = (text or "").strip()
    if not text:
        return ServerUrl(scheme="http", host=DEFAULT_HOST, port=DEFAULT_PORT)
    scheme = "http"
    rest = text
    if "://" in text:
        scheme, _, rest = text.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ConfigError(f"{HOST_ENV}={text!r}: the scheme must be http or https")
    rest = rest.split("/", 1)[0]
    try:
        parts = urllib.parse.urlsplit(f"//{rest}")
        port = parts.port
    except ValueError:
        port = -1
    if (port is not None and not 0 < port < 65536) or not rest:
        raise ConfigError(
            f"{HOST_ENV}={text!r} is not an address; use host:port or a URL "
            f"such as http://{DEFAULT_HOST}:{DEFAULT_PORT}"
        )
    default_port = 443 if scheme == "https" else DEFAULT_PORT
    return ServerUrl(scheme=scheme, host=parts.hostname or DEFAULT_HOST, port=port or default_port)


async def is_listening(server: ServerUrl, *, within: float = PROBE_TIMEOUT) -> bool:
    """Whether something accepts TCP connections at ``server`` ``within`` seconds (no HTTP)."""
    with anyio.move_on_after(within):
        try:
            stream = await anyio.connect_tcp(server.host, server.port)
        except OSError:
            return False
        await stream.aclose()
        return True
    return False


@contextlib.asynccontextmanager
async def open_remote(options: Options, out: Output) -> AsyncIterator[Remote | None]:
    """The server this command talks to, or ``None`` to run in-process (said under --verbose)."""
    local_only = [
        flag
        for flag, given in (
            ("--backend", options.backend != "auto"),
            ("--home", options.home is not None),
            ("--cache", options.cache is not None),
            ("--endpoint", options.endpoint is not None),
        )
        if given
    ]
    if local_only:
        _verbose(out, options, f"running in-process: {', '.join(local_only)} given")
        yield None
        return
    server = server_url(os.environ.get(HOST_ENV))
    if not await is_listening(server):
        _verbose(out, options, f"no server at {server.url} ({HOST_ENV}); running in-process")
        yield None
        return
    from ._remote import Remote  # here: httpx and pydantic only when a server listens

    async with Remote.from_env(server) as remote:
        version = await remote.check()
        if version is None:
            _verbose(
                out,
                options,
                f"{server.url} ({HOST_ENV}) does not answer as genius serve; running in-process",
            )
            yield None
            return
        _verbose(out, options, f"using the server at {server.url} (version {version})")
        yield remote


def _verbose(out: Output, options: Options, text: str) -> None:
    if options.verbose:
        out.info(text)
