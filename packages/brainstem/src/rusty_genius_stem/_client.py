"""A running brainstem in a context manager, and a client that routes answers by request id."""

from __future__ import annotations

import itertools
import uuid
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel

from rusty_genius_core import (
    BrainstemInput,
    BrainstemOutput,
    Cancel,
    Command,
    Infer,
    LoadModel,
    OutputBody,
    ProtocolError,
    Shutdown,
    is_final,
)

from ._orchestrator import DEFAULT_MAX_QUEUE, Orchestrator, default_engine_factory

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from rusty_genius_cortex import Engine

    from ._assets import AssetSource
    from ._strategy import CortexStrategy

__all__ = ["BrainstemClient", "open_brainstem"]

_YIELD_EVERY: Final = 16
"""Outputs the dispatcher may route in a row without yielding to the loop."""


class BrainstemClient:
    """Send commands to a running brainstem; each caller reads only its own answers.

    Many tasks may use one client at once. A background dispatcher reads the
    brainstem's output stream and forwards each body to the stream of the request
    it answers, awaiting the reader: a request whose reader stalls holds the
    others back rather than losing events.
    """

    def __init__(
        self,
        inputs: MemoryObjectSendStream[BrainstemInput],
        outputs: MemoryObjectReceiveStream[BrainstemOutput],
        *,
        buffer_size: int = 64,
    ) -> None:
        self._inputs = inputs
        self._outputs = outputs
        self._buffer_size = buffer_size
        self._routes: dict[str, MemoryObjectSendStream[OutputBody]] = {}
        self._prefix = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._finished = anyio.Event()

    def new_request_id(self) -> str:
        """A request id no other request of this client uses."""
        return f"{self._prefix}-{next(self._counter)}"

    @asynccontextmanager
    async def stream(
        self, command: Command, *, request_id: str | None = None
    ) -> AsyncIterator[MemoryObjectReceiveStream[OutputBody]]:
        """Submit ``command``; yield a stream of its bodies that ends after the final one.

        Leaving the block before the final body cancels the request (best effort).
        """
        rid = self.new_request_id() if request_id is None else request_id
        if rid in self._routes:
            raise ProtocolError(f"request id {rid!r} is already in use by this client")
        send, receive = anyio.create_memory_object_stream[OutputBody](self._buffer_size)
        self._routes[rid] = send
        try:
            async with receive:
                await self._inputs.send(BrainstemInput(request_id=rid, command=command))
                yield receive
        finally:
            if self._routes.pop(rid, None) is not None:
                send.close()
                if isinstance(command, Infer | LoadModel):
                    with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                        await self._send_quietly(
                            BrainstemInput(
                                request_id=self.new_request_id(), command=Cancel(target=rid)
                            )
                        )

    async def call(self, command: Command, *, request_id: str | None = None) -> OutputBody:
        """Submit ``command`` and return its final body, skipping progress and tokens."""
        async with self.stream(command, request_id=request_id) as bodies:
            async for body in bodies:
                if is_final(body):
                    return body
        raise ProtocolError(f"the brainstem stopped before answering {command!r}")

    async def shutdown(self, *, drain: bool = False) -> None:
        """Ask the brainstem to stop, and wait until it has and every answer is delivered."""
        if not self._finished.is_set():
            rid = self.new_request_id()
            send, receive = anyio.create_memory_object_stream[OutputBody](1)
            self._routes[rid] = send
            async with receive:
                await self._send_quietly(
                    BrainstemInput(request_id=rid, command=Shutdown(drain=drain))
                )
                await self._finished.wait()
        self._inputs.close()

    async def _send_quietly(self, message: BrainstemInput) -> None:
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._inputs.send(message)  # fails only once the brainstem has stopped

    async def _dispatch(self) -> None:
        """Route every output to its request's stream, in order, waiting on a full one.

        The ``*_nowait`` calls come first: anyio's ``receive``/``send`` yield to the
        loop on every call, a scheduling round per event. This task yields when it
        has to wait, and at least every :data:`_YIELD_EVERY` outputs otherwise.
        """
        outputs, routes = self._outputs, self._routes
        unyielded = 0
        try:
            async with outputs:
                while True:
                    try:
                        output = outputs.receive_nowait()
                    except anyio.WouldBlock:
                        try:
                            output = await outputs.receive()
                        except anyio.EndOfStream:
                            break
                        unyielded = 0
                    except anyio.EndOfStream:
                        break
                    unyielded += 1
                    if unyielded >= _YIELD_EVERY:
                        unyielded = 0
                        await anyio.lowlevel.checkpoint()
                    rid, body = output.request_id, output.body
                    route = routes.get(rid)
                    if route is None:
                        continue  # its reader left early; the request was cancelled
                    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                        try:
                            route.send_nowait(body)
                        except anyio.WouldBlock:
                            await route.send(body)
                            unyielded = 0
                    if is_final(body) and routes.get(rid) is route:
                        del routes[rid]
                        route.close()
        finally:
            for route in routes.values():
                route.close()
            routes.clear()
            self._finished.set()


@asynccontextmanager
async def open_brainstem(
    assets: AssetSource | None = None,
    *,
    engine_factory: Callable[[], Engine] = default_engine_factory,
    strategy: CortexStrategy | None = None,
    parallelism: int = 1,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_loaded: int = 1,
    fetch_assets: bool = False,
    buffer_size: int = 64,
) -> AsyncIterator[BrainstemClient]:
    """Run an :class:`Orchestrator` in a task group and hand back a client.

    ``assets`` defaults to facecrab's ``AssetAuthority()`` with its default
    directories, opened and closed here. Leaving the block shuts the brainstem
    down, cancelling what still runs; every engine is unloaded before it returns.
    """
    async with AsyncExitStack() as stack:
        if assets is None:
            from facecrab import AssetAuthority

            authority: AssetSource = await stack.enter_async_context(AssetAuthority())
        else:
            authority = assets
        orchestrator = Orchestrator(
            authority,
            engine_factory=engine_factory,
            strategy=strategy,
            parallelism=parallelism,
            max_queue=max_queue,
            max_loaded=max_loaded,
            fetch_assets=fetch_assets,
        )
        in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](buffer_size)
        out_send, out_receive = anyio.create_memory_object_stream[BrainstemOutput](buffer_size)
        for end in (in_send, in_receive, out_send, out_receive):
            stack.push_async_exit(end)  # closed even if a task never got to own it
        client = BrainstemClient(in_send, out_receive, buffer_size=buffer_size)
        raised: BaseException | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(orchestrator.run, in_receive, out_send)
                tg.start_soon(client._dispatch)
                try:
                    yield client
                except BaseException as exc:
                    raised = exc
                    raise
                await client.shutdown()
        except BaseExceptionGroup as group:
            # The caller's own exception comes back as itself, not wrapped by our task group.
            if raised is not None and list(group.exceptions) == [raised]:
                raise raised from None
            raise
