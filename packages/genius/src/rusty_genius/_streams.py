"""The streams :class:`~rusty_genius.Genius` hands out: one operation's events, closable.

:class:`InferenceStream` submits an ``Infer`` when iteration starts and ends with
``Complete``; an ``ErrorReport`` is raised as the exception it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Generic, TypeAlias, TypeVar

from anyio.abc import AsyncResource

from rusty_genius_core import (
    AssetComplete,
    AssetEvent,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    Complete,
    Content,
    ErrorReport,
    GeniusError,
    Infer,
    InferenceEvent,
    ProcessStart,
    ProtocolError,
    Thought,
    ToolCallDelta,
)

from ._answer import Answer, AnswerBuilder
from ._errors import error_from_report

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from rusty_genius_stem import BrainstemClient

    from ._genius import Genius

__all__ = ["EventStream", "InferenceStream", "RequestEvent"]

RequestEvent: TypeAlias = InferenceEvent | AssetEvent
"""What one inference request streams: asset events of a load it waited for, then inference."""

_EVENT_TYPES: Final = (
    ProcessStart, Thought, Content, ToolCallDelta, Complete,
    AssetStarted, AssetProgress, AssetComplete, AssetFailed,
)  # fmt: skip

E = TypeVar("E")


class EventStream(AsyncResource, Generic[E]):
    """An async iterator over one operation's events that can be closed early.

    Iterate it with ``async for``; leave early with :meth:`aclose` or by using it as
    ``async with``, as any :class:`anyio.abc.AsyncResource` (closing it stops the
    operation). A stream that is dropped without being closed is closed by the event
    loop's async-generator finalizer.
    """

    def __init__(self, events: AsyncGenerator[E, None]) -> None:
        self._events = events

    def __aiter__(self) -> EventStream[E]:
        return self

    async def __anext__(self) -> E:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop the operation if it still runs; idempotent."""
        await self._events.aclose()


class InferenceStream(EventStream[RequestEvent]):
    """The events of one inference request, ending with :class:`Complete`.

    The request is submitted when iteration starts. Closing the stream before
    ``Complete`` cancels the request; :meth:`cancel` stops it too but keeps the
    stream, which then ends with ``Complete(finish_reason="cancelled")``. An
    ``ErrorReport`` is raised as the exception it names (see ``error_from_report``).
    """

    def __init__(
        self,
        genius: Genius,
        client: BrainstemClient,
        command: Infer,
        prepare: Callable[[Infer], Awaitable[Infer]] | None = None,
    ) -> None:
        self.command: Final = command
        self.request_id: Final = client.new_request_id()
        self._genius = genius
        super().__init__(_request_events(client, command, self.request_id, prepare))

    async def __aenter__(self) -> InferenceStream:
        return self

    async def cancel(self) -> str:
        """Ask the brainstem to stop this request; returns its acknowledgement."""
        return await self._genius.cancel(self.request_id)

    async def answer(self) -> Answer:
        """Read the rest of the stream into an :class:`Answer`."""
        builder = AnswerBuilder(self.command.model)
        async with self:
            async for event in self:
                if not isinstance(
                    event, AssetStarted | AssetProgress | AssetComplete | AssetFailed
                ):
                    builder.feed(event)
        return builder.build()


async def _request_events(
    client: BrainstemClient,
    command: Infer,
    request_id: str,
    prepare: Callable[[Infer], Awaitable[Infer]] | None = None,
) -> AsyncGenerator[RequestEvent, None]:
    """The request's events; ``prepare`` (a created model's settings) runs first."""
    finished = False
    if prepare is not None:
        command = await prepare(command)
    async with client.stream(command, request_id=request_id) as bodies:
        async for body in bodies:
            if isinstance(body, ErrorReport):
                raise error_from_report(body)
            if not isinstance(body, _EVENT_TYPES):
                raise ProtocolError(f"request {request_id!r} got an unexpected {body!r}")
            finished = isinstance(body, Complete)
            yield body
    if not finished:
        raise GeniusError(f"the brainstem stopped before request {request_id!r} completed")
