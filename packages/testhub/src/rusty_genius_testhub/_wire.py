"""HTTP/1.1 framing for the loopback hub, done by h11 on an anyio socket stream.

h11 parses every request (head, body, pipelining, keep-alive) and serialises every
response head. Response bodies go out as h11 ``Data`` events with
``send_with_data_passthrough``, so each body piece is written to the socket as the very
bytes object the router handed over: a fault that flips bytes sends the flipped bytes,
and one that stops after N body bytes has written exactly N.

The faults that break a response need no raw writes: h11 frames a ``Content-Length``
body by counting ``Data`` events and only checks the total at ``EndOfMessage``, so a
cut or a stall is a prefix of the body h11 would have sent, and the cut itself is
:meth:`HttpConnection.drop` closing (or resetting) the socket with h11's state thrown
away unfinished. Nothing here writes bytes that h11 did not produce.

Behaviour that comes from h11 rather than from the hub: an HTTP/1.1 request without
``Host`` is answered 400, and an HTTP/1.0 client always gets ``Connection: close``.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

import anyio
import anyio.abc
import attrs
import h11

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["MAX_HEAD", "REASONS", "ConnectionDropped", "HttpConnection", "Request"]

MAX_HEAD: Final = 64 * 1024
"""Longest request head (request line and headers) before the hub answers 431."""

REASONS: Final = {
    200: "OK",
    206: "Partial Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class ConnectionDropped(Exception):
    """The connection ended without another response (a fault cut it)."""


@attrs.frozen(kw_only=True)
class Request:
    """One request's head, decoded: header names lowercased, the last of a repeat wins."""

    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool
    """Whether the connection may serve another request after this one (h11's rule)."""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.target.partition("?")[2])

    @classmethod
    def from_h11(cls, event: h11.Request) -> Request:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
        tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        return cls(
            method=event.method.decode("latin-1").upper(),
            target=event.target.decode("latin-1"),
            headers=headers,
            keep_alive=event.http_version >= b"1.1" and "close" not in tokens,
        )


class HttpConnection:
    """One client connection: read requests, write responses, or drop it mid-way."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self._stream = stream
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._eof = False

    async def next_request(self) -> Request | None:
        """The next request, its body read and discarded; ``None`` when the connection ends.

        A malformed request is answered 400 (431 for an oversized head) before ``None``;
        a client that leaves, even mid-request, gets nothing.
        """
        request: Request | None = None
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                if not self._eof:
                    await self._refuse(exc.error_status_hint)
                return None
            if event is h11.NEED_DATA:
                if self._head_too_long():
                    await self._refuse(431)
                    return None
                try:
                    data = await self._stream.receive()
                except anyio.EndOfStream:
                    data, self._eof = b"", True
                self._h11.receive_data(data)
            elif isinstance(event, h11.Request):
                request = Request.from_h11(event)
            elif isinstance(event, h11.EndOfMessage):
                return request
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None  # PAUSED: unreachable while each response ends its cycle
            # h11.Data: a request body, which no route reads

    async def send_head(self, status: int, headers: Mapping[str, str], *, keep_alive: bool) -> None:
        """The status line and ``headers``, then ``Connection`` from ``keep_alive``."""
        fields = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        fields.append((b"Connection", b"keep-alive" if keep_alive else b"close"))
        reason = REASONS.get(status, "Unknown").encode("latin-1")
        await self._write(h11.Response(status_code=status, headers=fields, reason=reason))

    async def send_body(self, data: bytes) -> None:
        """Body bytes, written as they are (h11 only counts them against Content-Length)."""
        if data:
            await self._write(h11.Data(data=data))

    async def end(self) -> None:
        await self._write(h11.EndOfMessage())

    def next_cycle(self) -> bool:
        """After :meth:`end`: ready for the next request (``True``), or must close."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False

    async def drop(self, *, abrupt: bool) -> None:
        """Close the socket where the response stands (``abrupt``: reset it) and end.

        The h11 state machine is abandoned mid-message: the client sees the bytes sent so
        far, then end-of-stream (or a reset), exactly as a broken server would send them.
        """
        if abrupt:
            raw = self._stream.extra(anyio.abc.SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self._stream.aclose()
        raise ConnectionDropped

    def _head_too_long(self) -> bool:
        """``MAX_HEAD`` bytes buffered and still no whole head (h11 alone would wait for
        more than ``MAX_HEAD`` and then accept a head that ends in the next read)."""
        if self._h11.their_state is not h11.IDLE:
            return False
        return len(self._h11.trailing_data[0]) >= MAX_HEAD

    async def _refuse(self, hint: int) -> None:
        status, message = (431, "headers too large") if hint == 431 else (400, "bad request")
        data = json.dumps({"error": message}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        await self.send_head(status, headers, keep_alive=False)
        await self.send_body(data)
        await self.end()

    async def _write(self, event: h11.Response | h11.Data | h11.EndOfMessage) -> None:
        for piece in self._h11.send_with_data_passthrough(event) or ():
            if piece:
                await self._stream.send(bytes(piece))
