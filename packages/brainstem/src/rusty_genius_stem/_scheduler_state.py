"""The records, states and actions of :mod:`._scheduler`; plain data, no I/O.

A model instance (one engine for one model name, loaded with one set of options) goes

    LOADING ──load_finished──▶ READY ──retire──▶ DRAINING ──last request ends──▶ UNLOADING ──▶ GONE
       │                         └────retire, idle──────────────────────────────▶ UNLOADING
       └──retire, idle (its load failed or was cancelled)──────────────────────▶ UNLOADING

and any state goes to GONE when its engine is abandoned. A name with no instance in
service is ABSENT. A request goes

    QUEUED ──▶ (MEASURING ──▶ QUEUED) ──start──▶ WAITING_FOR_LOAD ──load_finished──▶ RUNNING ──▶ DONE
       └──cancel / its fetch failed──▶ ENDING ──▶ DONE      (started on a READY model: RUNNING at once)

``ENDING`` means its end is decided (cancelled while queued, failed before it started)
and the shell is sending its final body; every admitted request reaches DONE exactly
once, through :meth:`~._scheduler.Scheduler.request_finished`.
"""

from __future__ import annotations

import enum

import attrs

from rusty_genius_core import GeniusError, LoadOptions
from rusty_genius_core._record import FieldsRepr, Record

__all__ = [
    "Action",
    "EndCancelled",
    "Fail",
    "Load",
    "Measure",
    "Model",
    "ModelState",
    "Reject",
    "Request",
    "RequestKind",
    "RequestState",
    "Run",
    "SetTimer",
    "Stop",
    "Unload",
]


class ModelState(enum.Enum):
    ABSENT = "absent"  # no instance in service (what model_state() answers for it)
    LOADING = "loading"  # in service, its engine not loaded yet
    READY = "ready"  # in service and loaded
    DRAINING = "draining"  # out of service, requests still on it
    UNLOADING = "unloading"  # out of service, its engine unloading
    GONE = "gone"  # unloaded or abandoned


class RequestState(enum.Enum):
    QUEUED = "queued"
    MEASURING = "measuring"  # its weights are fetched and measured for max_memory
    WAITING_FOR_LOAD = "waiting-for-load"  # started on a model that is still loading
    RUNNING = "running"
    ENDING = "ending"  # its end is decided before it ran: cancelled or failed
    DONE = "done"


class RequestKind(enum.Enum):
    INFER = "infer"  # also Embed: runs on a model, counted against its parallelism
    LOAD = "load"  # LoadModel: never waits for room on the model, only for the load


@attrs.define(eq=False, repr=False)
class Request(FieldsRepr):
    """One admitted ``Infer``/``Embed``/``LoadModel``, from admission to its final body."""

    id: str
    model: str
    kind: RequestKind
    options: LoadOptions | None  # what it needs the model loaded with; None accepts any
    keep_alive: float | None
    state: RequestState = RequestState.QUEUED
    model_id: int | None = None  # the instance it started on
    footprint: int | None = None  # estimated bytes of its model, once measured
    cancelled: bool = False


@attrs.define(eq=False, repr=False)
class Model(FieldsRepr):
    """One instance of a model: a name, an engine, the options it loads with."""

    id: int
    name: str
    options: LoadOptions
    capacity: int  # requests that may run on it at once
    footprint: int = 0  # bytes counted against max_memory until it is GONE
    state: ModelState = ModelState.LOADING
    running: set[str] = attrs.Factory(set)  # INFER requests started on it
    loaders: set[str] = attrs.Factory(set)  # LOAD requests started on it
    waiting: list[str] = attrs.Factory(list)  # started, waiting for its load, in order
    created_by: str = ""  # the request whose measurement (if any) prepared its engine
    loader: str | None = None  # the request performing its load
    loaded: bool = False  # its engine loaded (it may be out of service by now)
    served: bool = False  # an INFER request ended on it since it loaded
    keep_alive: float | None = None  # the latest request's, as in Ollama
    deadline: float | None = None  # when it unloads if still idle
    last_used: int = 0  # a tick of the scheduler's use counter, for LRU eviction

    @property
    def active(self) -> bool:
        return bool(self.running or self.loaders)

    @property
    def retired(self) -> bool:
        return self.state in (ModelState.DRAINING, ModelState.UNLOADING, ModelState.GONE)


@attrs.frozen(repr=False, eq=False)
class Reject(Record):
    """Refuse ``request_id`` with ``BusyError``: it was never admitted."""

    request_id: str
    message: str


@attrs.frozen(repr=False, eq=False)
class Measure(Record):
    """Fetch ``model``'s weights for ``request_id`` and report their size (``measured``)."""

    request_id: str
    model: str


@attrs.frozen(repr=False, eq=False)
class Load(Record):
    """``request_id`` loads instance ``model_id`` (a new engine if it has none yet)."""

    request_id: str
    model_id: int
    name: str
    options: LoadOptions
    created_by: str  # the request whose measurement (if any) prepared its engine


@attrs.frozen(repr=False, eq=False)
class Run(Record):
    """Run ``request_id`` on the loaded instance ``model_id``: one of its ``capacity`` places
    (none for a ``LoadModel``). Which of the engine's sequences serves it is the engine's
    choice, not the scheduler's (see :mod:`._scheduler`, "Places, not slots")."""

    request_id: str
    model_id: int


@attrs.frozen(repr=False, eq=False)
class Stop(Record):
    """Ask the started request ``request_id`` to stop; it still ends through the shell."""

    request_id: str


@attrs.frozen(repr=False, eq=False)
class EndCancelled(Record):
    """End the not yet started ``request_id`` as cancelled."""

    request_id: str


@attrs.frozen(repr=False, eq=False)
class Fail(Record):
    """End ``request_id`` with ``error`` (``None``: the failure the shell already holds)."""

    request_id: str
    error: GeniusError | None = None


@attrs.frozen(repr=False, eq=False)
class Unload(Record):
    """Unload instance ``model_id``'s engine, then report ``unload_finished``."""

    model_id: int
    name: str


@attrs.frozen(repr=False, eq=False)
class SetTimer(Record):
    """Feed ``tick`` at ``deadline`` (the earliest idle deadline, loop clock)."""

    deadline: float


Action = Reject | Measure | Load | Run | Stop | EndCancelled | Fail | Unload | SetTimer
