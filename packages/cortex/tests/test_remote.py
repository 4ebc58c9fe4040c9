"""The remote engine against a scripted OpenAI-style server on a loopback socket.

The server here is a few lines of HTTP/1.1 over ``anyio.create_tcp_listener``: each
test scripts exactly which bytes go out and when, and sees when the client hangs
up. (The engine against a real ``genius serve`` is tested in the genius package.)
Every async test runs on asyncio and on trio.
"""

from __future__ import annotations

import json
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import hypothesis.strategies as st
import pytest
from hypothesis import given

from rusty_genius_core import (
    BusyError,
    ChatMessage,
    Complete,
    ConfigError,
    Content,
    EngineError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ProcessStart,
    Role,
    Sampling,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
    Tool,
    ToolChoice,
)
from rusty_genius_cortex import Engine, RemoteEngine, StopSignal, create_engine
from rusty_genius_cortex._sse import SSEDecoder

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from anyio.abc import SocketStream

MESSAGES = [ChatMessage(role=Role.USER, content="Why?")]


# -- a scripted server ----------------------------------------------------------------------


class Exchange:
    """One request the server received, and what it answers."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.hung_up = anyio.Event()

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Script = "Callable[[Exchange, SocketStream], Any]"


class Server:
    """Answers ``GET /v1/models`` with ``models``; every POST with ``script``."""

    def __init__(self) -> None:
        self.models: list[str] = ["remote-model"]
        self.exchanges: list[Exchange] = []
        self.script: Callable[[Exchange, SocketStream], Any] = sse(["[DONE]"])
        self.url = ""
        self.arrived = anyio.Event()

    async def handle(self, stream: SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                try:
                    head += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
            head, _, body = head.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ")
            headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                body += await stream.receive()
            exchange = Exchange(method, path, headers, body)
            self.exchanges.append(exchange)
            self.arrived.set()
            async with anyio.create_task_group() as tg:

                async def watch() -> None:  # until the client closes the connection
                    try:
                        while await stream.receive():
                            pass
                    except (
                        anyio.EndOfStream,
                        anyio.BrokenResourceError,
                        anyio.ClosedResourceError,
                    ):
                        pass
                    exchange.hung_up.set()
                    tg.cancel_scope.cancel()  # a script still waiting has nobody to talk to

                tg.start_soon(watch)
                await self.answer(exchange, stream)

    async def answer(self, exchange: Exchange, stream: SocketStream) -> None:
        if exchange.method == "GET" and exchange.path == "/v1/models":
            data = {"object": "list", "data": [{"id": m} for m in self.models]}
            await respond(stream, 200, json.dumps(data).encode())
        elif exchange.method == "GET":
            await respond(stream, 404, b'{"error": {"message": "no such model"}}')
        else:
            await self.script(exchange, stream)


async def respond(
    stream: SocketStream, status: int, body: bytes, kind: str = "application/json"
) -> None:
    await stream.send(
        f"HTTP/1.1 {status} X\r\nconnection: close\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body
    )


def sse(
    payloads: Sequence[object], *, split: int | None = None
) -> Callable[[Exchange, SocketStream], Any]:
    """A script sending ``payloads`` as SSE events (dicts as JSON), optionally in ``split``-byte pieces."""

    async def script(exchange: Exchange, stream: SocketStream) -> None:
        body = b"".join(
            b"data: " + (p if isinstance(p, str) else json.dumps(p)).encode() + b"\n\n"
            for p in payloads
        )
        await stream.send(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/event-stream\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
        )
        step = split or len(body) or 1
        for at in range(0, len(body), step):
            await stream.send(body[at : at + step])

    return script


@asynccontextmanager
async def serving() -> AsyncIterator[Server]:
    server = Server()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server.url = f"http://127.0.0.1:{port}"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, server.handle)
        yield server
        tg.cancel_scope.cancel()


def chunk(
    *, content: str | None = None, reasoning: str | None = None, finish: str | None = None
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE = {
    "object": "chat.completion.chunk",
    "choices": [],
    "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
}


async def loaded(server: Server, **options: Any) -> RemoteEngine:
    engine = RemoteEngine(server.url, **options)
    await engine.load("remote-model", None, LoadOptions())
    return engine


async def run(engine: RemoteEngine, **kwargs: Any) -> list[InferenceEvent]:
    kwargs.setdefault("messages", MESSAGES)
    kwargs.setdefault("config", InferenceConfig.greedy())
    async with aclosing(engine.infer(**kwargs)) as events:
        return [event async for event in events]


# -- the SSE decoder ------------------------------------------------------------------------

STREAM = (
    b": a comment\r\n"
    b"event: message\r\n"
    b'data: {"a": 1}\r\n\r\n'
    b"data: line one\n"
    b"data:line two\n\n"
    b"id: 3\rdata: caf\xc3\xa9 \xe2\x9c\x93\r\r"
    b"data: [DONE]\n\n"
)
EXPECTED = ['{"a": 1}', "line one\nline two", "café ✓", "[DONE]"]


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_sse_events_do_not_depend_on_how_the_bytes_are_cut(cuts: list[int]) -> None:
    decoder = SSEDecoder()
    out: list[str] = []
    at = 0
    for cut in sorted(cuts):
        out.extend(decoder.feed(STREAM[at:cut]))
        at = cut
    out.extend(decoder.feed(STREAM[at:]))
    out.extend(decoder.close())
    assert out == EXPECTED


def test_sse_last_event_without_blank_line_and_oversized_lines() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert decoder.close() == ["tail"]
    small = SSEDecoder(max_event_bytes=16)
    with pytest.raises(EngineError, match="exceeds 16 bytes"):
        small.feed(b"data: " + b"x" * 32)


# -- the engine -----------------------------------------------------------------------------


async def test_reasoning_and_content_deltas_become_the_local_events() -> None:
    async with serving() as server:
        server.script = sse(
            [
                {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
                chunk(reasoning="Let me"),
                chunk(reasoning=" think."),
                chunk(content="Because"),
                chunk(content=" it is."),
                chunk(finish="length"),
                USAGE,
                "[DONE]",
            ],
            split=7,  # the events arrive cut anywhere
        )
        engine = await loaded(server)
        assert isinstance(engine, Engine)
        assert (engine.backend, engine.needs_weights, engine.is_loaded) == ("remote", False, True)
        events = await run(engine)
        await engine.unload()
    assert events[0] == ProcessStart(model="remote-model", cold=True)
    assert events[1:-1] == [
        Thought(event=ThoughtStart()),
        Thought(event=ThoughtDelta(text="Let me")),
        Thought(event=ThoughtDelta(text=" think.")),
        Thought(event=ThoughtStop()),
        Content(text="Because"),
        Content(text=" it is."),
    ]
    final = events[-1]
    assert isinstance(final, Complete)
    usage = final.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 5)  # the server's counts
    assert usage.finish_reason is FinishReason.LENGTH
    assert usage.time_to_first_token is not None
    request = server.exchanges[-1]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    body = request.json
    assert body["model"] == "remote-model"
    assert body["messages"] == [{"role": "user", "content": "Why?"}]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_k"]) == (0.0, 1)
    assert "seed" not in body
    assert "stop" not in body


async def test_think_tags_in_content_are_split_and_can_be_hidden() -> None:
    async with serving() as server:
        server.script = sse(
            [
                chunk(content="<th"),
                chunk(content="ink>\nHmm\n</think>\n\n"),
                chunk(content="Yes"),
                chunk(finish="stop"),
                "[DONE]",
            ]
        )
        engine = await loaded(server)
        shown = await run(engine)
        hidden = await run(engine, config=InferenceConfig.greedy(show_thinking=False))
    assert shown[1:-1] == [
        Thought(event=ThoughtStart()),
        Thought(event=ThoughtDelta(text="Hmm")),
        Thought(event=ThoughtStop()),
        Content(text="Yes"),
    ]
    assert shown[0] == ProcessStart(model="remote-model", cold=True)
    assert hidden[0] == ProcessStart(model="remote-model", cold=False)
    assert hidden[1:-1] == [Content(text="Yes")]
    assert server.exchanges[-1].json["include_reasoning"] is False
    # no usage from the server: counts fall back to what arrived here
    last = hidden[-1]
    assert isinstance(last, Complete)
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (0, 3)  # text chunks


async def test_raw_prompts_go_to_completions_with_every_setting_and_the_key() -> None:
    async with serving() as server:
        server.script = sse(
            [
                {"choices": [{"index": 0, "text": "four", "finish_reason": None}]},
                {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]},
                "[DONE]",
            ]
        )
        server.models = ["served-name"]
        engine = await loaded(server, api_key="s3cret", model="served-name")
        config = InferenceConfig(
            raw=True,
            stop=["\n", "END"],
            seed=42,
            max_tokens=9,
            sampling=Sampling(temperature=0.5, top_p=0.9, top_k=7, min_p=0.1, repeat_penalty=1.3),
        )
        events = await run(engine, prompt="2+2=", messages=None, config=config)
        await run(engine, prompt="plain", messages=None)
    assert [e for e in events if isinstance(e, Content)] == [Content(text="four")]
    assert engine.remote_model == "served-name"
    completion, chat_request = server.exchanges[-2], server.exchanges[-1]
    assert completion.path == "/v1/completions"
    assert completion.headers["authorization"] == "Bearer s3cret"
    assert completion.json == {
        "model": "served-name",
        "prompt": "2+2=",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 7,
        "min_p": 0.1,
        "max_tokens": 9,
        "repeat_penalty": 1.3,
        "repetition_penalty": 1.3,
        "seed": 42,
        "stop": ["\n", "END"],
    }
    # a plain prompt without raw is one user message to the chat endpoint
    assert chat_request.path == "/v1/chat/completions"
    assert chat_request.json["messages"] == [{"role": "user", "content": "plain"}]
    assert repr(engine).count("s3cret") == 0


@pytest.mark.parametrize("parallel", [True, False])
async def test_tool_choice_and_parallel_tool_calls_go_upstream(parallel: bool) -> None:
    tool = Tool(name="add", parameters={"type": "object", "properties": {}})
    async with serving() as server:
        server.script = sse(
            [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, "[DONE]"]
        )
        engine = await loaded(server)
        await run(engine, tools=[tool], tool_choice=ToolChoice.named("add", parallel=parallel))
    body = server.exchanges[-1].json
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    # OpenAI's default is parallel calls: the field is sent only to turn them off.
    assert body.get("parallel_tool_calls", "absent") == ("absent" if parallel else False)


async def test_load_checks_the_server_and_the_model() -> None:
    async with serving() as server:
        engine = RemoteEngine(server.url + "/v1/")  # the OpenAI base URL form works too
        assert engine.base_url == server.url
        with pytest.raises(
            EngineError, match=r"does not serve model 'other'; it lists: remote-model"
        ):
            await engine.load("other", None, LoadOptions())
        assert not engine.is_loaded
        assert [(e.method, e.path) for e in server.exchanges] == [
            ("GET", "/v1/models"),
            ("GET", "/v1/models/other"),  # asked once more, by name
        ]
        assert await engine.load("remote-model", None, LoadOptions()) >= 0
        assert engine.model_name == "remote-model"
        await engine.unload()
        await engine.unload()  # idempotent
        assert not engine.is_loaded
        with pytest.raises(EngineError, match="no model loaded"):
            await run(engine)
    with pytest.raises(EngineError, match="cannot reach"):
        await RemoteEngine(server.url).load("remote-model", None, LoadOptions())


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, BusyError), (429, BusyError), (400, ConfigError), (500, EngineError)],
)
async def test_error_statuses_map_to_core_errors(status: int, error: type[Exception]) -> None:
    async def refuse(exchange: Exchange, stream: SocketStream) -> None:
        await respond(stream, status, b'{"error": {"message": "nope, says the server"}}')

    async with serving() as server:
        server.script = refuse
        engine = await loaded(server)
        with pytest.raises(error, match=f"answered {status}: nope, says the server"):
            await run(engine)


async def test_an_error_event_mid_stream_and_a_wrong_content_type_are_engine_errors() -> None:
    async with serving() as server:
        server.script = sse([chunk(content="partial"), {"error": {"message": "model crashed"}}])
        engine = await loaded(server)
        seen: list[InferenceEvent] = []

        async def collect() -> None:
            async with aclosing(
                engine.infer(messages=MESSAGES, config=InferenceConfig())
            ) as events:
                async for event in events:
                    seen.append(event)

        with pytest.raises(EngineError, match="mid-stream: model crashed"):
            await collect()
        assert seen[1:] == [Content(text="partial")]

        async def html(exchange: Exchange, stream: SocketStream) -> None:
            await respond(stream, 200, b"<html></html>", "text/html")

        server.script = html
        with pytest.raises(EngineError, match="text/html, not an event stream"):
            await run(engine)


def stall_then(after: anyio.Event) -> Callable[[Exchange, SocketStream], Any]:
    """A script that sends headers and one chunk, then nothing until ``after`` is set."""

    async def script(exchange: Exchange, stream: SocketStream) -> None:
        await stream.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        await stream.send(b"data: " + json.dumps(chunk(content="first")).encode() + b"\n\n")
        await after.wait()

    return script


async def test_the_stop_signal_closes_a_stalled_stream() -> None:
    never = anyio.Event()
    async with serving() as server:
        server.script = stall_then(never)
        engine = await loaded(server, poll_interval=0.01)
        stop = StopSignal()
        seen: list[InferenceEvent] = []
        async with aclosing(
            engine.infer(messages=MESSAGES, config=InferenceConfig(), stop=stop)
        ) as events:
            async for event in events:
                seen.append(event)
                if event == Content(text="first"):
                    stop.set()  # the server says nothing more: only the stop can end the wait
        exchange = server.exchanges[-1]
        with anyio.fail_after(10):
            await exchange.hung_up.wait()  # the HTTP connection was closed
    last = seen[-1]
    assert isinstance(last, Complete)
    assert last.usage.finish_reason is FinishReason.CANCELLED
    assert seen[1:-1] == [Content(text="first")]


async def test_stop_before_the_server_answers_and_a_consumer_leaving_early() -> None:
    never = anyio.Event()

    async def silent(exchange: Exchange, stream: SocketStream) -> None:
        await never.wait()  # queued on the server: not even a status line

    async with serving() as server:
        server.script = silent
        engine = await loaded(server, poll_interval=0.01)
        stop = StopSignal()
        server.arrived = anyio.Event()  # the load's model check has arrived already
        result: list[list[InferenceEvent]] = []
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                result.append(await run(engine, stop=stop))

            tg.start_soon(consume)
            await server.arrived.wait()  # the POST is in; the server will never answer
            stop.set()
        with anyio.fail_after(10):
            await server.exchanges[-1].hung_up.wait()
        [events] = result
        assert events[0] == ProcessStart(model="remote-model", cold=True)
        last = events[-1]
        assert isinstance(last, Complete)
        assert last.usage.finish_reason is FinishReason.CANCELLED

        server.script = stall_then(never)
        async with aclosing(engine.infer(messages=MESSAGES, config=InferenceConfig())) as events_:
            async for event in events_:
                if isinstance(event, Content):
                    break  # leaving early closes the iterator, and with it the response
        with anyio.fail_after(10):
            await server.exchanges[-1].hung_up.wait()


def test_create_engine_makes_remote_engines_and_checks_options() -> None:
    engine = create_engine("remote", base_url="http://127.0.0.1:1/v1", api_key="k")
    assert isinstance(engine, RemoteEngine)
    assert engine.base_url == "http://127.0.0.1:1"
    with pytest.raises(ConfigError, match="base_url must be an http"):
        RemoteEngine("ftp://example.org")
    with pytest.raises(ConfigError, match="needs base_url"):
        create_engine("remote")
    with pytest.raises(ConfigError, match="poll_interval"):
        RemoteEngine("http://127.0.0.1:1", poll_interval=0)
