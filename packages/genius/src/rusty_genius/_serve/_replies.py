"""ASGI replies: JSON and error responses, and one exchange that stops when the client leaves.

Starlette's own streaming response only notices a vanished client when a write
fails, and a request that waits in the brainstem's queue, loads a model or
evaluates a long prompt writes nothing for a long time. :class:`Watched` runs
the work beside a task that reads the ASGI receive channel: ``http.disconnect``
cancels the work, and closing the :class:`~rusty_genius.InferenceStream` inside
it cancels the brainstem request, wherever it is.

The status line is sent as late as possible, when the first inference event
arrives: until then an error can still be answered with its proper status (503
busy, 404 unknown model; see :mod:`._errors`). After it, errors travel inside the
stream.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.responses import Response

from rusty_genius_core import ContextLengthError, background_tasks

from ._errors import Api, dumps, error_payload, exception_message, status_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import anyio
    from starlette.types import Receive, Scope, Send

__all__ = ["Reply", "Watched", "error_response", "json_response"]

log = logging.getLogger("rusty_genius.serve")


def json_response(data: object, status: int = 200) -> Response:
    return Response(dumps(data), status, media_type="application/json")


def error_response(
    api: Api,
    exc_or_status: BaseException | int,
    message: str | None = None,
    *,
    param: str | None = None,
    code: str | None = None,
    retry_after: int = 1,
) -> Response:
    """A JSON error response for an exception (or a bare status and message).

    An exception's status is its class's ``http_status``; a 503 carries ``Retry-After``.
    """
    if isinstance(exc_or_status, BaseException):
        status = status_of(exc_or_status)
        text, param = exception_message(exc_or_status)
        message = message or text
        if status == 404:
            code = code or "model_not_found"
        elif isinstance(exc_or_status, ContextLengthError):
            code = code or "context_length_exceeded"
            param = param or "messages"
    else:
        status = exc_or_status
    headers = {"Retry-After": str(retry_after)} if status == 503 else None
    body = error_payload(api, status, message or "error", param=param, code=code)
    return Response(dumps(body), status, headers, media_type="application/json")


class Reply:
    """The sending half of one exchange: one status line, then body chunks."""

    __slots__ = ("_send", "finished", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.finished = False

    async def start(
        self, status: int, media_type: str, headers: dict[str, str] | None = None
    ) -> None:
        raw = [(b"content-type", media_type.encode())]
        if media_type.startswith("text/event-stream"):
            raw.append((b"cache-control", b"no-cache"))
            raw.append((b"x-accel-buffering", b"no"))
        for key, value in (headers or {}).items():
            raw.append((key.lower().encode(), value.encode()))
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": raw})

    async def write(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self, data: bytes = b"") -> None:
        self.finished = True
        await self._send({"type": "http.response.body", "body": data, "more_body": False})

    async def json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
        await self.start(status, "application/json", headers)
        await self.finish(dumps(data))

    async def respond(self, response: Response) -> None:
        """Send a whole prepared response (only before :meth:`start`)."""
        await self.start(
            response.status_code,
            response.media_type or "application/json",
            {k: v for k, v in response.headers.items() if k not in ("content-type",)},
        )
        await self.finish(bytes(response.body))


class Watched(Response):
    """A response produced by ``produce(reply)``, cancelled when the client disconnects.

    ``api`` picks the shape of the 500 sent if ``produce`` fails unexpectedly before
    it started the response; after that the connection is just ended.
    ``on_disconnect`` is called once if the client left before the end.
    """

    def __init__(
        self,
        produce: Callable[[Reply], Awaitable[None]],
        api: Api,
        *,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(status_code=200)
        self._produce = produce
        self._api = api
        self._on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reply = Reply(send)
        left = False
        failure: Exception | None = None

        async def watch(work: anyio.CancelScope) -> None:
            nonlocal left
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    left = True
                    work.cancel()
                    return

        try:
            async with background_tasks() as tg:
                tg.start_soon(watch, tg.cancel_scope)
                await self._produce(reply)
        except Exception as exc:  # answered below, never raised into the server
            failure = exc
        if left:
            if not reply.finished and self._on_disconnect is not None:
                self._on_disconnect()
            return
        if failure is not None:
            log.error("request failed", exc_info=failure)
            if not reply.started:
                await reply.respond(error_response(self._api, 500, "internal server error"))
            elif not reply.finished:
                await reply.finish()
