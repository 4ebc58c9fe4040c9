"""A running brainstem in a context manager, and a client that routes answers by request id."""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import TYPE_CHECKING, Unpack

import anyio
import anyio.lowlevel
from anyio.abc import ObjectReceiveStream

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
    loop_checkpoint,
)

from ._orchestrator import Orchestrator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._assets import AssetSource
    from ._config import BrainstemConfig, BrainstemSettings

__all__ = ["BrainstemClient", "open_brainstem"]


class _Answers(ObjectReceiveStream[OutputBody]):
    """One request's bodies: the brainstem puts them in, the caller of ``stream()`` reads.

    Like an anyio memory object stream of ``size`` items (``receive`` is a checkpoint,
    a cancelled ``receive`` loses nothing, the end comes after the last buffered
    body), with one difference: a sender that found it full waits until the reader
    has taken it down to half (a low-water mark, as asyncio's transports have), not
    until one item is taken. A producer faster than its reader then runs in bursts
    of ``size // 2`` instead of waking once per item. A ``size`` below 1 holds one body
    (a zero-size memory stream hands each item over; here a body always waits in the buffer).
    """

    def __init__(self, size: int) -> None:
        self._checkpoint = loop_checkpoint()  # made in the reader's loop, read once per body
        self._items: deque[OutputBody] = deque()
        self._size = max(1, size)
        self._low = self._size // 2
        self._readable: anyio.Event | None = None  # a reader waits for an item or the end
        self._room: anyio.Event | None = None  # a sender waits for the low-water mark
        self._ended = False  # nothing more will be put in
        self._closed = False  # the reader closed its end

    # -- the brainstem's side (through _Router) -------------------------------------------

    def put_nowait(self, body: OutputBody) -> bool:
        """Put ``body`` in unless full (False). Once the reader left or the stream ended
        (its final body is in), drop it: nothing follows the final body."""
        if self._closed or self._ended:
            return True
        if len(self._items) >= self._size:
            return False
        self._items.append(body)
        readable = self._readable
        if readable is not None:
            self._readable = None
            readable.set()
        return True

    async def put(self, body: OutputBody) -> None:
        """Put ``body`` in, waiting while the stream is full until it is half empty."""
        while not self.put_nowait(body):
            if self._room is None:
                self._room = anyio.Event()
            await self._room.wait()

    def end(self) -> None:
        """No more bodies: the reader gets the rest, then the end of the stream."""
        self._ended = True
        self._wake_reader()

    # -- the reader's side ----------------------------------------------------------------

    def receive_nowait(self) -> OutputBody:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._items:
            body = self._items.popleft()
            if self._room is not None and len(self._items) <= self._low:
                self._wake_sender()
            return body
        if self._ended:
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    async def receive(self) -> OutputBody:
        await self._checkpoint()
        while True:
            try:
                return self.receive_nowait()
            except anyio.WouldBlock:
                pass
            if self._readable is None:
                self._readable = anyio.Event()
            await self._readable.wait()

    def close(self) -> None:
        """The reader leaves: what is buffered and what comes later is dropped."""
        if not self._closed:
            self._closed = True
            self._items.clear()
            self._wake_sender()
            self._wake_reader()

    async def aclose(self) -> None:
        self.close()

    def _wake_sender(self) -> None:
        room, self._room = self._room, None
        if room is not None:
            room.set()

    def _wake_reader(self) -> None:
        readable, self._readable = self._readable, None
        if readable is not None:
            readable.set()


class _Router:
    """The brainstem's output end in :func:`open_brainstem`: each output goes straight
    into the stream of the request it answers, in the sending task.

    A separate dispatcher task reading one shared output stream would wake once per
    output and make every output cross one more task. Here the brainstem's own
    ``send_nowait``/``send`` (see ``_Session._send``) deliver: a full request stream
    makes that request's sender wait (backpressure, nothing dropped, order kept),
    and a reader that stalls holds back only the tasks that send to it.
    """

    __slots__ = ("_closed", "finished", "routes")

    def __init__(self) -> None:
        self.routes: dict[str, _Answers] = {}
        self.finished = anyio.Event()
        self._closed = False

    def send_nowait(self, output: BrainstemOutput) -> None:
        """Deliver ``output`` if its request's stream has room; ``WouldBlock`` if not."""
        if self._closed:
            raise anyio.ClosedResourceError
        route = self.routes.get(output.request_id)
        if route is None:
            return  # its reader left early; the request was cancelled
        body = output.body
        if not route.put_nowait(body):
            raise anyio.WouldBlock
        if is_final(body):
            self._end(output.request_id, route)

    async def send(self, output: BrainstemOutput) -> None:
        """Deliver ``output``, waiting while its request's stream is full."""
        if self._closed:
            raise anyio.ClosedResourceError
        route = self.routes.get(output.request_id)
        if route is None:
            await anyio.lowlevel.checkpoint()
            return
        body = output.body
        await route.put(body)
        if is_final(body):
            self._end(output.request_id, route)

    def _end(self, rid: str, route: _Answers) -> None:
        if self.routes.get(rid) is route:
            del self.routes[rid]
        route.end()

    def close(self) -> None:
        """The brainstem stopped: end every request's stream (idempotent)."""
        if not self._closed:
            self._closed = True
            for route in self.routes.values():
                route.end()
            self.routes.clear()
            self.finished.set()


