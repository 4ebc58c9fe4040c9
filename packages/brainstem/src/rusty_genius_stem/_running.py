"""The I/O half of a brainstem session: performing the scheduler's actions.

:class:`SessionCore` holds one session's state, sends outputs, and performs what
:class:`._scheduler.Scheduler` returns: it wakes request tasks (load, run, end), fetches
and measures, unloads engines, and abandons an engine that does not stop. The actor
loop around it (reading commands, ``Unload``, ``ListModels``, the idle timer) is
:class:`._session.Session`.
"""

from __future__ import annotations

import functools
import logging
from contextlib import suppress
from typing import TYPE_CHECKING, Final, Protocol

import anyio
import anyio.lowlevel

from rusty_genius_core import (
    BrainstemOutput,
    Complete,
    Embed,
    EngineError,
    Infer,
    LoadModel,
    ModelLoaded,
    ModelSpec,
    OutputBody,
)

from ._adapters import AdapterRouter
from ._embedding import serve_embed
from ._fetching import fetch_weights, load_options, weights_size
from ._leftover import EngineRun
from ._records import Instance, Job, cancelled_body, cancelled_complete, error_report
from ._scheduler import Scheduler
from ._scheduler_state import (
    Action,
    EndCancelled,
    Fail,
    Load,
    Measure,
    Run,
    SetTimer,
    Stop,
    Unload,
)
from ._streaming import stream_events

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from anyio.abc import TaskGroup

    from rusty_genius_core import AssetEvent
    from rusty_genius_cortex import Engine

    from ._assets import AssetSource
    from ._config import BrainstemConfig

__all__ = ["OutputSink", "SessionCore"]

log = logging.getLogger("rusty_genius_stem._orchestrator")

_YIELD_EVERY: Final = 16
"""Sends that may skip the loop in a row (see :meth:`SessionCore._send`)."""


class OutputSink(Protocol):
    """Where a session sends: an output stream, or the client's router in open_brainstem.

    ``BrokenResourceError``/``ClosedResourceError`` mean the consumer is gone.
    """

    def send_nowait(self, item: BrainstemOutput, /) -> None: ...

    async def send(self, item: BrainstemOutput, /) -> None: ...


