"""The brainstem actor: one loop that routes requests to assets and engines.

:meth:`Orchestrator.run` reads :class:`BrainstemInput` and answers with
:class:`BrainstemOutput` carrying the same ``request_id``. Every request task
lives in the loop's task group, so the loop keeps reading (a ``Cancel`` always
gets through) while requests download, load and generate.

Guarantees:

- Every accepted request ends with exactly one final body (:func:`is_final`);
  nothing of one request ever carries another's id.
- ``Infer`` ends with ``Complete``: ``finish_reason`` is the engine's, or
  ``cancelled`` after ``Cancel``/``Shutdown(drain=False)``, also when it was
  still queued (then no ``ProcessStart`` precedes it).
- An engine asked to stop (``Cancel``, ``Shutdown(drain=False)``, cancellation) that
  has not within ``stop_timeout`` seconds is abandoned: its requests end with
  ``ErrorReport`` (``EngineError``), the next request for its model gets a new
  engine instance, and shutdown does not wait for it (see :mod:`._leftover`).
- Errors end the request with ``ErrorReport`` whose ``kind`` is the core error
  class (``AssetError``, ``EngineError``, ``ManifestError``, ``BusyError``,
  ``ProtocolError``…), also after partial output: the events already sent stay
  valid, and the report carries the message a ``Complete`` could not. An error
  touches only its own request; the loop keeps serving.
- ``ProcessStart.cold`` is true, and ``Usage.load_duration`` (the loop clock's
  seconds) non-zero, only for the request that waited for a load: the first one,
  or the first after a hibernation, switch or unload. Asset events (downloads)
  of that load come first, under the same request id.
- ``Embed`` is queued and loads as ``Infer`` does and ends with ``Embeddings``
  (:mod:`._embedding`), or ``ErrorReport``.
- ``LoadModel`` ends with ``ModelLoaded``, or ``ErrorReport`` (``kind`` is
  ``"Cancelled"`` when it was cancelled); ``Unload``, ``Cancel`` and
  ``Shutdown`` end with ``Ack``; ``ListModels`` with ``ModelList``.
- Outputs are sent with backpressure: a slow consumer slows producers, nothing is
  dropped, and each request's outputs keep their order. If the consumer closes its
  end, the loop cancels everything and returns.
- Request ids must be unique among requests in flight; a duplicate gets an
  ``ErrorReport`` (``ProtocolError``) and the original carries on. An id is free
  again as soon as its final body is sent.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import Counter
from contextlib import suppress
from os import fspath
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import anyio
import anyio.lowlevel
import attrs

from rusty_genius_core import (
    Ack,
    AssetError,
    BrainstemInput,
    BrainstemOutput,
    BusyError,
    Cancel,
    Complete,
    ConfigError,
    Embed,
    EngineError,
    ErrorReport,
    FinishReason,
    GeniusError,
    Infer,
    ListModels,
    LoadModel,
    LoadOptions,
    ModelList,
    ModelLoaded,
    ModelSpec,
    ModelStatus,
    OutputBody,
    ProcessStart,
    ProtocolError,
    RequestCancelledError,
    Shutdown,
    Unload,
    Usage,
)
from rusty_genius_cortex import Engine, StopSignal

from ._embedding import serve_embed
from ._leftover import EngineRun
from ._strategy import CortexStrategy, HibernateAfter, Immediate, KeepAlive

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from rusty_genius_core import AssetEvent, InferenceEvent

    from ._assets import AssetSource

__all__ = ["DEFAULT_MAX_QUEUE", "DEFAULT_STOP_TIMEOUT", "Orchestrator", "default_engine_factory"]

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT: Final = 10.0
"""Seconds an engine has to stop a request it was asked to stop, before it is abandoned."""

DEFAULT_MAX_QUEUE: Final = 512
"""Requests that may wait at once before new ones get ``BusyError`` (Ollama's default)."""

_YIELD_EVERY: Final = 16
"""Sends that may skip the loop in a row (see :meth:`_Session._send`)."""

REMEMBERED_OPTIONS: Final = 32
"""Models whose last ``LoadModel`` options are kept for their next load (least recently
loaded forgotten first); only options that loaded a model are kept."""


def default_engine_factory() -> Engine:
    """cortex's best available engine: llama.cpp when installed, else Pinky."""
    from rusty_genius_cortex import create_engine

    engine: Engine = create_engine("auto")
    return engine


def _error_report(exc: BaseException, default: type[GeniusError]) -> ErrorReport:
    """The report for ``exc``: its own class when it is a :class:`GeniusError`, else ``default``
    with the foreign class named in the message (``"RuntimeError: kaboom"``)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, GeniusError):
        return ErrorReport(error=type(exc), message=text)
    return ErrorReport(error=default, message=f"{type(exc).__name__}: {text}")


def _check_count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"Orchestrator {name} must be an integer >= {low}, got {value!r}")
    return value


def _check_bytes(name: str, value: object) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(
            f"Orchestrator {name} must be a positive number of bytes or None, got {value!r}"
        )
    return value


def _check_seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(
            f"Orchestrator {name} must be a positive number of seconds, got {value!r}"
        )
    return float(value)


def _weights_size(path: Path | None) -> int:
    """The estimated memory of a model loaded from ``path``: its file size; 0 without one."""
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except OSError as exc:
        raise AssetError(f"cannot read the size of {fspath(path)!r}: {exc}") from exc


class Orchestrator:
    """The brainstem: configuration plus :meth:`run`, the actor loop.

    ``engine_factory`` makes one engine per loaded model (default: cortex's
    ``create_engine("auto")``). ``parallelism`` requests run at once per engine;
    others wait FIFO, at most ``max_queue`` of them (then ``BusyError``).
    ``max_loaded`` engines stay loaded at once; switching to another model (or
    other load options) unloads the least recently used idle one first.
    ``max_memory`` (bytes, ``None`` for no limit) bounds the sum of the loaded
    models' estimated footprints in the same way: before a model loads, least
    recently used idle models are unloaded until it fits, and a request that can
    only fit once busy models finish waits for them, as a switch does under
    ``max_loaded``. The estimate is the weights file's size (fetched before the
    model waits for room); the KV cache and compute buffers are not counted, so
    leave headroom. A model without a weights file (Pinky) counts as 0 bytes. A
    model larger than the whole budget fails its request with ``EngineError``.
    Engines that need no weights (Pinky) skip downloads unless
    ``fetch_assets`` is true. ``wall_clock`` turns deadlines into the Unix
    times that ``ListModels`` reports; durations use the event loop's clock, so
    trio's ``MockClock`` (or a virtual asyncio loop) drives every timer.

    ``stop_timeout`` (seconds) is how long an engine has to end a request it was
    asked to stop (``Cancel``, ``Shutdown(drain=False)``, the brainstem cancelled).
    An engine that takes longer is abandoned: its requests end with ``EngineError``,
    the next request for its model gets a new engine instance, and shutdown does not
    wait for it (it logs what it left behind; llama.cpp's worker thread cannot be
    killed, so one stuck in a call may still run).
    """

    def __init__(
        self,
        assets: AssetSource,
        *,
        engine_factory: Callable[[], Engine] = default_engine_factory,
        strategy: CortexStrategy | None = None,
        parallelism: int = 1,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_loaded: int = 1,
        max_memory: int | None = None,
        fetch_assets: bool = False,
        wall_clock: Callable[[], float] = time.time,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        strategy = HibernateAfter() if strategy is None else strategy
        if not isinstance(strategy, Immediate | HibernateAfter | KeepAlive):
            raise ConfigError(
                f"Orchestrator strategy must be Immediate, HibernateAfter or KeepAlive, got {strategy!r}"
            )
        self.assets: Final = assets
        self.engine_factory: Final = engine_factory
        self.strategy: Final[CortexStrategy] = strategy
        self.parallelism: Final = _check_count("parallelism", parallelism, 1)
        self.max_queue: Final = _check_count("max_queue", max_queue, 1)
        self.max_loaded: Final = _check_count("max_loaded", max_loaded, 1)
        self.max_memory: Final = _check_bytes("max_memory", max_memory)
        self.fetch_assets: Final = bool(fetch_assets)
        self.wall_clock: Final = wall_clock
        self.stop_timeout: Final = _check_seconds("stop_timeout", stop_timeout)

    async def run(
        self,
        inputs: MemoryObjectReceiveStream[BrainstemInput],
        outputs: MemoryObjectSendStream[BrainstemOutput],
    ) -> None:
        """Serve ``inputs`` until ``Shutdown`` (or until every input sender is closed).

        On return every engine is unloaded and both streams are closed, so a
        client reading ``outputs`` sees the end of the stream after the last
        answer (the ``Ack`` of the ``Shutdown``). End of input acts as
        ``Shutdown(drain=True)`` without an ``Ack``.
        """
        async with inputs, outputs:
            await self._serve(inputs, outputs)

    async def _serve(
        self, inputs: MemoryObjectReceiveStream[BrainstemInput], outputs: _OutputSink
    ) -> None:
        """The loop itself; :func:`open_brainstem` runs it with its client's router."""
        await _Session(self, outputs).run(inputs)


