"""The brainstem's scheduling policy as a state machine with no I/O (as h11 and wsproto are).

The orchestrator feeds :class:`Scheduler` events (a request admitted, a load finished
or failed, a request finished, a cancel, a timer, an unload finished, an engine
abandoned) and performs the actions each returns (:mod:`._scheduler_state`): fetch and
measure, load, run on a model, stop, unload, reject, fail. Nothing here awaits, reads a
clock or touches an engine; times come in with the events.

Policy (what the brainstem tests pin):

- Requests start in arrival order. One for a model in service with matching options
  runs there while the model has a free slot (``parallelism``, or the engine's own once
  loaded); a ``LoadModel`` never waits for a slot. A request that needs another model
  (or other load options: another context size) waits until there is room, and nothing
  behind it starts meanwhile, so a busy model cannot starve a switch; a model with
  other options is replaced once its running requests are done.
- Places, not slots: the scheduler counts how many requests run on an instance (its
  ``capacity``) and never says which of the engine's sequences a request takes. That
  choice needs what only the engine knows: the llama engine's slot planner
  (``rusty_genius_cortex._slots``) puts a request on the free sequence whose KV cache
  holds the longest prefix of its prompt (llama-server's slot similarity), which a
  slot number picked here, with no view of the caches, would defeat; a remote server
  places requests on its own slots.
- Room: at most ``max_loaded`` instances (closing ones included) and, with
  ``max_memory``, their footprints within the budget; the least recently used idle
  instance is unloaded to make room. Under a budget a request's weights are fetched
  and measured first (``Measure``), one request at a time.
- At most ``max_queue`` requests wait; more are rejected (``BusyError``), and so is
  everything after ``shutdown``.
- Keep-alive: when a model has nothing running or queued it unloads now (``0``), at a
  deadline, or never, by the latest request's ``keep_alive`` else the strategy. The
  strategy's ``0`` (:class:`Immediate`) waits for a request after a bare ``LoadModel``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import TYPE_CHECKING, Final

from rusty_genius_core import EngineError, LoadOptions

from ._scheduler_state import (
    Action,
    EndCancelled,
    Fail,
    Load,
    Measure,
    Model,
    ModelState,
    Reject,
    Request,
    RequestKind,
    RequestState,
    Run,
    SetTimer,
    Stop,
    Unload,
)
from ._strategy import HibernateAfter, Immediate

if TYPE_CHECKING:
    from ._config import BrainstemConfig

__all__ = ["REMEMBERED_OPTIONS", "Scheduler"]

REMEMBERED_OPTIONS: Final = 32
"""Models whose last ``LoadModel`` options are kept for their next load (least recently
loaded forgotten first); only options that loaded a model are kept."""


class Scheduler:
    """Which request runs where, and which model loads or unloads when."""

    def __init__(self, config: BrainstemConfig) -> None:
        self._cfg = config
        self.requests: dict[str, Request] = {}
        self.queue: list[Request] = []  # admitted, not started (ENDING ones until they end)
        self.pending: Counter[str] = Counter()  # queued requests per model name
        self.in_service: dict[str, Model] = {}  # the instance in service, per name
        self.closing: dict[int, Model] = {}  # DRAINING and UNLOADING instances
        self.last_options: dict[str, LoadOptions] = {}
        self.stopping = False
        self._ids = itertools.count(1)
        self._ticks = itertools.count(1)

    # -- queries ----------------------------------------------------------------------------

    def model(self, model_id: int) -> Model | None:
        """Instance ``model_id`` while it is in service or closing."""
        for model in self.in_service.values():
            if model.id == model_id:
                return model
        return self.closing.get(model_id)

    def model_state(self, name: str) -> ModelState:
        model = self.in_service.get(name)
        return ModelState.ABSENT if model is None else model.state

    def loaded_models(self) -> list[Model]:
        """The loaded instances in service, for ``ListModels``."""
        return [m for m in self.in_service.values() if m.state is ModelState.READY]

    def next_deadline(self) -> float | None:
        deadlines = [m.deadline for m in self.in_service.values() if m.deadline is not None]
        return min(deadlines, default=None)

    def expires_after(self, model: Model, now: float) -> float | None:
        """Seconds from ``now`` until ``model`` unloads if nothing else arrives; ``None``
        for never. A busy model reports its keep-alive counted from now, as Ollama's ``ps``."""
        if model.deadline is not None:
            return model.deadline - now
        if self._is_idle(model):
            return None  # idle without a deadline: KeepAlive, or loaded ahead of any request
        return self._keep_seconds(model)

    def table_sizes(self) -> dict[str, int]:
        """How many entries each table holds (all zero when nothing is loaded or in flight)."""
        return {
            "requests": len(self.requests),
            "queue": len(self.queue),
            "pending": len(self.pending),
            "in_service": len(self.in_service),
            "closing": len(self.closing),
        }

    # -- events -----------------------------------------------------------------------------

    def admit(
        self,
        request_id: str,
        model: str,
        kind: RequestKind,
        *,
        options: LoadOptions | None = None,
        keep_alive: float | None = None,
    ) -> list[Action]:
        """A request arrived; it is queued, or rejected with :class:`Reject`."""
        if request_id in self.requests:
            raise ValueError(f"request id {request_id!r} is already admitted")
        if self.stopping:
            return [
                Reject(request_id, f"brainstem is shutting down; request {request_id!r} refused")
            ]
        if len(self.queue) >= self._cfg.max_queue:
            return [
                Reject(
                    request_id,
                    f"{len(self.queue)} requests already wait (max_queue={self._cfg.max_queue}); "
                    f"request {request_id!r} refused",
                )
            ]
        request = Request(
            id=request_id, model=model, kind=kind, options=options, keep_alive=keep_alive
        )
        self.requests[request_id] = request
        self.queue.append(request)
        self.pending[model] += 1
        slot = self.in_service.get(model)
        if slot is not None:
            slot.deadline = None  # a new request stops the idle clock
        return self._schedule()

    def measured(self, request_id: str, footprint: int) -> list[Action]:
        """The weights of ``request_id``'s model are local and take ``footprint`` bytes."""
        request = self.requests.get(request_id)
        if request is None or request.state is not RequestState.MEASURING:
            return []  # it was cancelled meanwhile
        budget = self._cfg.max_memory
        if budget is not None and footprint > budget:
            request.state = RequestState.ENDING
            error = EngineError(
                f"model {request.model!r} needs an estimated {footprint} bytes, more than the "
                f"whole memory budget (max_memory={budget} bytes)"
            )
            return [Fail(request_id, error), *self._schedule()]
        request.footprint = footprint
        request.state = RequestState.QUEUED
        return self._schedule()

    def measure_failed(self, request_id: str) -> list[Action]:
        """Fetching ``request_id``'s model failed; the shell holds the error."""
        request = self.requests.get(request_id)
        if request is None or request.state is not RequestState.MEASURING:
            return []
        request.state = RequestState.ENDING
        return [Fail(request_id), *self._schedule()]

    def load_finished(self, model_id: int, capacity: int | None = None) -> list[Action]:
        """Instance ``model_id`` loaded; ``capacity`` is its engine's own parallelism."""
        model = self.model(model_id)
        if model is None or model.loader is None:
            return []
        if model.state is ModelState.LOADING:
            model.state = ModelState.READY
        model.loaded = True
        model.loader = None
        model.served = False
        if capacity is not None and capacity >= 1 and self._cfg.parallelism is None:
            model.capacity = capacity
        actions: list[Action] = [Run(rid, model_id) for rid in model.waiting]
        for rid in model.waiting:
            self.requests[rid].state = RequestState.RUNNING
        model.waiting.clear()
        return [*actions, *self._schedule()]

    def load_failed(self, model_id: int) -> list[Action]:
        """The load of ``model_id`` failed or was cancelled; its loader ends (the shell holds
        the error); the next request waiting for it tries again."""
        model = self.model(model_id)
        if model is None or model.loader is None:
            return []
        loader = self.requests[model.loader]
        loader.state = RequestState.ENDING
        model.waiting.remove(loader.id)
        model.loader = None
        return self._next_loader(model)

    def request_finished(
        self, request_id: str, now: float, *, loaded: bool = False
    ) -> list[Action]:
        """``request_id`` ended (its final body is about to be sent). ``loaded``: it was a
        ``LoadModel`` that loaded its model, whose options are kept for the next load."""
        request = self.requests.pop(request_id)
        request.state = RequestState.DONE
        actions: list[Action] = []
        if loaded and request.kind is RequestKind.LOAD and request.options is not None:
            self._remember_options(request.model, request.options)
        if request in self.queue:
            self.queue.remove(request)
            self._unpend(request.model)
            slot = self.in_service.get(request.model)
            if slot is not None and self._is_idle(slot):
                actions += self._on_idle(slot, now)
        elif request.model_id is not None:
            model = self.model(request.model_id)
            if model is not None:
                actions += self._release(model, request, now)
        return [*actions, *self._schedule()]

    def cancel(self, request_id: str) -> list[Action]:
        """Stop ``request_id``: end it now if it has not started, else ask it to stop."""
        request = self.requests.get(request_id)
        if request is None or request.state in (RequestState.ENDING, RequestState.DONE):
            return []
        request.cancelled = True
        if request.state in (RequestState.QUEUED, RequestState.MEASURING):
            request.state = RequestState.ENDING
            return [EndCancelled(request_id), *self._schedule()]
        return [Stop(request_id)]

    def tick(self, now: float) -> list[Action]:
        """The clock reached ``now``: unload idle models whose deadline passed."""
        actions: list[Action] = []
        for model in list(self.in_service.values()):
            expired = model.deadline is not None and model.deadline <= now
            if expired and self._is_idle(model) and self._retire(model):
                actions.append(self._unload(model))
        return actions

    def unload_finished(self, model_id: int) -> list[Action]:
        """Instance ``model_id``'s engine is unloaded: its memory and place are free."""
        model = self.closing.pop(model_id, None)
        if model is None:
            return []
        model.state = ModelState.GONE
        return self._schedule()

    def abandon(self, model_id: int) -> list[Action]:
        """Instance ``model_id``'s engine did not stop and is left behind: it is gone now
        (its requests still end through :meth:`request_finished`)."""
        model = self.model(model_id)
        if model is None:
            return []
        if self.in_service.get(model.name) is model:
            del self.in_service[model.name]
        self.closing.pop(model_id, None)
        model.state = ModelState.GONE
        model.deadline = None
        return self._schedule()

    def unload(self, name: str) -> tuple[list[Action], list[int]]:
        """``Unload`` of ``name``: the actions, and the instances to wait for."""
        actions: list[Action] = []
        slot = self.in_service.get(name)
        if slot is not None and self._retire(slot):
            actions.append(self._unload(slot))
        waits = [m.id for m in self.closing.values() if m.name == name]
        return actions, waits

    def shutdown(self) -> None:
        """Refuse new requests from now on."""
        self.stopping = True

    def retire_all(self) -> list[Action]:
        """Take every instance out of service (shutdown, once drained)."""
        return [self._unload(m) for m in list(self.in_service.values()) if self._retire(m)]

    # -- policy -----------------------------------------------------------------------------

    def _schedule(self) -> list[Action]:
        """Start what can start, in arrival order (see the module docstring)."""
        actions: list[Action] = []
        blocked: set[str] = set()
        for request in list(self.queue):
            if request.state is RequestState.ENDING:
                continue
            slot = self.in_service.get(request.model)
            if slot is not None and request.options in (None, slot.options):
                if request.kind is RequestKind.LOAD:
                    actions += self._start(request, slot)
                elif request.model in blocked or len(slot.running) >= slot.capacity:
                    blocked.add(request.model)
                else:
                    actions += self._start(request, slot)
                continue
            if request.model in blocked:
                continue
            if slot is not None:  # same model, other options: replace it once it is idle
                if not slot.active and self._retire(slot):
                    actions.append(self._unload(slot))
                break
            if any(m.name == request.model and m.loader for m in self.closing.values()):
                break  # its old instance still loads: never two loads of one model
            if self._cfg.max_memory is not None and request.footprint is None:
                if request.state is RequestState.QUEUED:  # it waits until its size is known
                    request.state = RequestState.MEASURING
                    actions.append(Measure(request.id, request.model))
                break
            if len(self.in_service) + len(self.closing) < self._cfg.max_loaded and self._fits(
                request
            ):
                options = request.options or self.last_options.get(request.model, LoadOptions())
                slot = Model(
                    id=next(self._ids),
                    name=request.model,
                    options=options,
                    capacity=self._cfg.parallelism or 1,
                    footprint=request.footprint or 0,
                    created_by=request.id,
                )
                self.in_service[request.model] = slot
                actions += self._start(request, slot)
                continue
            idle = [s for s in self.in_service.values() if not s.active]
            if idle:
                victim = min(idle, key=lambda s: s.last_used)
                if self._retire(victim):
                    actions.append(self._unload(victim))
            break
        return actions

    def _fits(self, request: Request) -> bool:
        budget = self._cfg.max_memory
        if budget is None:
            return True
        held = sum(m.footprint for m in (*self.in_service.values(), *self.closing.values()))
        return held + (request.footprint or 0) <= budget

    def _start(self, request: Request, model: Model) -> list[Action]:
        self.queue.remove(request)
        self._unpend(request.model)
        request.model_id = model.id
        if request.kind is RequestKind.LOAD:
            model.loaders.add(request.id)
        else:
            model.running.add(request.id)
        model.keep_alive = request.keep_alive  # the latest request's says, as in Ollama
        model.deadline = None
        model.last_used = next(self._ticks)
        if model.loaded:
            request.state = RequestState.RUNNING
            return [Run(request.id, model.id)]
        request.state = RequestState.WAITING_FOR_LOAD
        model.waiting.append(request.id)
        return self._next_loader(model)

    def _next_loader(self, model: Model) -> list[Action]:
        if model.loader is not None or not model.waiting:
            return []
        model.loader = model.waiting[0]
        return [Load(model.loader, model.id, model.name, model.options, model.created_by)]

    def _release(self, model: Model, request: Request, now: float) -> list[Action]:
        (model.loaders if request.kind is RequestKind.LOAD else model.running).discard(request.id)
        if request.id in model.waiting:
            model.waiting.remove(request.id)
        model.last_used = next(self._ticks)
        if request.kind is RequestKind.INFER:
            model.served = True
        if model.state is ModelState.GONE:
            return []
        actions: list[Action] = []
        if model.loader == request.id:  # it ended without reporting its load (cancelled)
            model.loader = None
            actions += self._next_loader(model)
        if model.retired:
            if not model.active and model.state is ModelState.DRAINING:
                actions.append(self._unload(model))
        elif self._is_idle(model):
            actions += self._on_idle(model, now)
        return actions

    def _on_idle(self, model: Model, now: float) -> list[Action]:
        if not model.loaded:  # its load failed or was cancelled
            return [self._unload(model)] if self._retire(model) else []
        keep = self._keep_seconds(model)
        if keep is None:
            return []
        if keep == 0:
            # The strategy's 0 (Immediate) unloads after a request, so a bare LoadModel waits
            # for its first one; a request's own keep_alive=0 (a LoadModel's too) unloads now.
            if (model.served or model.keep_alive is not None) and self._retire(model):
                return [self._unload(model)]
            return []
        model.deadline = now + keep
        return [SetTimer(model.deadline)]

    def _keep_seconds(self, model: Model) -> float | None:
        """Idle seconds before unloading ``model``: ``0`` now, ``None`` never."""
        if model.keep_alive is not None:
            return None if model.keep_alive < 0 else float(model.keep_alive)
        strategy = self._cfg.strategy
        if isinstance(strategy, Immediate):
            return 0.0
        if isinstance(strategy, HibernateAfter):
            return strategy.duration
        return None

    def _is_idle(self, model: Model) -> bool:
        return not model.active and self.pending[model.name] == 0

    def _retire(self, model: Model) -> bool:
        """Take ``model`` out of service; True when nothing runs on it and it can unload now."""
        if not model.retired:
            model.state = ModelState.DRAINING
            model.deadline = None
            if self.in_service.get(model.name) is model:
                del self.in_service[model.name]
            self.closing[model.id] = model
        return not model.active and model.state is ModelState.DRAINING

    def _unload(self, model: Model) -> Unload:
        model.state = ModelState.UNLOADING
        return Unload(model.id, model.name)

    def _unpend(self, name: str) -> None:
        self.pending[name] -= 1
        if self.pending[name] <= 0:
            del self.pending[name]  # many model names must not leave a trail of zeros

    def _remember_options(self, name: str, options: LoadOptions) -> None:
        """Keep the options a ``LoadModel`` loaded ``name`` with, for its next load; at most
        :data:`REMEMBERED_OPTIONS` models, so distinct names cannot grow it."""
        self.last_options.pop(name, None)
        self.last_options[name] = options
        while len(self.last_options) > REMEMBERED_OPTIONS:
            del self.last_options[next(iter(self.last_options))]