class SessionCore:
    """State of one :meth:`Orchestrator.run`, and the performing of scheduler actions."""

    def __init__(self, config: BrainstemConfig, assets: AssetSource, outputs: OutputSink) -> None:
        self._cfg = config
        self._assets = assets
        self._outputs = outputs
        self._scheduler = Scheduler(config)
        self._router = AdapterRouter(assets)  # aliases over one base share its load
        self._tg: TaskGroup | None = None
        self._ids: dict[str, Job | None] = {}
        self._instances: dict[int, Instance] = {}
        self._abandoned: list[Instance] = []  # broken instances, kept to log what was left
        self._reaper_wake = anyio.Event()
        self._outputs_gone = False
        self._unyielded = 0  # sends since the last one that yielded to the loop

    # -- hooks the loop provides --------------------------------------------------------------

    def _begin_stop(self, request_id: str | None, *, drain: bool) -> None:
        raise NotImplementedError

    # -- sending ------------------------------------------------------------------------------

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

    # -- performing actions -------------------------------------------------------------------

    def _instance(self, model_id: int, name: str) -> Instance:
        instance = self._instances.get(model_id)
        if instance is None:
            instance = self._instances[model_id] = Instance(id=model_id, name=name)
        return instance

    def _perform(self, actions: list[Action], *, inline: int | None = None) -> list[int]:
        """Perform ``actions``; unloads of instance ``inline`` are returned for the caller
        to await (a request's end unloads its model before its final body), others spawn."""
        to_close: list[int] = []
        for action in actions:
            if isinstance(action, Unload):
                if action.model_id == inline:
                    to_close.append(action.model_id)
                else:
                    assert self._tg is not None
                    self._tg.start_soon(self._close, action.model_id)
            elif isinstance(action, SetTimer):
                self._reaper_wake.set()
            elif isinstance(action, Measure):
                assert self._tg is not None
                self._tg.start_soon(self._measure, self._job(action.request_id))
            elif isinstance(action, Load):
                job = self._job(action.request_id)
                instance = self._instance(action.model_id, action.name)
                creator = self._ids.get(action.created_by)
                if creator is not None and creator.prepared is not None:
                    instance.engine, spec, path = creator.prepared
                    instance.fetched = (spec, path)
                    creator.prepared = None
                job.instance = instance
                instance.jobs.add(job)
                job.tell(action)
            elif isinstance(action, Run):
                job = self._job(action.request_id)
                job.instance = self._instances[action.model_id]
                job.instance.jobs.add(job)
                job.tell(action)
            elif isinstance(action, Stop):
                job = self._job(action.request_id)
                job.stop.set()
                if job.scope is not None:
                    job.scope.cancel()
                job.tell()
            elif isinstance(action, EndCancelled | Fail):
                job = self._job(action.request_id)
                if isinstance(action, Fail) and action.error is not None:
                    job.failure = action.error
                if job.scope is not None:
                    job.scope.cancel()  # its measuring, if it still runs
                job.tell(action)
        return to_close

    def _job(self, request_id: str) -> Job:
        job = self._ids[request_id]
        assert job is not None
        return job

    def _cancel_job(self, job: Job) -> None:
        job.cancelled = True
        job.stop.set()
        if job.scope is not None:
            job.scope.cancel()
        self._perform(self._scheduler.cancel(job.request_id))
        job.tell()

    # -- a request's task ---------------------------------------------------------------------

    async def _serve_job(self, job: Job) -> None:
        try:
            final = await self._run_job(job)
        except Exception as exc:  # fault isolation: this request fails, the loop serves on
            if job.abandoned is not None:
                final = error_report(job.abandoned, EngineError)
            elif job.cancelled and isinstance(job.command, Infer):
                final = cancelled_complete()
            else:
                final = error_report(exc, EngineError)
        finally:
            to_close = self._release(job)
        for model_id in to_close:
            await self._close(model_id)
        if isinstance(final, Complete):
            log.info("request %s finished: %s", job.request_id, final.usage.finish_reason.value)
        await self._send(job.request_id, final)

    def _release(self, job: Job) -> list[int]:
        """Book the end of ``job``; return the instances the caller must close (unload) now."""
        self._ids.pop(job.request_id, None)
        instance = job.instance
        if instance is not None:
            instance.jobs.discard(job)
        actions = self._scheduler.request_finished(
            job.request_id, anyio.current_time(), loaded=job.loaded
        )
        return self._perform(actions, inline=None if instance is None else instance.id)

    async def _run_job(self, job: Job) -> OutputBody:
        while True:
            await job.wake.wait()
            job.wake = anyio.Event()
            directive, job.directive = job.directive, None
            if job.abandoned is not None:
                raise job.abandoned
            if isinstance(directive, Fail):
                assert job.failure is not None
                raise job.failure
            if isinstance(directive, Load):
                if not job.cancelled:
                    await self._load(job, directive)
                    continue
                self._perform(self._scheduler.load_failed(directive.model_id))
            if job.cancelled or isinstance(directive, EndCancelled):
                return cancelled_body(job)
            if isinstance(directive, Run):
                break
        if isinstance(job.command, LoadModel):
            job.loaded = True
            return ModelLoaded(model=job.model, load_duration=job.load_seconds or 0.0)
        if isinstance(job.command, Embed):
            assert job.instance is not None
            assert job.instance.engine is not None
            with anyio.CancelScope() as scope:
                job.scope = scope  # Cancel stops it here
                try:
                    return await serve_embed(job.instance.engine, job.command, job.load_seconds)
                finally:
                    job.scope = None
            return cancelled_body(job)
        return await self._run_stream(job, job.command)

    async def _load(self, job: Job, load: Load) -> None:
        """Load ``job``'s instance, then tell the scheduler how it went."""
        instance = job.instance
        assert instance is not None
        loaded = False
        with anyio.CancelScope() as scope:
            job.scope = scope  # Cancel stops the download or load here
            try:
                job.load_seconds = await self._load_engine(instance, load, job.request_id)
            except BaseException:
                job.scope = None
                self._perform(self._scheduler.load_failed(load.model_id))
                raise
            loaded = True
        job.scope = None
        if loaded:
            actions = self._scheduler.load_finished(load.model_id, self._engine_parallel(instance))
        else:
            actions = self._scheduler.load_failed(load.model_id)
        self._perform(actions)

    def _engine_parallel(self, instance: Instance) -> int:
        parallel = getattr(instance.engine, "parallel", 1)
        return parallel if isinstance(parallel, int) and parallel >= 1 else 1

    async def _load_engine(self, instance: Instance, load: Load, request_id: str) -> float:
        """Fetch (unless measured already) and load; seconds it took on the loop's clock."""
        if instance.engine is None:
            instance.engine = self._cfg.engine_factory()
        if instance.fetched is not None:  # measured for max_memory: fetched already
            (spec, path), instance.fetched = instance.fetched, None
        else:
            spec, path = await self._fetch(instance.engine, instance.name, request_id)
        options = load_options(load.options, spec, self._cfg.parallelism)
        started = anyio.current_time()
        await instance.engine.load(instance.name, path, options, spec)
        instance.spec, instance.path = spec, path
        # Measured on the loop's clock: what this request waited for, virtual clocks included.
        return max(0.0, anyio.current_time() - started)

    async def _measure(self, job: Job) -> None:
        """Fetch ``job``'s model and tell the scheduler its footprint; the fetched engine,
        spec and path go to the instance it gets. ``Cancel`` stops a download here."""
        try:
            with anyio.CancelScope() as scope:
                job.scope = scope
                engine = self._cfg.engine_factory()
                spec, path = await self._fetch(engine, job.model, job.request_id)
                size = weights_size(path)
                job.prepared = (engine, spec, path)
        except Exception as exc:
            job.failure = exc
            actions = self._scheduler.measure_failed(job.request_id)
        else:
            if scope.cancelled_caught:
                return
            actions = self._scheduler.measured(job.request_id, size)
        finally:
            job.scope = None
        self._perform(actions)

    async def _fetch(
        self, engine: Engine, name: str, request_id: str
    ) -> tuple[ModelSpec | None, Path | None]:
        async def forward(event: AssetEvent) -> None:
            await self._send(request_id, event)

        return await fetch_weights(
            self._assets,
            engine,
            name,
            forward,
            fetch=self._cfg.fetch_assets,
            resolve=functools.partial(self._resolved, request_id),
        )

    async def _resolved(self, request_id: str, name: str) -> ModelSpec | None:
        """``name`` resolved offline: as its request's admission found it, or afresh."""
        job = self._ids.get(request_id)
        if job is not None and job.model == name:
            return job.resolved
        return await self._router.spec(name)

    # -- unloading ----------------------------------------------------------------------------

    async def _close(self, model_id: int) -> None:
        """Unload instance ``model_id`` (idempotent, shielded); then let waiting requests in."""
        with anyio.CancelScope(shield=True):
            instance = self._instances.get(model_id)
            if instance is None:  # no engine was ever made for it
                self._perform(self._scheduler.unload_finished(model_id))
                return
            if instance.close_started:
                await instance.closed.wait()
                return
            instance.close_started = True
            try:
                if instance.engine is not None:
                    await instance.engine.unload()
            except Exception:
                log.exception("unloading %r failed", instance.name)
            finally:
                self._instances.pop(model_id, None)
                instance.closed.set()
                self._perform(self._scheduler.unload_finished(model_id))

    # -- streaming ----------------------------------------------------------------------------

    async def _run_stream(self, job: Job, command: Infer) -> OutputBody:
        """Stream ``job`` in an :class:`EngineRun`; once it is asked to stop (``Cancel``,
        shutdown, or this task cancelled), give its engine ``stop_timeout`` seconds."""
        run: EngineRun[OutputBody] = EngineRun(name=f"the engine stream of {job.request_id!r}")
        job.run = run

        async def stream(run: EngineRun[OutputBody]) -> OutputBody:
            adapters = await self._router.adapters_for(job, self._send)
            return await stream_events(job, command, run, self._send, adapters)

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

    async def _wait_stopped(self, job: Job, run: EngineRun[OutputBody]) -> None:
        """Wait for ``run`` to end; abandon its engine when it outlasts the stop deadline."""
        while not run.done.is_set() and job.abandoned is None:
            with anyio.CancelScope() as scope:
                job.scope = scope  # woken when another request abandons the same engine
                if not await run.wait_stopped(self._cfg.stop_timeout):
                    assert job.instance is not None
                    self._abandon(job.instance)
            job.scope = None

    def _abandon(self, instance: Instance) -> None:
        """Leave ``instance``'s engine behind: its requests end with ``EngineError``, a new
        instance (a new engine) serves the next request for the model, shutdown does not
        wait for it."""
        if instance.broken:
            return
        backend = instance.engine.backend if instance.engine is not None else "?"
        error = EngineError(
            f"the {backend} engine of {instance.name!r} did not stop within "
            f"{self._cfg.stop_timeout:g} s of being asked to and was abandoned"
        )
        log.warning(
            "abandoning the %s engine of %r: it did not stop within %g s (requests %s)",
            backend,
            instance.name,
            self._cfg.stop_timeout,
            ", ".join(repr(j.request_id) for j in instance.jobs),
        )
        instance.broken = instance.close_started = True
        instance.closed.set()
        self._instances.pop(instance.id, None)
        self._abandoned.append(instance)
        engine = instance.engine
        for job in list(instance.jobs):
            if job.run is not None and job.run.done.is_set():
                continue  # it ended on its own; its task reports how
            job.abandoned = error
            self._cancel_job(job)
            if job.run is not None:
                job.run.abandon()
                instance.stragglers += 1
                job.run.cleanup = self._straggler_cleanup(instance, engine)
        if instance.stragglers == 0:
            self._abandoned.remove(instance)
        self._perform(self._scheduler.abandon(instance.id))

    def _straggler_cleanup(
        self, instance: Instance, engine: Engine | None
    ) -> Callable[[], Awaitable[None]]:
        """What an abandoned run does if it ever ends: the last one unloads the engine."""

        async def cleanup() -> None:
            instance.stragglers -= 1
            if instance.stragglers == 0:
                if instance in self._abandoned:
                    self._abandoned.remove(instance)  # nothing left behind: forget it
                if engine is not None:
                    await engine.unload()

        return cleanup

    # -- the end ------------------------------------------------------------------------------

    def _log_left_behind(self) -> None:
        left = list(self._abandoned)
        if left:
            log.warning(
                "brainstem stopped, leaving behind %d engine instance(s) that did not stop: %s",
                len(left),
                "; ".join(
                    f"{i.engine.backend if i.engine else '?'} engine of {i.name!r} "
                    f"({i.stragglers} request(s) still inside)"
                    for i in left
                ),
            )

    async def _unload_all(self) -> None:
        """Unload every engine not closed yet, also after a crash; never leak a loaded one."""
        with anyio.CancelScope(shield=True):
            for instance in list(self._instances.values()):
                if instance.engine is not None and not instance.closed.is_set():
                    with suppress(Exception):
                        await instance.engine.unload()
                    instance.closed.set()
