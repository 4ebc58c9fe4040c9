"""The remote engine's parallelism (from the server's slots) and its one retry of a request
that met a pooled connection the server had closed before answering.

The server is a few lines of HTTP/1.1 over a loopback socket, scripted per connection.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import pytest

from rusty_genius_core import (
    ChatMessage,
    Complete,
    ConfigError,
    Content,
    EngineError,
    InferenceConfig,
    LoadOptions,
)
from rusty_genius_cortex import RemoteEngine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from anyio.abc import SocketStream

MESSAGES = [ChatMessage(role="user", content="Why?")]
MODELS = json.dumps({"object": "list", "data": [{"id": "m"}]}).encode()
SSE = (
    b'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, '
    b'"delta": {"content": "because"}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
)


class Conn:
    """One accepted connection: read requests from it, answer or hang up."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def request(self) -> tuple[str, str] | None:
        """The next request's method and path (its body read and dropped); None at EOF."""
        while b"\r\n\r\n" not in self.buffer:
            try:
                self.buffer += await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return None
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            rest += await self.stream.receive()
        self.buffer = rest[length:]
        method, path, _ = lines[0].split(" ")
        return method, path

    async def answer(self, status: int, body: bytes, kind: str, *, keep: bool) -> None:
        connection = "keep-alive" if keep else "close"
        await self.stream.send(
            f"HTTP/1.1 {status} X\r\nconnection: {connection}\r\ncontent-type: {kind}\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )


@asynccontextmanager
async def serving(
    handler: Callable[[int, Conn, list[tuple[int, str, str]]], Awaitable[None]],
) -> AsyncIterator[tuple[str, list[tuple[int, str, str]]]]:
    """``handler(connection number, conn, log)``; the log has (connection, method, path)."""
    log: list[tuple[int, str, str]] = []
    count = 0

    async def handle(stream: SocketStream) -> None:
        nonlocal count
        count += 1
        async with stream:
            await handler(count, Conn(stream), log)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield f"http://127.0.0.1:{port}", log
        tg.cancel_scope.cancel()


async def hang_up_on_the_second_request(
    n: int, conn: Conn, log: list[tuple[int, str, str]]
) -> None:
    """Connection 1 answers its first request kept alive, then reads the next one and
    closes without a byte (an idle keep-alive the server timed out); later connections
    answer every request."""
    while (request := await conn.request()) is not None:
        log.append((n, *request))
        if n == 1 and len([e for e in log if e[0] == 1]) == 2:
            return  # hang up: no response at all
        if request[1] == "/v1/models":
            await conn.answer(200, MODELS, "application/json", keep=True)
        else:
            await conn.answer(200, SSE, "text/event-stream", keep=False)
            return


async def answer_text(engine: RemoteEngine) -> str:
    events = [e async for e in engine.infer(messages=MESSAGES, config=InferenceConfig.greedy())]
    assert isinstance(events[-1], Complete)
    return "".join(e.text for e in events if isinstance(e, Content))


async def test_a_request_on_a_pooled_connection_closed_unanswered_is_sent_again() -> None:
    async with serving(hang_up_on_the_second_request) as (url, log):
        engine = RemoteEngine(url, parallel=2)  # no /props question
        await engine.load("m", None, LoadOptions())
        try:
            assert await answer_text(engine) == "because"
        finally:
            await engine.unload()
    assert log == [
        (1, "GET", "/v1/models"),
        (1, "POST", "/v1/chat/completions"),  # the pooled connection: closed unanswered
        (2, "POST", "/v1/chat/completions"),  # sent once more, on a new one
    ]


async def test_the_retry_happens_once() -> None:
    async def never_answer_a_post(n: int, conn: Conn, log: list[tuple[int, str, str]]) -> None:
        while (request := await conn.request()) is not None:
            log.append((n, *request))
            if request[0] == "POST":
                return
            await conn.answer(200, MODELS, "application/json", keep=True)

    async with serving(never_answer_a_post) as (url, log):
        engine = RemoteEngine(url, parallel=2)
        await engine.load("m", None, LoadOptions())
        try:
            with pytest.raises(EngineError, match="without sending a response"):
                await answer_text(engine)
        finally:
            await engine.unload()
    assert [method for _, method, _ in log] == ["GET", "POST", "POST"]


def props(slots: object) -> Callable[[int, Conn, list[tuple[int, str, str]]], Awaitable[None]]:
    async def handler(n: int, conn: Conn, log: list[tuple[int, str, str]]) -> None:
        while (request := await conn.request()) is not None:
            log.append((n, *request))
            if request[1] == "/v1/models":
                await conn.answer(200, MODELS, "application/json", keep=True)
            elif request[1] == "/props" and slots is not None:
                body = json.dumps({"total_slots": slots}).encode()
                await conn.answer(200, body, "application/json", keep=True)
            else:
                await conn.answer(404, b"{}", "application/json", keep=True)

    return handler


@pytest.mark.parametrize(
    ("slots", "options", "configured", "expected", "asked"),
    [
        (6, LoadOptions(), None, 6, True),  # llama-server -np 6
        (None, LoadOptions(), None, 4, True),  # no /props (vLLM, OpenAI): four
        ("many", LoadOptions(), None, 4, True),  # nonsense is ignored
        (6, LoadOptions(), 3, 3, False),  # configured on the engine
        (6, LoadOptions(parallel=2), 3, 2, False),  # the load's options win
    ],
)
async def test_parallel_comes_from_the_options_the_engine_or_the_servers_slots(
    slots: object, options: LoadOptions, configured: int | None, expected: int, asked: bool
) -> None:
    async with serving(props(slots)) as (url, log):
        engine = RemoteEngine(url, parallel=configured)
        await engine.load("m", None, options)
        try:
            assert engine.parallel == expected
        finally:
            await engine.unload()
    assert (any(path == "/props" for _, _, path in log)) is asked


@pytest.mark.parametrize("bad", [0, 257, True, 2.0, "4"])
def test_a_bad_parallel_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError, match="parallel must be an integer"):
        RemoteEngine("http://127.0.0.1:1", parallel=bad)
