"""``genius``: pull, list, run and chat with local models from the command line.

Exit codes: 0 success; 2 bad input: a usage error, or an error whose class says it is
the caller's fault (``GeniusError.user_fault``, a 4xx ``http_status``: a malformed or
unknown model reference, ``ManifestError``, ``ConfigError``, ``ProtocolError``, the
``*NotFoundError`` and ``OfflineError`` of facecrab); 1 any other failure at run time
(``AssetError``, ``EngineError``, …); 130 interrupted (Ctrl-C). Errors print one line,
``genius: error: …``; ``--debug`` adds the traceback.

The event loop is asyncio unless ``GENIUS_ASYNC_BACKEND=trio``.

Modules: :mod:`._parser` declares the arguments, :mod:`._parsed` reads them into one
typed command each, :mod:`._commands` runs them, :mod:`._render` prints, :mod:`._exit`
turns a failure into its exit code and :mod:`._main` ties them together.
"""

from __future__ import annotations

from ._exit import EXIT_FAILURE as EXIT_FAILURE
from ._exit import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from ._exit import EXIT_OK as EXIT_OK
from ._exit import EXIT_USAGE as EXIT_USAGE
from ._main import console_main as console_main
from ._main import main as main
from ._parser import build_parser as build_parser

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "console_main",
    "main",
]