class _OutputSink(Protocol):
    """Where a session sends: an output stream, or the client's router in open_brainstem.

    ``BrokenResourceError``/``ClosedResourceError`` mean the consumer is gone.
    """

    def send_nowait(self, item: BrainstemOutput, /) -> None: ...

    async def send(self, item: BrainstemOutput, /) -> None: ...


@attrs.define(eq=False)
class _Slot:
    """One model name with one engine; loaded lazily by the first request that runs on it."""

    name: str
    options: LoadOptions
    closed: anyio.Event
    lock: anyio.Lock
    engine: Engine | None = None
    spec: ModelSpec | None = None
    path: Path | None = None
    running: int = 0
    loaders: int = 0
    served: bool = False
    keep_alive: float | None = None
    deadline: float | None = None
    last_used: int = 0  # a tick of the session's use counter, for LRU eviction
    footprint: int = 0  # estimated bytes, counted against max_memory until it is closed
    fetched: tuple[ModelSpec | None, Path | None] | None = None  # by the job that measured it
    retired: bool = False
    close_started: bool = False
    jobs: set[_Job] = attrs.Factory(set)  # running on it (started, not yet released)
    broken: bool = False  # its engine did not stop in time and was abandoned
    stragglers: int = 0  # abandoned runs still holding its engine

    @property
    def active(self) -> bool:
        return self.running > 0 or self.loaders > 0

    @property
    def loaded(self) -> bool:
        return self.engine is not None and self.engine.is_loaded and not self.close_started