class BrainstemClient:
    """Send commands to a running brainstem; each caller reads only its own answers.

    Many tasks may use one client at once. The brainstem puts each answer straight
    into the stream of the request it answers (made by :meth:`stream`), waiting
    while that stream is full: a request whose reader stalls waits for it rather
    than losing events. Made by :func:`open_brainstem`.
    """

    def __init__(
        self, inputs: MemoryObjectSendStream[BrainstemInput], *, buffer_size: int = 64
    ) -> None:
        self._inputs = inputs
        self._buffer_size = buffer_size
        self._router = _Router()
        self._routes = self._router.routes
        self._prefix = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._finished = self._router.finished

    def new_request_id(self) -> str:
        """A request id no other request of this client uses."""
        return f"{self._prefix}-{next(self._counter)}"

    @asynccontextmanager
    async def stream(
        self, command: Command, *, request_id: str | None = None
    ) -> AsyncIterator[ObjectReceiveStream[OutputBody]]:
        """Submit ``command``; yield a stream of its bodies that ends after the final one.

        Leaving the block before the final body cancels the request (best effort).
        """
        rid = self.new_request_id() if request_id is None else request_id
        if rid in self._routes:
            raise ProtocolError(f"request id {rid!r} is already in use by this client")
        answers = _Answers(self._buffer_size)
        self._routes[rid] = answers
        try:
            async with answers:
                await self._inputs.send(BrainstemInput(request_id=rid, command=command))
                yield answers
        finally:
            # Still routed: it left before the final body, so the request is stopped.
            if self._routes.pop(rid, None) is not None and isinstance(command, Infer | LoadModel):
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await self._send_quietly(
                        BrainstemInput(request_id=self.new_request_id(), command=Cancel(target=rid))
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
            answers = _Answers(1)
            self._routes[rid] = answers
            async with answers:
                await self._send_quietly(
                    BrainstemInput(request_id=rid, command=Shutdown(drain=drain))
                )
                await self._finished.wait()
        self._inputs.close()

    async def _send_quietly(self, message: BrainstemInput) -> None:
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._inputs.send(message)  # fails only once the brainstem has stopped


@asynccontextmanager
async def open_brainstem(
    assets: AssetSource | None = None,
    config: BrainstemConfig | None = None,
    *,
    buffer_size: int = 64,
    **settings: Unpack[BrainstemSettings],
) -> AsyncIterator[BrainstemClient]:
    """Run an :class:`Orchestrator` in a task group and hand back a client.

    ``assets`` defaults to facecrab's ``AssetAuthority()`` with its default
    directories, opened and closed here. ``config`` (a :class:`BrainstemConfig`) configures
    the :class:`Orchestrator`; its fields may also be given as keywords, applied over it
    (``open_brainstem(assets, max_memory=...)``). Leaving the block shuts the
    brainstem down, cancelling what still runs; every engine is unloaded before it returns,
    except those abandoned for not stopping (logged, never waited for).
    """
    async with AsyncExitStack() as stack:
        if assets is None:
            from facecrab import AssetAuthority

            authority: AssetSource = await stack.enter_async_context(AssetAuthority())
        else:
            authority = assets
        orchestrator = Orchestrator(authority, config, **settings)
        in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](buffer_size)
        for end in (in_send, in_receive):
            stack.push_async_exit(end)  # closed even if a task never got to own it
        client = BrainstemClient(in_send, buffer_size=buffer_size)
        raised: BaseException | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_serve, orchestrator, in_receive, client._router)
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


async def _serve(
    orchestrator: Orchestrator,
    inputs: MemoryObjectReceiveStream[BrainstemInput],
    router: _Router,
) -> None:
    """:meth:`Orchestrator.run`, answering through ``router`` instead of an output stream."""
    try:
        async with inputs:
            await orchestrator._serve(inputs, router)
    finally:
        router.close()
