"""How a failed command ends: its exit code and the one line that says what went wrong.

The code comes from the error's class, not from a list kept here: an error that is the
caller's fault (``GeniusError.user_fault``, a 4xx ``http_status``: a malformed or unknown
model reference, an option out of range, …) exits 2, like a usage error; every other
failure exits 1; Ctrl-C exits 130.
"""

from __future__ import annotations

from typing import Final

from rusty_genius_core import GeniusError

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "describe",
    "exit_code",
]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130


class _UsageError(GeniusError):
    """Bad command-line input found after parsing (exit 2, as the 400 status says)."""

    http_status = 400


def exit_code(exc: BaseException) -> int:
    """130 for Ctrl-C, 2 for an error that is the caller's fault, else 1."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, GeniusError) and exc.user_fault:
        return EXIT_USAGE
    return EXIT_FAILURE


def describe(exc: BaseException) -> str:
    """The text after ``genius: error:``."""
    if isinstance(exc, GeniusError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
