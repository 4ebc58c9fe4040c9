"""Ollama's ``keep_alive``: a number of seconds or a Go duration, read one way everywhere.

:data:`KEEP_ALIVE_PATTERN` is what the request models publish in the OpenAPI document
and what :func:`parse_keep_alive` accepts, so the two cannot disagree (``"-1"`` is
both a valid string and "forever"). The command line's ``--keep-alive`` reads it too,
which is why this module imports no HTTP stack.
"""

from __future__ import annotations

import math
import re
from typing import Final

from ._errors import RequestError, describe_value

__all__ = ["KEEP_ALIVE_PATTERN", "keep_alive_seconds", "parse_keep_alive"]

_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go's spellings of the microsecond
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_NUMBER: Final = r"(?:\d+(?:\.\d*)?|\.\d+)"
_UNIT: Final = "(?:ns|us|µs|μs|ms|s|m|h)"
KEEP_ALIVE_PATTERN: Final = rf"^[+-]?(?:{_NUMBER}|(?:{_NUMBER}{_UNIT})+)$"
"""A bare number of seconds (``"-1"``, ``"42"``) or a Go duration (``"5m"``, ``"1h30m"``)."""

_WHOLE: Final = re.compile(KEEP_ALIVE_PATTERN)
_PART: Final = re.compile(rf"({_NUMBER})({_UNIT})")
_EXPECTED: Final = 'must be a duration like "5m", "1h30m" or "-1", or a number of seconds'


def keep_alive_seconds(value: object) -> float | None:
    """Seconds for a ``keep_alive`` value: ``None`` when absent, ``-1.0`` for forever.

    Raises :class:`ValueError` whose message says what is expected (without the
    field's name). ``0`` unloads the model after the request; any negative value
    keeps it loaded forever.
    """
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an integer no float holds (JSON allows 1000...0)
            seconds = math.inf
        if not math.isfinite(seconds):
            raise ValueError(f"must be a finite number of seconds, got {describe_value(value)}")
        return -1.0 if seconds < 0 else seconds
    text = value.strip() if isinstance(value, str) else None
    if text is None or not _WHOLE.fullmatch(text):
        raise ValueError(f"{_EXPECTED}, got {describe_value(value)}")
    negative = text.startswith("-")
    body = text.lstrip("+-")
    if re.fullmatch(_NUMBER, body):
        seconds = float(body)
    else:
        seconds = sum(float(part[1]) * _UNITS[part[2]] for part in _PART.finditer(body))
    if not math.isfinite(seconds):
        raise ValueError(f"{_EXPECTED}, got {describe_value(value)}")
    return -1.0 if negative and seconds > 0 else seconds


def parse_keep_alive(value: object, where: str = "keep_alive") -> float | None:
    """Ollama's ``keep_alive`` in seconds: ``None`` when absent, negative for forever.

    A number is seconds; a string is a Go duration (``"5m"``, ``"1h30m"``,
    ``"500ms"``, ``"-1m"``) or, leniently, a bare number of seconds. ``0`` unloads
    the model after the request; any negative value keeps it loaded forever. A bad
    value raises :class:`RequestError` naming ``where``.
    """
    try:
        return keep_alive_seconds(value)
    except ValueError as exc:
        raise RequestError(f"'{where}' {exc}", where) from None
