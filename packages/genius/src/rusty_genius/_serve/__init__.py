"""``genius serve``: OpenAI- and Ollama-compatible HTTP over a running :class:`Genius`.

:func:`create_app` builds the ASGI app (Starlette); :func:`open_server` serves it
with hypercorn on asyncio or trio. ``rusty_genius`` re-exports these names.
"""

from __future__ import annotations

from ._app import DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES
from ._app import GeniusApp as GeniusApp
from ._app import create_app as create_app
from ._exchange import ServerStatistics as ServerStatistics
from ._fields import parse_keep_alive as parse_keep_alive
from ._server import DEFAULT_HOST as DEFAULT_HOST
from ._server import DEFAULT_PORT as DEFAULT_PORT
from ._server import ServerAddress as ServerAddress
from ._server import open_server as open_server

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
