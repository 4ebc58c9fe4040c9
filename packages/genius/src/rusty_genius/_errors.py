"""Turn the brainstem's :class:`ErrorReport` back into the exception it reports.

The brainstem cannot send exceptions across its streams, only ``kind`` (the core
class name) and a message that starts with the concrete class when it differs
(``"OfflineError: model ... is not in the registry"``). A caller of :class:`Genius`
should catch what facecrab or cortex would have raised in-process, so the report is
mapped back: the named subclass when it is one of the known classes and fits the
kind, else the kind's core class, else :class:`GeniusError` with the kind kept in
the message.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

import facecrab
import rusty_genius_core
from rusty_genius_core import ErrorReport, GeniusError

__all__ = ["error_from_report", "error_kinds"]


def _classes() -> dict[str, type[GeniusError]]:
    found: dict[str, type[GeniusError]] = {}
    for module in (rusty_genius_core, facecrab):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, GeniusError):
                found[name] = value
    return found


_KINDS: Final = MappingProxyType(_classes())
_PREFIX: Final = re.compile(r"^([A-Z][A-Za-z0-9]*): (.*)$", re.DOTALL)


def error_kinds() -> MappingProxyType[str, type[GeniusError]]:
    """Every exception class a report's ``kind`` (or its message prefix) can name."""
    return _KINDS


def error_from_report(report: ErrorReport) -> GeniusError:
    """The exception ``report`` describes, ready to raise.

    ``ErrorReport(kind="AssetError", message="OfflineError: no network")`` becomes
    ``facecrab.OfflineError("no network")``; an unknown kind becomes
    ``GeniusError("Kind: message")`` so nothing is lost.
    """
    base = _KINDS.get(report.kind)
    if base is None:
        return GeniusError(f"{report.kind}: {report.message}")
    found = _PREFIX.match(report.message)
    if found is not None:
        named = _KINDS.get(found[1])
        if named is not None and issubclass(named, base):
            return named(found[2])
    return base(report.message)
