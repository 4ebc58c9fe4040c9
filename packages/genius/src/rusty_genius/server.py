"""``genius serve``: OpenAI- and Ollama-compatible HTTP over a running :class:`~rusty_genius.Genius`.

:func:`create_app` builds the ASGI app (:class:`GeniusApp`, with its
:class:`ServerStatistics`); :func:`open_server` serves it with hypercorn on asyncio or trio
at a :class:`ServerAddress`. The names whose modules import the HTTP stack load on first
use, so ``import rusty_genius`` (and ``genius run``) imports none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rusty_genius_core._lazy import lazy_exports as _lazy_exports
from rusty_genius_core._public import publish as _publish

from ._serve import DEFAULT_HOST as DEFAULT_HOST
from ._serve import DEFAULT_PORT as DEFAULT_PORT
from ._serve import ServerAddress as ServerAddress
from ._serve import __all__ as __all__  # the same names, declared once there
from ._serve import open_server as open_server

if TYPE_CHECKING:
    from ._serve import DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES
    from ._serve import GeniusApp as GeniusApp
    from ._serve import ServerStatistics as ServerStatistics
    from ._serve import create_app as create_app
    from ._serve import parse_keep_alive as parse_keep_alive
else:  # PEP 562; hidden from type checkers, which would otherwise accept any name here
    __getattr__, __dir__ = _lazy_exports(
        __name__,
        dict.fromkeys(
            (
                "DEFAULT_MAX_BODY_BYTES",
                "GeniusApp",
                "ServerStatistics",
                "create_app",
                "parse_keep_alive",
            ),
            "rusty_genius._serve",
        ),
    )


_publish(__name__)
