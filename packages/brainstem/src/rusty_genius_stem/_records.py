"""The orchestrator's I/O side of the scheduler's records: engines, events, cancel scopes.

:class:`._scheduler.Scheduler` decides; these hold what performing its actions needs.
An :class:`Instance` is one scheduler ``Model`` (by id) with its engine; a :class:`Job`
is one admitted request's task, woken by the action the scheduler addressed to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import anyio

from rusty_genius_core import (
    Complete,
    Embed,
    EngineError,
    ErrorReport,
    FinishReason,
    GeniusError,
    Infer,
    LoadModel,
    ModelSpec,
    OutputBody,
    RequestCancelledError,
    Usage,
)
from rusty_genius_core._record import PlainRepr
from rusty_genius_cortex import Engine, StopSignal

from ._scheduler_state import Action, RequestKind

if TYPE_CHECKING:
    from pathlib import Path

    from ._leftover import EngineRun

__all__ = ["Instance", "Job", "cancelled_body", "cancelled_complete", "error_report"]


class Instance(PlainRepr):
    """The engine of one scheduler model instance (``id``), loaded by the first request."""

    __slots__ = (
        "broken",
        "close_started",
        "closed",
        "engine",
        "fetched",
        "id",
        "jobs",
        "name",
        "path",
        "spec",
        "stragglers",
    )

    def __init__(self, *, id: int, name: str) -> None:
        self.id: Final = id
        self.name: Final = name
        self.closed = anyio.Event()
        self.engine: Engine | None = None
        self.spec: ModelSpec | None = None
        self.path: Path | None = None
        self.fetched: tuple[ModelSpec | None, Path | None] | None = None  # by who measured
        self.close_started = False
        self.jobs: set[Job] = set()  # told to load or run on it, not yet ended
        self.broken = False  # its engine did not stop in time and was abandoned
        self.stragglers = 0  # abandoned runs still holding its engine


class Job(PlainRepr):
    """An ``Infer``, ``Embed`` or ``LoadModel`` from admission to its final body."""

    __slots__ = (
        "abandoned",
        "cancelled",
        "command",
        "directive",
        "failure",
        "instance",
        "load_seconds",
        "loaded",
        "prepared",
        "request_id",
        "resolved",
        "run",
        "scope",
        "stop",
        "wake",
    )

    def __init__(
        self,
        *,
        request_id: str,
        command: Infer | Embed | LoadModel,
        resolved: ModelSpec | None = None,
    ) -> None:
        self.request_id: Final = request_id
        self.command: Final = command
        self.wake = anyio.Event()
        self.directive: Action | None = None  # the scheduler's latest action for it
        self.stop = StopSignal()
        self.instance: Instance | None = None
        self.cancelled = False
        self.scope: anyio.CancelScope | None = None
        # what measuring fetched
        self.prepared: tuple[Engine, ModelSpec | None, Path | None] | None = None
        self.failure: Exception | None = None  # ends it before it starts
        self.run: EngineRun[OutputBody] | None = None  # its engine stream, while it streams
        self.abandoned: EngineError | None = None  # its engine was abandoned: ends with this
        self.load_seconds: float | None = None  # set when it performed its model's load
        self.loaded = False  # a LoadModel that got its model loaded
        # its model resolved offline at admission (None: unknown)
        self.resolved: Final = resolved

    @property
    def model(self) -> str:
        return self.command.model

    @property
    def kind(self) -> RequestKind:
        return RequestKind.LOAD if isinstance(self.command, LoadModel) else RequestKind.INFER

    def tell(self, action: Action | None = None) -> None:
        """Wake its task, with ``action`` as what to do next when given."""
        if action is not None:
            self.directive = action
        self.wake.set()


def error_report(exc: BaseException, default: type[GeniusError]) -> ErrorReport:
    """The report for ``exc``: its own class when it is a :class:`GeniusError`, else ``default``
    with the foreign class named in the message (``"RuntimeError: kaboom"``)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, GeniusError):
        return ErrorReport(error=type(exc), message=text)
    return ErrorReport(error=default, message=f"{type(exc).__name__}: {text}")


def cancelled_complete() -> Complete:
    return Complete(usage=Usage(finish_reason=FinishReason.CANCELLED))


def cancelled_body(job: Job) -> OutputBody:
    """What a cancelled request ends with: ``Complete(cancelled)``, or for a ``LoadModel`` an
    ``ErrorReport`` (``RequestCancelledError``)."""
    if isinstance(job.command, Infer):
        return cancelled_complete()
    return ErrorReport(
        error=RequestCancelledError, message=f"request {job.request_id!r} was cancelled"
    )
