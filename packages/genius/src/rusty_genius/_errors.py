"""Turn the brainstem's :class:`ErrorReport` back into the exception it reports.

The report carries the error's class itself (on the wire its name, looked up with
:func:`rusty_genius_core.error_class`), so a caller of :class:`Genius` catches what
facecrab or cortex would have raised in-process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rusty_genius_core import ErrorReport, GeniusError

__all__ = ["error_from_report"]


def error_from_report(report: ErrorReport) -> GeniusError:
    """The exception ``report`` describes, ready to raise.

    ``ErrorReport(error=OfflineError, message="no network")`` becomes
    ``OfflineError("no network")``.
    """
    return report.error(report.message)
