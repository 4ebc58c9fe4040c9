"""One run of the brainstem actor: read commands, feed the scheduler, answer.

Infer, Embed and LoadModel go to the :class:`._scheduler.Scheduler` (admission, queueing,
placement, keep-alive) and run in their own tasks (:class:`._running.SessionCore`);
``Cancel``, ``Unload``, ``ListModels`` and ``Shutdown`` are answered here.
"""

from __future__ import annotations

import logging
import math
from os import fspath
from typing import TYPE_CHECKING, Any

import anyio

from rusty_genius_core import (
    Ack,
    AssetError,
    BrainstemInput,
    BusyError,
    Cancel,
    Embed,
    ErrorReport,
    GeniusError,
    Infer,
    ListModels,
    LoadModel,
    ModelList,
    ModelStatus,
    OutputBody,
    ProtocolError,
    Shutdown,
    Unload,
)

from ._records import Job, error_report
from ._running import OutputSink, SessionCore
from ._scheduler_state import Reject
from ._scheduler_state import Unload as UnloadAction

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.streams.memory import MemoryObjectReceiveStream

    from ._assets import AssetSource, RegistryRecord
    from ._config import BrainstemConfig
    from ._records import Instance
    from ._scheduler_state import Model

__all__ = ["Session"]

log = logging.getLogger("rusty_genius_stem._orchestrator")


class Session(SessionCore):
    """The actor loop of one :meth:`Orchestrator.run`."""

    def __init__(self, config: BrainstemConfig, assets: AssetSource, outputs: OutputSink) -> None:
        super().__init__(config, assets, outputs)
        self._live = 0
        self._drained = anyio.Event()
        self._stop_requested = anyio.Event()
        self._shutdown_ids: list[str] = []

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
                self._scheduler.retire_all()  # its unloads: every closing instance, awaited here
                for model_id in list(self._scheduler.closing):
                    await self._close(model_id)
                for request_id in self._shutdown_ids:
                    self._ids.pop(request_id, None)
                    await self._send(request_id, Ack(detail="brainstem stopped"))
                tg.cancel_scope.cancel()
        finally:
            self._log_left_behind()
            await self._unload_all()

    async def _read(self, inputs: MemoryObjectReceiveStream[BrainstemInput]) -> None:
        async for message in inputs:
            known = message.request_id in self._ids
            try:
                await self._handle(message)
            except Exception as exc:  # a bug in one request must not stop the loop
                log.exception("brainstem failed to handle %r", message)
                if not known:
                    self._ids.pop(message.request_id, None)
                await self._send(message.request_id, error_report(exc, GeniusError))
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
        elif isinstance(command, Shutdown):
            self._ids[rid] = None
            self._begin_stop(rid, drain=command.drain)
        elif self._scheduler.stopping:
            await self._send(
                rid,
                ErrorReport(
                    error=BusyError, message=f"brainstem is shutting down; request {rid!r} refused"
                ),
            )
        elif isinstance(command, Infer | Embed | LoadModel):
            await self._admit(rid, command)
        elif isinstance(command, Unload):
            self._ids[rid] = None
            self._spawn(self._serve_unload, rid, command)
        elif isinstance(command, ListModels):
            self._ids[rid] = None
            self._spawn(self._serve_list, rid)

    async def _admit(self, request_id: str, command: Infer | Embed | LoadModel) -> None:
        spec = await self._router.spec(command.model)
        job = Job(request_id=request_id, command=command, resolved=spec)
        actions = self._scheduler.admit(
            request_id,
            self._router.load_name(command.model, spec),
            job.kind,
            options=command.options if isinstance(command, LoadModel) else None,
            keep_alive=command.keep_alive,
        )
        if actions and isinstance(actions[0], Reject):
            await self._send(request_id, ErrorReport(error=BusyError, message=actions[0].message))
            return
        self._ids[request_id] = job
        self._spawn(self._serve_job, job)
        self._perform(actions)

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

    def _begin_stop(self, request_id: str | None, *, drain: bool) -> None:
        if request_id is not None:
            self._shutdown_ids.append(request_id)
        self._scheduler.shutdown()
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

    async def _reaper(self) -> None:
        """Tell the scheduler when an idle model's deadline passes."""
        while True:
            self._reaper_wake = anyio.Event()
            deadline = self._scheduler.next_deadline()
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline):
                await self._reaper_wake.wait()
            self._perform(self._scheduler.tick(anyio.current_time()))

    async def _serve_unload(self, request_id: str, command: Unload) -> None:
        actions, waits = self._scheduler.unload(self._router.known_load_name(command.model))
        inline = next((a.model_id for a in actions if isinstance(a, UnloadAction)), None)
        for model_id in self._perform(actions, inline=inline):
            await self._close(model_id)
        for model_id in waits:
            instance = self._instances.get(model_id)
            if instance is not None:
                await instance.closed.wait()
        self._ids.pop(request_id, None)
        detail = f"unloaded {command.model!r}" if waits else f"{command.model!r} was not loaded"
        await self._send(request_id, Ack(detail=detail))

    async def _serve_list(self, request_id: str) -> None:
        try:
            body: OutputBody = ModelList(models=tuple(await self._statuses()))
        except Exception as exc:
            body = error_report(exc, AssetError)
        self._ids.pop(request_id, None)
        await self._send(request_id, body)

    async def _statuses(self) -> list[ModelStatus]:
        entries = await self._assets.list_models()
        now, wall = anyio.current_time(), self._cfg.wall_clock()
        loaded = [
            (m, i)
            for m in self._scheduler.loaded_models()
            if (i := self._instances.get(m.id)) is not None
            and i.engine is not None
            and i.engine.is_loaded
        ]
        rows: list[ModelStatus] = []
        for entry in entries:
            match = next((p for p in loaded if _same_model(p[1], entry.reference, entry)), None)
            if match is not None:
                loaded.remove(match)
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
                    expires_at=None if match is None else self._expires_at(match[0], now, wall),
                )
            )
        for model, instance in loaded:  # loaded but not in the registry (Pinky, a bare name)
            spec = instance.spec
            rows.append(
                ModelStatus(
                    name=instance.name,
                    repo=spec.repo if spec else "",
                    filename=spec.filename if spec else "",
                    quantization=spec.quantization if spec else "",
                    size=spec.size if spec else None,
                    path=None if instance.path is None else fspath(instance.path),
                    downloaded=instance.path is not None,
                    loaded=True,
                    expires_at=self._expires_at(model, now, wall),
                )
            )
        return rows

    def _expires_at(self, model: Model, now: float, wall: float) -> float | None:
        """Unix time the model unloads if nothing else arrives; ``None`` for never."""
        after = self._scheduler.expires_after(model, now)
        return None if after is None else max(0.0, wall + after)


def _same_model(instance: Instance, reference: str, entry: RegistryRecord) -> bool:
    if instance.name == reference:
        return True
    spec = instance.spec
    return spec is not None and (
        spec.reference == reference or (spec.repo == entry.repo and spec.filename == entry.filename)
    )
