"""The orchestrator's I/O side of the scheduler's records: engines, events, cancel scopes.

:class:`._scheduler.Scheduler` decides; these hold what performing its actions needs.
An :class:`Instance` is one scheduler ``Model`` (by id) with its engine; a :class:`Job`
is one admitted request's task, woken by the action the scheduler addressed to it.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import attrs

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
from rusty_genius_core._record import FieldsRepr
from rusty_genius_cortex import Engine, StopSignal

from ._leftover import EngineRun
from ._scheduler_state import Action, RequestKind

__all__ = ["Instance", "Job", "cancelled_body", "cancelled_complete", "error_report"]


@attrs.define(eq=False, repr=False)
class Instance(FieldsRepr):
    """The engine of one scheduler model instance (``id``), loaded by the first request."""

    id: int
    name: str
    closed: anyio.Event = attrs.Factory(anyio.Event)
    engine: Engine | None = None
    spec: ModelSpec | None = None
    path: Path | None = None
    fetched: tuple[ModelSpec | None, Path | None] | None = None  # by the request that measured
    close_started: bool = False
    jobs: set[Job] = attrs.Factory(set)  # told to load or run on it, not yet ended
    broken: bool = False  # its engine did not stop in time and was abandoned
    stragglers: int = 0  # abandoned runs still holding its engine


@attrs.define(eq=False, repr=False)
class Job(FieldsRepr):
    """An ``Infer``, ``Embed`` or ``LoadModel`` from admission to its final body."""

    request_id: str
    command: Infer | Embed | LoadModel
    wake: anyio.Event = attrs.Factory(anyio.Event)
    directive: Action | None = None  # the scheduler's latest action for it
    stop: StopSignal = attrs.Factory(StopSignal)
    instance: Instance | None = None
    cancelled: bool = False
    scope: anyio.CancelScope | None = None
    prepared: tuple[Engine, ModelSpec | None, Path | None] | None = None  # what measuring fetched
    failure: Exception | None = None  # ends it before it starts
    run: EngineRun[OutputBody] | None = None  # its engine stream, while it streams
    abandoned: EngineError | None = None  # its engine was abandoned: it ends with this
    load_seconds: float | None = None  # set when it performed its model's load
    loaded: bool = False  # a LoadModel that got its model loaded
    resolved: ModelSpec | None = None  # its model resolved offline at admission (None: unknown)

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
