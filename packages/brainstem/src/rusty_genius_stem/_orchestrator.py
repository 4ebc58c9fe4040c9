"""The brainstem actor: one loop that routes requests to assets and engines.

A thin I/O shell: :class:`._scheduler.Scheduler` (no I/O) decides what runs, loads
and unloads when; the session (:mod:`._session`, :mod:`._running`) feeds it events
and performs its actions.

:meth:`Orchestrator.run` reads :class:`BrainstemInput` and answers with
:class:`BrainstemOutput` carrying the same ``request_id``. Every request task
lives in the loop's task group, so the loop keeps reading (a ``Cancel`` always
gets through) while requests download, load and generate.

Guarantees:

- Every accepted request ends with exactly one final body (:func:`is_final`);
  nothing of one request ever carries another's id.
- ``Infer`` ends with ``Complete``: ``finish_reason`` is the engine's, or
  ``cancelled`` after ``Cancel``/``Shutdown(drain=False)``, also when it was
  still queued (then no ``ProcessStart`` precedes it). Each is logged at INFO as
  ``request ID finished: REASON`` (also when its reader has already left).
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

from typing import TYPE_CHECKING, Final, Unpack

from ._config import DEFAULT_MAX_QUEUE as DEFAULT_MAX_QUEUE
from ._config import DEFAULT_STOP_TIMEOUT as DEFAULT_STOP_TIMEOUT
from ._config import BrainstemConfig, BrainstemSettings, make_config
from ._config import default_engine_factory as default_engine_factory
from ._scheduler import REMEMBERED_OPTIONS as REMEMBERED_OPTIONS
from ._session import Session as _Session

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from rusty_genius_core import BrainstemInput, BrainstemOutput
    from rusty_genius_cortex import Engine

    from ._assets import AssetSource
    from ._running import OutputSink
    from ._strategy import CortexStrategy

__all__ = ["Orchestrator"]


class Orchestrator:
    """The brainstem: ``assets``, a :class:`BrainstemConfig`, and :meth:`run`, the actor loop.

    ``config`` holds every setting (see :class:`BrainstemConfig`); its fields may also be
    given as keywords (``Orchestrator(assets, parallelism=4)``), applied over ``config``.
    The configuration's fields read as attributes too (``orchestrator.max_memory``).

    An engine asked to stop (``Cancel``, ``Shutdown(drain=False)``, the brainstem
    cancelled) that has not within ``stop_timeout`` seconds is abandoned: its requests
    end with ``EngineError``, the next request for its model gets a new engine instance,
    and shutdown does not wait for it (it logs what it left behind; llama.cpp's worker
    thread cannot be killed, so one stuck in a call may still run).
    """

    def __init__(
        self,
        assets: AssetSource,
        config: BrainstemConfig | None = None,
        **settings: Unpack[BrainstemSettings],
    ) -> None:
        self.assets: Final = assets
        self.config: Final = make_config(config, settings)

    # The configuration's fields, read-only, as the older attributes.

    @property
    def engine_factory(self) -> Callable[[], Engine]:
        return self.config.engine_factory

    @property
    def strategy(self) -> CortexStrategy:
        return self.config.strategy

    @property
    def parallelism(self) -> int | None:
        return self.config.parallelism

    @property
    def max_queue(self) -> int:
        return self.config.max_queue

    @property
    def max_loaded(self) -> int:
        return self.config.max_loaded

    @property
    def max_memory(self) -> int | None:
        return self.config.max_memory

    @property
    def fetch_assets(self) -> bool:
        return self.config.fetch_assets

    @property
    def wall_clock(self) -> Callable[[], float]:
        return self.config.wall_clock

    @property
    def stop_timeout(self) -> float:
        return self.config.stop_timeout

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
        self, inputs: MemoryObjectReceiveStream[BrainstemInput], outputs: OutputSink
    ) -> None:
        """The loop itself; :func:`open_brainstem` runs it with its client's router."""
        await _Session(self.config, self.assets, outputs).run(inputs)