@attrs.define(eq=False)
class _Job:
    """An ``Infer``, ``Embed`` or ``LoadModel`` from admission to its final body."""

    request_id: str
    command: Infer | Embed | LoadModel
    started: anyio.Event
    stop: StopSignal = attrs.Factory(StopSignal)
    slot: _Slot | None = None
    queued: bool = True
    cancelled: bool = False
    scope: anyio.CancelScope | None = None
    footprint: int | None = None  # estimated bytes of its model, known once measured
    measuring: bool = False
    prepared: tuple[Engine, ModelSpec | None, Path | None] | None = None  # what measuring fetched
    failure: Exception | None = None  # ends it before it starts (its measuring failed)
    run: EngineRun[OutputBody] | None = None  # its engine stream, while it streams
    abandoned: EngineError | None = None  # its engine was abandoned: it ends with this

    @property
    def model(self) -> str:
        return self.command.model

    @property
    def options(self) -> LoadOptions | None:
        """The options it requires; ``None`` accepts whatever the model is loaded with."""
        return self.command.options if isinstance(self.command, LoadModel) else None

    @property
    def is_load(self) -> bool:
        return isinstance(self.command, LoadModel)


class _Session:
    """The state of one :meth:`Orchestrator.run`."""

    def __init__(self, config: Orchestrator, outputs: _OutputSink) -> None:
        self._cfg = config
        self._outputs = outputs
        self._tg: TaskGroup | None = None
        self._ids: dict[str, _Job | None] = {}
        self._queue: list[_Job] = []
        self._pending: Counter[str] = Counter()
        self._slots: dict[str, _Slot] = {}
        self._closing: list[_Slot] = []
        self._abandoned: list[_Slot] = []  # broken slots, kept to log what was left behind
        self._last_options: dict[str, LoadOptions] = {}
        self._live = 0
        self._drained = anyio.Event()
        self._stop_requested = anyio.Event()
        self._stopping = False
        self._shutdown_ids: list[str] = []
        self._reaper_wake = anyio.Event()
        self._outputs_gone = False
        self._ticks = itertools.count(1)
        self._unyielded = 0  # sends since the last one that yielded to the loop

    # -- the loop -------------------------------------------------------------------------

    async def run(self, inputs: MemoryObjectReceiveStream[BrainstemInput]) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._reaper)
                async with anyio.create_task_group() as reader:
                    reader.start_soon(self._read, inputs)
                    await self._stop_requested.wait()
                    if self._live:
                        await self._drained.wait()
                    reader.cancel_scope.cancel()
                for slot in list(self._slots.values()):
                    self._retire(slot)
                for slot in list(self._closing):
                    await self._close(slot)
                for request_id in self._shutdown_ids:
                    self._ids.pop(request_id, None)
                    await self._send(request_id, Ack(detail="brainstem stopped"))
                tg.cancel_scope.cancel()
        finally:
            self._log_left_behind()
            # Also after an outside cancellation or a crash: never leak a loaded engine.
            with anyio.CancelScope(shield=True):
                for slot in [*self._slots.values(), *self._closing]:
                    if slot.engine is not None and not slot.closed.is_set():
                        with suppress(Exception):
                            await slot.engine.unload()
                        slot.closed.set()

    async def _read(self, inputs: MemoryObjectReceiveStream[BrainstemInput]) -> None:
        async for message in inputs:
            known = message.request_id in self._ids
            try:
                await self._handle(message)
            except Exception as exc:  # a bug in one request must not stop the loop
                log.exception("brainstem failed to handle %r", message)
                if not known:
                    self._ids.pop(message.request_id, None)
                await self._send(message.request_id, _error_report(exc, GeniusError))
        self._begin_stop(None, drain=True)

    async def _handle(self, message: BrainstemInput) -> None:
        rid, command = message.request_id, message.command
        if rid in self._ids:
            await self._send(
                rid,
                ErrorReport(
                    error=ProtocolError,
                    message=f"request id {rid!r} is already in flight; ids must be unique",
                ),
            )
            return
        if isinstance(command, Cancel):
            await self._send(rid, Ack(detail=self._cancel(command.target)))
            return
        if isinstance(command, Shutdown):
            self._ids[rid] = None
            self._begin_stop(rid, drain=command.drain)
            return
        if self._stopping:
            await self._send(
                rid,
                ErrorReport(
                    error=BusyError,
                    message=f"brainstem is shutting down; request {rid!r} refused",
                ),
            )
            return
        if isinstance(command, Infer | Embed | LoadModel):
            if len(self._queue) >= self._cfg.max_queue:
                await self._send(
                    rid,
                    ErrorReport(
                        error=BusyError,
                        message=f"{len(self._queue)} requests already wait "
                        f"(max_queue={self._cfg.max_queue}); request {rid!r} refused",
                    ),
                )
                return
            self._admit(rid, command)
        elif isinstance(command, Unload):
            self._ids[rid] = None
            self._spawn(self._serve_unload, rid, command)
        elif isinstance(command, ListModels):
            self._ids[rid] = None
            self._spawn(self._serve_list, rid)

    def _spawn(self, func: Callable[..., Any], *args: Any) -> None:
        assert self._tg is not None
        if self._live == 0:
            self._drained = anyio.Event()
        self._live += 1
        self._tg.start_soon(self._tracked, func, args)

    async def _tracked(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            await func(*args)
        finally:
            self._live -= 1
            if self._live == 0:
                self._drained.set()

    async def _send(self, request_id: str, body: OutputBody) -> None:
        """Send with backpressure; once the consumer is gone, cancel everything and stop.

        anyio's ``send`` always yields to the loop first, a full scheduling round per
        event. While the buffer has room we put the output in without waiting, and
        yield every :data:`_YIELD_EVERY` such sends instead, so cancellation and the
        other tasks still get their turn from an engine that never yields. A full
        buffer falls back to ``await send()``: nothing is dropped, order is kept
        (a sender only waits when the buffer is full, so none is overtaken).
        """
        if self._outputs_gone:
            return
        output = BrainstemOutput(request_id=request_id, body=body)
        try:
            try:
                self._outputs.send_nowait(output)
            except anyio.WouldBlock:
                self._unyielded = 0
                await self._outputs.send(output)
            else:
                self._unyielded += 1
                if self._unyielded >= _YIELD_EVERY:
                    self._unyielded = 0
                    await anyio.lowlevel.checkpoint()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._outputs_gone = True
            self._begin_stop(None, drain=False)

    def _begin_stop(self, request_id: str | None, *, drain: bool) -> None:
        if request_id is not None:
            self._shutdown_ids.append(request_id)
        self._stopping = True
        if not drain:
            for job in list(self._ids.values()):
                if job is not None:
                    self._cancel_job(job)
        self._stop_requested.set()

    def _cancel(self, target: str) -> str:
        job = self._ids.get(target)
        if target not in self._ids:
            return f"no request {target!r} in flight"
        if job is None:
            return f"request {target!r} cannot be cancelled; it ends by itself"
        self._cancel_job(job)
        return f"cancelled {target!r}"

    def _cancel_job(self, job: _Job) -> None:
        job.cancelled = True
        job.stop.set()
        if job.scope is not None:
            job.scope.cancel()
        if job.queued:
            job.started.set()  # wake it; it ends itself as cancelled

    # -- admission and scheduling ---------------------------------------------------------

    def _admit(self, request_id: str, command: Infer | Embed | LoadModel) -> None:
        job = _Job(request_id=request_id, command=command, started=anyio.Event())
        self._ids[request_id] = job
        self._queue.append(job)
        self._pending[job.model] += 1
        slot = self._slots.get(job.model)
        if slot is not None:
            slot.deadline = None  # a new request stops the idle clock
        self._spawn(self._serve_job, job)
        self._schedule()

    def _schedule(self) -> None:
        """Start what can start, in arrival order.

        Requests for a loaded model start while it has a free permit. A request
        that needs another model (or other load options) waits until a slot is
        free, and nothing behind it starts meanwhile, so a busy model cannot
        starve a switch.
        """
        blocked: set[str] = set()
        for job in list(self._queue):
            if job.cancelled or job.failure is not None:
                continue
            slot = self._slots.get(job.model)
            if slot is not None and (job.options is None or job.options == slot.options):
                if job.is_load:
                    self._start(job, slot)
                elif job.model in blocked or slot.running >= self._cfg.parallelism:
                    blocked.add(job.model)
                else:
                    self._start(job, slot)
                continue
            if job.model in blocked:
                continue
            if slot is not None:  # same model, other options: replace it once it is idle
                if not slot.active and self._retire(slot):
                    self._spawn_close(slot)
                break
            if self._cfg.max_memory is not None and job.footprint is None:
                self._measure_soon(job)  # it waits, as for a free slot, until its size is known
                break
            if len(self._slots) + len(self._closing) < self._cfg.max_loaded and self._fits(job):
                options = job.options or self._last_options.get(job.model, LoadOptions())
                slot = _Slot(
                    name=job.model, options=options, closed=anyio.Event(), lock=anyio.Lock()
                )
                slot.footprint = job.footprint or 0
                if job.prepared is not None:
                    slot.engine, spec, path = job.prepared
                    slot.fetched = (spec, path)
                    job.prepared = None
                self._slots[job.model] = slot
                self._start(job, slot)
                continue
            idle = [s for s in self._slots.values() if not s.active]
            if idle:
                victim = min(idle, key=lambda s: s.last_used)
                if self._retire(victim):
                    self._spawn_close(victim)
            break

    def _fits(self, job: _Job) -> bool:
        """Whether ``job``'s model fits ``max_memory`` beside what is loaded or still closing."""
        budget = self._cfg.max_memory
        if budget is None:
            return True
        held = sum(s.footprint for s in (*self._slots.values(), *self._closing))
        return held + (job.footprint or 0) <= budget

    def _measure_soon(self, job: _Job) -> None:
        if not job.measuring:
            job.measuring = True
            assert self._tg is not None
            self._tg.start_soon(self._measure, job)

    async def _measure(self, job: _Job) -> None:
        """Fetch ``job``'s model and estimate its footprint; then let the scheduler place it.

        Runs while the job is queued, so ``Cancel`` (through ``job.scope``) stops a
        download here. The fetched engine, spec and path go to the slot it gets.
        """
        budget = self._cfg.max_memory
        assert budget is not None
        try:
            with anyio.CancelScope() as scope:
                job.scope = scope
                engine = self._cfg.engine_factory()
                spec, path = await self._fetch_checked(engine, job.model, job.request_id)
                size = _weights_size(path)
                if size > budget:
                    raise EngineError(
                        f"model {job.model!r} needs an estimated {size} bytes, more than the "
                        f"whole memory budget (max_memory={budget} bytes)"
                    )
                job.footprint, job.prepared = size, (engine, spec, path)
        except Exception as exc:
            job.failure = exc
        finally:
            job.scope = None
            job.measuring = False
        if job.failure is not None or job.cancelled:
            job.started.set()  # wake it: it ends itself with its failure, or as cancelled
        self._schedule()

    def _start(self, job: _Job, slot: _Slot) -> None:
        self._queue.remove(job)
        self._unpend(job.model)
        job.queued = False
        job.slot = slot
        slot.jobs.add(job)
        if isinstance(job.command, LoadModel):
            slot.loaders += 1
        else:
            slot.running += 1
        slot.keep_alive = job.command.keep_alive  # the latest request's says, as in Ollama
        slot.deadline = None
        slot.last_used = next(self._ticks)
        job.started.set()

    def _remember_options(self, model: str, options: LoadOptions) -> None:
        """Keep the options a ``LoadModel`` loaded ``model`` with, for its next load.

        Only after the model loaded (an unknown name costs nothing once refused), and
        for at most :data:`REMEMBERED_OPTIONS` models, so distinct names cannot grow it.
        """
        self._last_options.pop(model, None)
        self._last_options[model] = options
        while len(self._last_options) > REMEMBERED_OPTIONS:
            del self._last_options[next(iter(self._last_options))]

    def _release(self, job: _Job) -> _Slot | None:
        """Book the end of ``job``; return a slot the caller must close (unload) now."""
        self._ids.pop(job.request_id, None)
        to_close: _Slot | None = None
        if job.queued:
            self._queue.remove(job)
            self._unpend(job.model)
            job.queued = False
            slot = self._slots.get(job.model)
            if slot is not None and self._is_idle(slot):
                to_close = self._on_idle(slot)
        elif job.slot is not None:
            slot = job.slot
            slot.jobs.discard(job)
            slot.last_used = next(self._ticks)
            if job.is_load:
                slot.loaders -= 1
            else:
                slot.running -= 1
                slot.served = True
            if slot.retired:
                if not slot.active:
                    to_close = slot
            elif self._is_idle(slot):
                to_close = self._on_idle(slot)
        self._schedule()
        return to_close

    def _unpend(self, model: str) -> None:
        self._pending[model] -= 1
        if self._pending[model] <= 0:
            del self._pending[model]  # many model names must not leave a trail of zeros

    def _is_idle(self, slot: _Slot) -> bool:
        return not slot.active and self._pending[slot.name] == 0

    def _keep_seconds(self, slot: _Slot) -> float | None:
        """Idle seconds before unloading ``slot``: ``0`` now, ``None`` never."""
        if slot.keep_alive is not None:
            if slot.keep_alive < 0:
                return None
            return float(slot.keep_alive)
        strategy = self._cfg.strategy
        if isinstance(strategy, Immediate):
            return 0.0
        if isinstance(strategy, HibernateAfter):
            return strategy.duration
        return None

    def _on_idle(self, slot: _Slot) -> _Slot | None:
        if not slot.loaded:  # its load failed or was cancelled: nothing to keep
            return slot if self._retire(slot) else None
        keep = self._keep_seconds(slot)
        if keep is None:
            return None
        if keep == 0:
            # The strategy's 0 (Immediate) unloads after a request, so a bare LoadModel waits
            # for its first one; a request's own keep_alive=0 (a LoadModel's too) unloads now.
            if (slot.served or slot.keep_alive is not None) and self._retire(slot):
                return slot
            return None
        slot.deadline = anyio.current_time() + keep
        self._reaper_wake.set()
        return None

    # -- lifecycle --------------------------------------------------------------------------

    def _retire(self, slot: _Slot) -> bool:
        """Take ``slot`` out of service; True when nothing runs on it and it can close now."""
        if not slot.retired:
            slot.retired = True
            slot.deadline = None
            if self._slots.get(slot.name) is slot:
                del self._slots[slot.name]
            self._closing.append(slot)
        return not slot.active

    def _spawn_close(self, slot: _Slot) -> None:
        assert self._tg is not None
        self._tg.start_soon(self._close, slot)

    async def _close(self, slot: _Slot) -> None:
        """Unload ``slot``'s engine (idempotent, shielded); then let waiting requests in."""
        with anyio.CancelScope(shield=True):
            if slot.close_started:
                await slot.closed.wait()
                return
            slot.close_started = True
            try:
                if slot.engine is not None:
                    await slot.engine.unload()
            except Exception:
                log.exception("unloading %r failed", slot.name)
            finally:
                if slot in self._closing:
                    self._closing.remove(slot)
                slot.closed.set()
                self._schedule()

    async def _reaper(self) -> None:
        """Unload idle models when their deadline passes."""
        while True:
            self._reaper_wake = anyio.Event()
            deadline = min(
                (s.deadline for s in self._slots.values() if s.deadline is not None),
                default=math.inf,
            )
            with anyio.CancelScope(deadline=deadline):
                await self._reaper_wake.wait()
            now = anyio.current_time()
            for slot in list(self._slots.values()):
                expired = slot.deadline is not None and slot.deadline <= now
                if expired and self._is_idle(slot) and self._retire(slot):
                    self._spawn_close(slot)

    # -- requests ---------------------------------------------------------------------------

    async def _serve_job(self, job: _Job) -> None:
        try:
            final = await self._run_job(job)
        except Exception as exc:  # fault isolation: this request fails, the loop serves on
            if job.abandoned is not None:
                final = _error_report(job.abandoned, EngineError)
            elif job.cancelled and isinstance(job.command, Infer):
                final = _cancelled_complete()
            else:
                final = _error_report(exc, EngineError)
        finally:
            to_close = self._release(job)
        if to_close is not None:
            await self._close(to_close)
        await self._send(job.request_id, final)

    async def _run_job(self, job: _Job) -> OutputBody:
        await job.started.wait()
        if job.failure is not None and not job.cancelled:
            raise job.failure
        if not job.cancelled:
            assert job.slot is not None
            with anyio.CancelScope() as scope:
                job.scope = scope
                load_seconds = await self._ensure_loaded(job.slot, job)
            job.scope = None
        if job.abandoned is not None:
            raise job.abandoned
        if job.cancelled:
            if isinstance(job.command, Infer):
                return _cancelled_complete()
            return ErrorReport(
                error=RequestCancelledError, message=f"request {job.request_id!r} was cancelled"
            )
        if isinstance(job.command, LoadModel):
            self._remember_options(job.model, job.command.options)
            return ModelLoaded(model=job.model, load_duration=load_seconds or 0.0)
        if isinstance(job.command, Embed):
            assert job.slot is not None
            assert job.slot.engine is not None
            with anyio.CancelScope() as scope:
                job.scope = scope  # Cancel stops it here
                try:
                    return await serve_embed(job.slot.engine, job.command, load_seconds)
                finally:
                    job.scope = None
            return ErrorReport(
                error=RequestCancelledError, message=f"request {job.request_id!r} was cancelled"
            )
        return await self._run_stream(job, job.command, load_seconds)

    async def _ensure_loaded(self, slot: _Slot, job: _Job) -> float | None:
        """Load ``slot`` if needed; seconds it took, or ``None`` when it was already warm."""
        async with slot.lock:
            if slot.engine is not None and slot.engine.is_loaded:
                return None
            if slot.engine is None:
                slot.engine = self._cfg.engine_factory()
            if slot.fetched is not None:  # measured for max_memory: fetched already
                (spec, path), slot.fetched = slot.fetched, None
            else:
                spec, path = await self._fetch_checked(slot.engine, slot.name, job.request_id)
            started = anyio.current_time()
            await slot.engine.load(slot.name, path, slot.options, spec)
            slot.spec, slot.path, slot.served = spec, path, False
            # Measured on the loop's clock: what this request waited for, virtual clocks included.
            return max(0.0, anyio.current_time() - started)

    async def _fetch_checked(
        self, engine: Engine, name: str, request_id: str
    ) -> tuple[ModelSpec | None, Path | None]:
        try:
            return await self._fetch(engine, name, request_id)
        except GeniusError:
            raise
        except Exception as exc:  # an asset source's bug is still an asset failure
            raise AssetError(f"fetching {name!r} failed: {exc!r}") from exc

    async def _fetch(
        self, engine: Engine, name: str, request_id: str
    ) -> tuple[ModelSpec | None, Path | None]:
        """Make the weights local, forwarding asset events; skipped for engines without weights."""
        assets = self._cfg.assets
        if engine.needs_weights or self._cfg.fetch_assets:

            async def forward(event: AssetEvent) -> None:
                await self._send(request_id, event)

            local = await assets.ensure_model(name, progress=forward)
            return local.spec, local.path
        try:
            return await assets.resolve(name, network=False), None
        except GeniusError:  # unknown to the registry: Pinky only needs a name
            return None, None

    async def _run_stream(
        self, job: _Job, command: Infer, load_seconds: float | None
    ) -> OutputBody:
        """Stream ``job`` in an :class:`EngineRun`; once it is asked to stop (``Cancel``,
        shutdown, or this task cancelled), give its engine ``stop_timeout`` seconds."""
        assert job.slot is not None
        run: EngineRun[OutputBody] = EngineRun(name=f"the engine stream of {job.request_id!r}")
        job.run = run

        async def stream(run: EngineRun[OutputBody]) -> OutputBody:
            return await self._stream(job, command, load_seconds, run)

        run.start(stream)
        try:
            with anyio.CancelScope() as scope:
                job.scope = scope  # Cancel wakes us here
                if not job.cancelled:
                    await run.done.wait()
            job.scope = None
            await self._wait_stopped(job, run)
        except anyio.get_cancelled_exc_class():
            job.stop.set()
            run.cancel()
            with anyio.CancelScope(shield=True):
                await self._wait_stopped(job, run)
            raise
        finally:
            job.scope = None
        if job.abandoned is not None:
            raise job.abandoned
        return run.outcome()

    async def _wait_stopped(self, job: _Job, run: EngineRun[OutputBody]) -> None:
        """Wait for ``run`` to end; abandon its engine when it outlasts the stop deadline."""
        while not run.done.is_set() and job.abandoned is None:
            with anyio.CancelScope() as scope:
                job.scope = scope  # woken when another request abandons the same engine
                if not await run.wait_stopped(self._cfg.stop_timeout):
                    assert job.slot is not None
                    self._abandon(job.slot)
            job.scope = None

    def _abandon(self, slot: _Slot) -> None:
        """Leave ``slot``'s engine behind: its requests end with ``EngineError``, a new slot
        (a new engine) serves the next request for the model, shutdown does not wait for it."""
        if slot.broken:
            return
        backend = slot.engine.backend if slot.engine is not None else "?"
        error = EngineError(
            f"the {backend} engine of {slot.name!r} did not stop within "
            f"{self._cfg.stop_timeout:g} s of being asked to and was abandoned"
        )
        log.warning(
            "abandoning the %s engine of %r: it did not stop within %g s (requests %s)",
            backend,
            slot.name,
            self._cfg.stop_timeout,
            ", ".join(repr(j.request_id) for j in slot.jobs),
        )
        slot.broken = slot.retired = slot.close_started = True
        slot.deadline = None
        if self._slots.get(slot.name) is slot:
            del self._slots[slot.name]
        if slot in self._closing:
            self._closing.remove(slot)
        slot.closed.set()
        self._abandoned.append(slot)
        engine = slot.engine
        for job in list(slot.jobs):
            if job.run is not None and job.run.done.is_set():
                continue  # it ended on its own; its task reports how
            job.abandoned = error
            self._cancel_job(job)
            if job.run is not None:
                job.run.abandon()
                slot.stragglers += 1
                job.run.cleanup = self._straggler_cleanup(slot, engine)
        if slot.stragglers == 0:
            self._abandoned.remove(slot)
        self._schedule()

    def _straggler_cleanup(
        self, slot: _Slot, engine: Engine | None
    ) -> Callable[[], Awaitable[None]]:
        """What an abandoned run does if it ever ends: the last one unloads the engine."""

        async def cleanup() -> None:
            slot.stragglers -= 1
            if slot.stragglers == 0:
                if slot in self._abandoned:
                    self._abandoned.remove(slot)  # nothing left behind: forget it
                if engine is not None:
                    await engine.unload()

        return cleanup

    def _log_left_behind(self) -> None:
        left = list(self._abandoned)
        if left:
            log.warning(
                "brainstem stopped, leaving behind %d engine instance(s) that did not stop: %s",
                len(left),
                "; ".join(
                    f"{s.engine.backend if s.engine else '?'} engine of {s.name!r} "
                    f"({s.stragglers} request(s) still inside)"
                    for s in left
                ),
            )

    async def _stream(
        self, job: _Job, command: Infer, load_seconds: float | None, run: EngineRun[OutputBody]
    ) -> OutputBody:
        slot = job.slot
        assert slot is not None
        assert slot.engine is not None
        events = slot.engine.infer(
            prompt=command.prompt,
            messages=command.messages,
            config=command.config,
            stop=job.stop,
            tools=command.tools,
            tool_choice=command.tool_choice,
            response_format=command.response_format,
        )
        cold = load_seconds is not None
        final: Complete | None = None
        announced = False
        try:
            async for event in events:
                if run.abandoned:
                    break
                run.sending = True  # waiting for our consumer is not the engine's fault
                if isinstance(event, ProcessStart):
                    event = attrs.evolve(event, cold=cold, model=event.model or job.model)
                    announced = True
                elif not announced:
                    await self._send(job.request_id, ProcessStart(model=job.model, cold=cold))
                    announced = True
                if isinstance(event, Complete):
                    final = event
                    break
                await self._send(job.request_id, event)
                run.sending = False
        finally:
            run.sending = False
            await _aclose(events)
        if final is None:
            if job.cancelled:
                return _cancelled_complete()
            raise EngineError(
                f"engine {slot.engine.backend!r} ended request {job.request_id!r} without Complete"
            )
        # The load is the orchestrator's business: this request paid for it only if it waited.
        return Complete(usage=attrs.evolve(final.usage, load_duration=load_seconds or 0.0))

    async def _serve_unload(self, request_id: str, command: Unload) -> None:
        slot = self._slots.get(command.model)
        closing = [s for s in self._closing if s.name == command.model]
        if slot is not None:
            if self._retire(slot):
                await self._close(slot)
            closing.append(slot)
        for s in closing:
            await s.closed.wait()
        self._ids.pop(request_id, None)
        detail = f"unloaded {command.model!r}" if closing else f"{command.model!r} was not loaded"
        await self._send(request_id, Ack(detail=detail))

    async def _serve_list(self, request_id: str) -> None:
        try:
            body: OutputBody = ModelList(models=tuple(await self._statuses()))
        except Exception as exc:
            body = _error_report(exc, AssetError)
        self._ids.pop(request_id, None)
        await self._send(request_id, body)

    async def _statuses(self) -> list[ModelStatus]:
        entries = await self._cfg.assets.list_models()
        now, wall = anyio.current_time(), self._cfg.wall_clock()
        slots = [s for s in self._slots.values() if s.loaded]
        rows: list[ModelStatus] = []
        for entry in entries:
            match = next((s for s in slots if _same_model(s, entry.reference, entry)), None)
            if match is not None:
                slots.remove(match)
            rows.append(
                ModelStatus(
                    name=entry.reference,
                    repo=entry.repo,
                    filename=entry.filename,
                    quantization=entry.quantization,
                    size=entry.size,
                    path=None if entry.path is None else fspath(entry.path),
                    downloaded=entry.path is not None,
                    loaded=match is not None,
                    expires_at=None if match is None else self._expires_at(match, now, wall),
                )
            )
        for slot in slots:  # loaded but not in the registry (Pinky with a bare name)
            spec = slot.spec
            rows.append(
                ModelStatus(
                    name=slot.name,
                    repo=spec.repo if spec else "",
                    filename=spec.filename if spec else "",
                    quantization=spec.quantization if spec else "",
                    size=spec.size if spec else None,
                    path=None if slot.path is None else fspath(slot.path),
                    downloaded=slot.path is not None,
                    loaded=True,
                    expires_at=self._expires_at(slot, now, wall),
                )
            )
        return rows

    def _expires_at(self, slot: _Slot, now: float, wall: float) -> float | None:
        """Unix time the model unloads if nothing else arrives; ``None`` for never.

        A busy model reports its keep-alive counted from now, as Ollama's ``ps``.
        """
        if slot.deadline is not None:
            return max(0.0, wall + (slot.deadline - now))
        if not slot.active and self._pending[slot.name] == 0:
            return None  # idle without a deadline: KeepAlive, or loaded ahead of any request
        keep = self._keep_seconds(slot)
        return None if keep is None else wall + keep


def _same_model(slot: _Slot, reference: str, entry: Any) -> bool:
    if slot.name == reference:
        return True
    spec = slot.spec
    return spec is not None and (
        spec.reference == reference or (spec.repo == entry.repo and spec.filename == entry.filename)
    )


def _cancelled_complete() -> Complete:
    return Complete(usage=Usage(finish_reason=FinishReason.CANCELLED))


async def _aclose(events: AsyncGenerator[InferenceEvent, None]) -> None:
    """Close the engine's iterator even when we are cancelled: its cleanup stops the worker."""
    with anyio.CancelScope(shield=True):
        await events.aclose()
