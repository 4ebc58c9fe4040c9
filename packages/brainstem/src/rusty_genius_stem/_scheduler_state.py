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
from typing import TYPE_CHECKING, Final

from rusty_genius_core._record import PlainRecord, PlainRepr

if TYPE_CHECKING:
    from rusty_genius_core import GeniusError, LoadOptions

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


class Request(PlainRepr):
    """One admitted ``Infer``/``Embed``/``LoadModel``, from admission to its final body."""

    __slots__ = (
        "cancelled",
        "footprint",
        "id",
        "keep_alive",
        "kind",
        "model",
        "model_id",
        "options",
        "state",
    )

    def __init__(
        self,
        *,
        id: str,
        model: str,
        kind: RequestKind,
        options: LoadOptions | None,
        keep_alive: float | None,
    ) -> None:
        self.id: Final = id
        self.model: Final = model
        self.kind: Final = kind
        self.options: LoadOptions | None = options  # what it needs loaded; None accepts any
        self.keep_alive: Final = keep_alive
        self.state = RequestState.QUEUED
        self.model_id: int | None = None  # the instance it started on
        self.footprint: int | None = None  # estimated bytes of its model, once measured
        self.cancelled = False


class Model(PlainRepr):
    """One instance of a model: a name, an engine, the options it loads with."""

    __slots__ = (
        "capacity",
        "created_by",
        "deadline",
        "footprint",
        "id",
        "keep_alive",
        "last_used",
        "loaded",
        "loader",
        "loaders",
        "name",
        "options",
        "running",
        "served",
        "state",
        "waiting",
    )

    def __init__(
        self,
        *,
        id: int,
        name: str,
        options: LoadOptions,
        capacity: int,
        footprint: int = 0,
        created_by: str = "",
    ) -> None:
        self.id: Final = id
        self.name: Final = name
        self.options: LoadOptions = options
        self.capacity = capacity  # requests that may run on it at once
        self.footprint = footprint  # bytes counted against max_memory until it is GONE
        self.state = ModelState.LOADING
        self.running: set[str] = set()  # INFER requests started on it
        self.loaders: set[str] = set()  # LOAD requests started on it
        self.waiting: list[str] = []  # started, waiting for its load, in order
        self.created_by = created_by  # the request whose measurement (if any) prepared its engine
        self.loader: str | None = None  # the request performing its load
        self.loaded = False  # its engine loaded (it may be out of service by now)
        self.served = False  # an INFER request ended on it since it loaded
        self.keep_alive: float | None = None  # the latest request's, as in Ollama
        self.deadline: float | None = None  # when it unloads if still idle
        self.last_used = 0  # a tick of the scheduler's use counter, for LRU eviction

    @property
    def active(self) -> bool:
        return bool(self.running or self.loaders)

    @property
    def retired(self) -> bool:
        return self.state in (ModelState.DRAINING, ModelState.UNLOADING, ModelState.GONE)


class Reject(PlainRecord):
    """Refuse ``request_id`` with ``BusyError``: it was never admitted."""

    __match_args__ = ("request_id", "message")
    __slots__ = ("message", "request_id")

    def __init__(self, request_id: str, message: str) -> None:
        self.request_id: Final = request_id
        self.message: Final = message


class Measure(PlainRecord):
    """Fetch ``model``'s weights for ``request_id`` and report their size (``measured``)."""

    __match_args__ = ("request_id", "model")
    __slots__ = ("model", "request_id")

    def __init__(self, request_id: str, model: str) -> None:
        self.request_id: Final = request_id
        self.model: Final = model


class Load(PlainRecord):
    """``request_id`` loads instance ``model_id`` (a new engine if it has none yet);
    ``created_by`` is the request whose measurement (if any) prepared its engine."""

    __match_args__ = ("request_id", "model_id", "name", "options", "created_by")
    __slots__ = ("created_by", "model_id", "name", "options", "request_id")

    def __init__(
        self, request_id: str, model_id: int, name: str, options: LoadOptions, created_by: str
    ) -> None:
        self.request_id: Final = request_id
        self.model_id: Final = model_id
        self.name: Final = name
        self.options: Final = options
        self.created_by: Final = created_by


class Run(PlainRecord):
    """Run ``request_id`` on the loaded instance ``model_id``: one of its ``capacity`` places
    (none for a ``LoadModel``). Which of the engine's sequences serves it is the engine's
    choice, not the scheduler's (see :mod:`._scheduler`, "Places, not slots")."""

    __match_args__ = ("request_id", "model_id")
    __slots__ = ("model_id", "request_id")

    def __init__(self, request_id: str, model_id: int) -> None:
        self.request_id: Final = request_id
        self.model_id: Final = model_id


class Stop(PlainRecord):
    """Ask the started request ``request_id`` to stop; it still ends through the shell."""

    __match_args__ = ("request_id",)
    __slots__ = ("request_id",)

    def __init__(self, request_id: str) -> None:
        self.request_id: Final = request_id


class EndCancelled(PlainRecord):
    """End the not yet started ``request_id`` as cancelled."""

    __match_args__ = ("request_id",)
    __slots__ = ("request_id",)

    def __init__(self, request_id: str) -> None:
        self.request_id: Final = request_id


class Fail(PlainRecord):
    """End ``request_id`` with ``error`` (``None``: the failure the shell already holds)."""

    __match_args__ = ("request_id", "error")
    __slots__ = ("error", "request_id")

    def __init__(self, request_id: str, error: GeniusError | None = None) -> None:
        self.request_id: Final = request_id
        self.error: Final = error


class Unload(PlainRecord):
    """Unload instance ``model_id``'s engine, then report ``unload_finished``."""

    __match_args__ = ("model_id", "name")
    __slots__ = ("model_id", "name")

    def __init__(self, model_id: int, name: str) -> None:
        self.model_id: Final = model_id
        self.name: Final = name


class SetTimer(PlainRecord):
    """Feed ``tick`` at ``deadline`` (the earliest idle deadline, loop clock)."""

    __match_args__ = ("deadline",)
    __slots__ = ("deadline",)

    def __init__(self, deadline: float) -> None:
        self.deadline: Final = deadline


Action = Reject | Measure | Load | Run | Stop | EndCancelled | Fail | Unload | SetTimer
