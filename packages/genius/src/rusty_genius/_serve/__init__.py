"""``genius serve``: OpenAI- and Ollama-compatible HTTP over a running :class:`Genius`.

:func:`create_app` builds the ASGI app (FastAPI, with pydantic request and response
models); :func:`open_server` serves it with hypercorn on asyncio or trio.
``rusty_genius.server`` re-exports these names. The names whose modules import FastAPI,
Starlette or pydantic load on first use, so that the command line (whose ``serve``
options live in this package) imports no HTTP stack to run a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from rusty_genius_core._lazy import lazy_exports as _lazy_exports

from ._server import DEFAULT_HOST as DEFAULT_HOST
from ._server import DEFAULT_PORT as DEFAULT_PORT
from ._server import ServerAddress as ServerAddress
from ._server import open_server as open_server

if TYPE_CHECKING:
    from ._app import DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES
    from ._app import GeniusApp as GeniusApp
    from ._app import create_app as create_app
    from ._keep_alive import parse_keep_alive as parse_keep_alive
    from ._statistics import ServerStatistics as ServerStatistics

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PORT",
    "GeniusApp",
    "ServerAddress",
    "ServerStatistics",
    "create_app",
    "open_server",
    "parse_keep_alive",
]

_LAZY: Final = {
    "DEFAULT_MAX_BODY_BYTES": "._app",
    "GeniusApp": "._app",
    "ServerStatistics": "._statistics",
    "create_app": "._app",
    "parse_keep_alive": "._keep_alive",  # its patterns compile on first use
}

if not TYPE_CHECKING:  # PEP 562; hidden from type checkers, which would accept any name here
    __getattr__, __dir__ = _lazy_exports(__name__, _LAZY, public=False)
