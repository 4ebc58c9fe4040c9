"""``genius serve`` in-process on a loopback socket, with Pinky and a paced engine.

Clients are the official ``openai`` package and plain httpx reading NDJSON. Every async
test runs on asyncio and on trio (the server picks hypercorn's matching worker).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import time
import tracemalloc
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import openai
import pytest

from rusty_genius import FinishReason, InferenceConfig
from rusty_genius._serve._models_ollama import PullStatus
from rusty_genius.engines import PINKY_THOUGHT
from rusty_genius.server import GeniusApp, ServerAddress, create_app, open_server, parse_keep_alive
from rusty_genius_testhub import SMOLLM2_FAKE_QUANTS, TEST_MODELS
from rusty_genius_testhub.engines import NeedsWeights

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from anyio.abc import SocketStream

    from rusty_genius import Genius
    from rusty_genius_testhub import LoopbackHub

MODEL = "pinky-test"
NARF = PINKY_THOUGHT.split("\n")[1]
QUESTION = "What is the capital of France?"


class Served:
    """A running server: its app, its facade and clients for it."""

    def __init__(self, genius: Genius, app: GeniusApp, address: ServerAddress) -> None:
        self.genius = genius
        self.app = app
        self.url = address.url
        self.http = httpx.AsyncClient(base_url=self.url, timeout=60)

    def async_client(self, api_key: str = "unused", **options: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.url}/v1", api_key=api_key, max_retries=0, **options
        )

    async def streamed(self, call: Callable[[openai.OpenAI], Any]) -> list[Any]:
        """Run a streaming call with the sync client in a worker thread; all its chunks.

        (The async client stops reading at ``[DONE]`` and leaves its HTTP stack's async
        generators to the garbage collector, which trio reports as a warning.)
        """

        def work() -> list[Any]:
            with openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0) as c:
                return list(call(c))

        return await anyio.to_thread.run_sync(work)


@pytest.fixture
def serve(make_genius: Callable[..., Genius]) -> Callable[..., Any]:
    """``async with serve(**genius_options, app={...}) as served`` on an ephemeral port."""

    @asynccontextmanager
    async def start(app: dict[str, Any] | None = None, **options: Any) -> AsyncIterator[Served]:
        async with make_genius(**options) as genius:
            made = create_app(genius, **(app or {}))
            async with open_server(made, port=0) as address:
                served = Served(genius, made, address)
                async with served.http:
                    yield served

    return start


async def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) async for line in response.aiter_lines() if line]


# -- OpenAI ---------------------------------------------------------------------------------


async def test_openai_chat_whole_with_reasoning_and_usage(serve: Callable[..., Any]) -> None:
    async with serve() as served:
        expected = await served.genius.chat(
            MODEL, [{"role": "user", "content": QUESTION}], InferenceConfig.greedy()
        )
        async with served.async_client() as client:
            reply = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": QUESTION}],
                temperature=0,
            )
    [choice] = reply.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == QUESTION  # Pinky echoes
    assert choice.message.reasoning_content == NARF
    assert choice.finish_reason == "stop"
    assert reply.model == MODEL
    assert reply.id.startswith("chatcmpl-")
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == expected.usage.prompt_tokens
    assert reply.usage.completion_tokens == expected.usage.completion_tokens
    assert reply.usage.total_tokens == expected.usage.total_tokens > 0


async def test_openai_chat_streamed_ends_with_usage_and_done(serve: Callable[..., Any]) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
    async with serve() as served:
        expected = await served.genius.chat(MODEL, messages)
        chunks = await served.streamed(
            lambda client: client.chat.completions.create(
                model=MODEL,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_completion_tokens=500,
            )
        )
        raw = await served.http.post(
            "/v1/chat/completions",
            json={"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
        )
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (reasoning, content) == (NARF, QUESTION)
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert set(finishes[:-1]) == {None}
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []  # OpenAI's shape: a last chunk with usage only
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens == expected.usage.prompt_tokens
    assert usage_chunk.usage.completion_tokens == expected.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    # the wire format: SSE events, the last one [DONE]; no usage without include_usage
    assert raw.headers["content-type"].startswith("text/event-stream")
    events = [line for line in raw.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: {") for e in events[:-1])
    assert all("usage" not in json.loads(e[6:]) for e in events[:-1])


async def test_openai_completions_are_raw_and_stream_too(serve: Callable[..., Any]) -> None:
    async with serve() as served, served.async_client() as client:
        whole = await client.completions.create(
            model=MODEL, prompt="Once upon a time", max_tokens=50, seed=7, stop=["never"]
        )
        parts = await served.streamed(
            lambda c: c.completions.create(
                model=MODEL, prompt="Once upon a time", stream=True, extra_body={"top_k": 1}
            )
        )
    assert whole.object == "text_completion"
    assert whole.choices[0].text == "Once upon a time"
    assert whole.choices[0].reasoning_content == NARF
    assert whole.choices[0].finish_reason == "stop"
    assert "".join(p.choices[0].text for p in parts) == "Once upon a time"
    assert parts[-1].choices[0].finish_reason == "stop"


async def test_openai_max_tokens_and_stop_map_to_the_request(serve: Callable[..., Any]) -> None:
    async with serve() as served, served.async_client() as client:
        short = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one two three four"}], max_tokens=10
        )
        stopped = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "one two three four"}],
            stop="three",
        )
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None
    assert short.usage.completion_tokens == 10
    assert stopped.choices[0].message.content == "one two "
    assert stopped.choices[0].finish_reason == "stop"


async def test_models_are_listed_and_retrievable(serve: Callable[..., Any]) -> None:
    async with serve() as served, served.async_client() as client:
        assert [m.id async for m in client.models.list()] == []
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
        listed = [m async for m in client.models.list()]
        one = await client.models.retrieve("any-name-pinky-can-play")
    assert [(m.id, m.object, m.owned_by) for m in listed] == [(MODEL, "model", "rusty-genius")]
    assert one.id == "any-name-pinky-can-play"  # Pinky serves every name


# -- Ollama ---------------------------------------------------------------------------------


async def test_ollama_chat_streams_ndjson_with_thinking_and_timings(
    serve: Callable[..., Any],
) -> None:
    async with serve() as served:
        async with served.http.stream(
            "POST",
            "/api/chat",
            json={"model": MODEL, "messages": [{"role": "user", "content": QUESTION}]},
        ) as response:
            assert response.headers["content-type"] == "application/x-ndjson"
            lines = await ndjson(response)
        answer = await served.genius.chat(MODEL, [{"role": "user", "content": QUESTION}])
    assert all(line["model"] == MODEL for line in lines)
    assert all(line["created_at"].endswith("Z") for line in lines)
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    thinking = "".join(line["message"].get("thinking", "") for line in lines)
    content = "".join(line["message"]["content"] for line in lines)
    assert (thinking, content) == (NARF, QUESTION)
    final = lines[-1]
    assert final["done_reason"] == "stop"
    assert final["eval_count"] == answer.usage.completion_tokens
    assert final["prompt_eval_count"] == answer.usage.prompt_tokens
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[key], int)
        assert final[key] >= 0
    assert final["total_duration"] >= final["eval_duration"]
    assert final["total_duration"] < 60 * 10**9  # nanoseconds, not seconds or milliseconds


async def test_ollama_generate_whole_raw_system_and_think_false(serve: Callable[..., Any]) -> None:
    async with serve() as served:
        expected = await served.genius.chat(
            MODEL,
            [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hello there"}],
        )
        whole = await served.http.post(
            "/api/generate",
            json={"model": MODEL, "prompt": "Hello there", "stream": False, "system": "Be kind."},
        )
        hidden = await served.http.post(
            "/api/generate",
            json={
                "model": MODEL,
                "prompt": "Hello there",
                "stream": False,
                "think": False,
                "raw": True,
                "options": {"temperature": 0, "num_predict": -1, "seed": -1, "stop": ["zzz"]},
            },
        )
        streamed = await served.http.post(
            "/api/generate", json={"model": MODEL, "prompt": "a b c", "options": {"num_predict": 6}}
        )
    data = whole.json()
    assert whole.status_code == 200
    assert (data["response"], data["thinking"], data["done"]) == ("Hello there", NARF, True)
    assert data["prompt_eval_count"] == expected.usage.prompt_tokens  # the system message counts
    hidden_data = hidden.json()
    assert hidden_data["response"] == "Hello there"
    assert "thinking" not in hidden_data
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert lines[-1]["done_reason"] == "length"
    assert lines[-1]["eval_count"] == 6


async def test_keep_alive_follows_ollama(serve: Callable[..., Any]) -> None:
    async with serve() as served:
        body = {"model": MODEL, "prompt": "hi", "stream": False}
        await served.http.post("/api/generate", json={**body, "keep_alive": "10m"})
        [row] = (await served.http.get("/api/ps")).json()["models"]
        until = dt.datetime.fromisoformat(row["expires_at"]).timestamp() - time.time()
        assert 500 < until <= 600  # generous: ten minutes from the end of the request
        await served.http.post("/api/generate", json={**body, "keep_alive": -1})
        [row] = (await served.http.get("/api/ps")).json()["models"]
        assert dt.datetime.fromisoformat(row["expires_at"]).year > 2200  # forever
        await served.http.post("/api/generate", json={**body, "keep_alive": 0})
        assert (await served.http.get("/api/ps")).json() == {"models": []}
        # an empty prompt only loads; with keep_alive 0 it unloads
        loaded = await served.http.post("/api/generate", json={"model": MODEL})
        assert loaded.json()["done_reason"] == "load"
        assert [m["name"] for m in (await served.http.get("/api/ps")).json()["models"]] == [MODEL]
        unloaded = await served.http.post("/api/chat", json={"model": MODEL, "keep_alive": "0s"})
        assert unloaded.json()["done_reason"] == "unload"
        assert unloaded.json()["message"] == {"role": "assistant", "content": ""}
        assert (await served.http.get("/api/ps")).json() == {"models": []}
        # a load-only request carries its keep_alive to the model, as Ollama's does
        await served.http.post("/api/generate", json={"model": MODEL, "keep_alive": "1h"})
        [row] = (await served.http.get("/api/ps")).json()["models"]
        until = dt.datetime.fromisoformat(row["expires_at"]).timestamp() - time.time()
        assert 3000 < until <= 3600
        await served.http.post("/api/chat", json={"model": MODEL, "keep_alive": -1})
        [row] = (await served.http.get("/api/ps")).json()["models"]
        assert dt.datetime.fromisoformat(row["expires_at"]).year > 2200
        # seconds past any datetime (found by the schema test) read as forever, not a 500
        await served.http.post("/api/generate", json={"model": MODEL, "keep_alive": 1e17})
        [row] = (await served.http.get("/api/ps")).json()["models"]
        assert 2200 < dt.datetime.fromisoformat(row["expires_at"]).year < 2400


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        (None, None),
        (0, 0.0),
        (300, 300.0),
        (2.5, 2.5),
        (-1, -1.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("500ms", 0.5),
        ("0", 0.0),
        ("-1m", -1.0),
        ("-1", -1.0),
        ("42", 42.0),
    ],
)
def test_keep_alive_values(given: object, seconds: float | None) -> None:
    assert parse_keep_alive(given) == seconds


@pytest.mark.parametrize("given", ["", "5x", "m", "1h 30m", "soon", True, [], "1e400s"])
def test_bad_keep_alive_values_name_the_field(given: object) -> None:
    with pytest.raises(ValueError, match="'keep_alive' must be"):
        parse_keep_alive(given)


@pytest.mark.usefixtures("smollm2_repo")
async def test_tags_pull_delete_version_health(serve: Callable[..., Any], hub: LoopbackHub) -> None:
    reference = f"{TEST_MODELS['smollm2'].repo}:{SMOLLM2_FAKE_QUANTS[0]}"  # a small fake file
    async with serve(endpoint=hub.url) as served:
        assert (await served.http.get("/api/tags")).json() == {"models": []}
        async with served.http.stream("POST", "/api/pull", json={"model": reference}) as response:
            assert response.status_code == 200
            progress = await ndjson(response)
        again = await served.http.post("/api/pull", json={"name": reference, "stream": False})
        [tag] = (await served.http.get("/api/tags")).json()["models"]
        deleted = await served.http.request("DELETE", "/api/delete", json={"model": reference})
        missing = await served.http.request("DELETE", "/api/delete", json={"model": reference})
        version = (await served.http.get("/api/version")).json()
        health = (await served.http.get("/health")).json()
        root = await served.http.get("/")
    assert all(PullStatus.model_validate(p) for p in progress)  # the declared shape
    assert progress[0] == {"status": "pulling manifest"}
    assert progress[-2:] == [{"status": "verifying sha256 digest"}, {"status": "success"}]
    moving = [p for p in progress if "completed" in p]
    assert moving
    assert moving[-1]["completed"] == moving[-1]["total"] == 64 * 1024
    assert all(p["digest"].endswith(".gguf") for p in moving)
    assert again.json() == {"status": "success"}
    assert tag["name"] == reference
    assert tag["size"] == 64 * 1024
    assert len(tag["digest"]) == 64
    assert tag["details"]["quantization_level"] == SMOLLM2_FAKE_QUANTS[0]
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert missing.status_code == 404
    assert missing.json() == {"error": f"model '{reference}' not found"}
    assert version["version"]
    assert health["status"] == "ok"
    assert health["backend"] == "pinky"
    assert root.text == "rusty-genius is running"


# -- cancellation, overload, errors ---------------------------------------------------------


class RawClient:
    """An HTTP/1.1 request over a bare loopback socket, so a test can hang up at any byte."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.received = b""

    @classmethod
    async def post(cls, url: str, path: str, body: dict[str, Any]) -> RawClient:
        parts = httpx.URL(url)
        assert parts.port is not None
        stream = await anyio.connect_tcp(parts.host, parts.port)
        data = json.dumps(body).encode()
        head = f"POST {path} HTTP/1.1\r\nhost: {parts.host}\r\ncontent-type: application/json\r\n"
        await stream.send(head.encode() + f"content-length: {len(data)}\r\n\r\n".encode() + data)
        return cls(stream)

    async def read_until(self, marker: bytes) -> bytes:
        while marker not in self.received:
            self.received += await self.stream.receive()
        return self.received

    async def hang_up(self) -> None:
        await self.stream.aclose()


async def test_a_client_leaving_mid_stream_cancels_the_request(
    serve: Callable[..., Any], pacer: Any
) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "one two three four"}]}
    async with serve(engine_factory=pacer.factory()) as served:
        client = await RawClient.post(served.url, "/api/chat", body)
        await pacer.grant()
        seen = await client.read_until(b'"content":"one "')
        assert seen.startswith(b"HTTP/1.1 200")
        await client.hang_up()
        # the server notices at once, and the brainstem stops the engine at its next step
        await served.app.wait_for(lambda s: s.disconnected == 1)
        await pacer.grant()
        await pacer.wait(lambda: pacer.finished == [FinishReason.CANCELLED])
        # and the next request is served
        await pacer.grant(2)
        reply = await served.http.post(
            "/api/chat",
            json={**body, "messages": [{"role": "user", "content": "five six"}], "stream": False},
        )
        assert reply.json()["message"]["content"] == "five six "
        stats = served.app.statistics()
        assert (stats.waiting, stats.streaming, stats.served, stats.disconnected) == (0, 0, 1, 1)


async def test_leaving_before_the_first_token_or_while_queued_cancels_too(
    serve: Callable[..., Any], pacer: Any
) -> None:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "a b"}]}
    async with serve(engine_factory=pacer.factory()) as served:
        # A has started (status line and role chunk are out) but has no token yet
        first = await RawClient.post(served.url, "/v1/chat/completions", body)
        await first.read_until(b'"delta":{"role":"assistant","content":""}')
        # B waits behind A in the brainstem's queue, without a status line
        second = await RawClient.post(served.url, "/v1/chat/completions", body)
        await served.app.wait_for(lambda s: s.waiting == 1 and s.streaming == 1)
        await second.hang_up()
        await served.app.wait_for(lambda s: s.disconnected == 1 and s.waiting == 0)
        await first.hang_up()
        await served.app.wait_for(lambda s: s.disconnected == 2 and s.streaming == 0)
        await pacer.grant()
        await pacer.wait(lambda: pacer.finished == [FinishReason.CANCELLED])
        assert pacer.started == 1  # B never reached the engine
        await pacer.grant(2)
        reply = await served.http.post("/v1/chat/completions", json={**body, "stream": False})
        assert reply.json()["choices"][0]["message"]["content"] == "a b "
        assert pacer.started == 2
        assert second.received == b""  # B never got a status line


async def test_a_client_leaving_while_sending_its_body_is_no_error(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with serve() as served:
        parts = httpx.URL(served.url)
        assert parts.port is not None
        stream = await anyio.connect_tcp(parts.host, parts.port)
        head = f"POST /api/chat HTTP/1.1\r\nhost: {parts.host}\r\ncontent-length: 1000\r\n\r\n"
        await stream.send(head.encode() + b'{"model": "')
        await stream.aclose()
        reply = await served.http.post(
            "/api/chat",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False},
        )
    assert reply.json()["message"]["content"] == "hi"
    assert [r for r in caplog.records if r.name.startswith("rusty_genius")] == []


async def test_overload_answers_503_with_retry_after(serve: Callable[..., Any], pacer: Any) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    async with serve(engine_factory=pacer.factory(), max_queue=1, app={"retry_after": 3}) as served:
        replies: list[httpx.Response] = []
        async with anyio.create_task_group() as tg:

            async def post(path: str, data: dict[str, Any]) -> None:
                replies.append(await served.http.post(path, json=data))

            tg.start_soon(post, "/api/chat", {**body, "stream": False})
            await pacer.wait(lambda: pacer.started == 1)  # A runs
            tg.start_soon(post, "/api/chat", {**body, "stream": False})
            with anyio.fail_after(30):  # B waits behind A: the queue is full
                await served.app.wait_for(lambda s: s.waiting == 1 and s.streaming == 1)
            busy_openai = await served.http.post("/v1/chat/completions", json=body)
            busy_ollama = await served.http.post(
                "/api/generate", json={"model": MODEL, "prompt": "y"}
            )
            async with served.async_client() as client:
                with pytest.raises(openai.APIStatusError) as raised:
                    await client.chat.completions.create(**body)
            await pacer.grant(2)
        assert [r.status_code for r in replies] == [200, 200]
        assert served.app.statistics().refused == 3
    assert busy_openai.status_code == 503
    assert busy_openai.headers["retry-after"] == "3"
    error = busy_openai.json()["error"]
    assert error["type"] == "server_error"
    assert "max_queue=1" in error["message"]
    assert busy_ollama.status_code == 503
    assert busy_ollama.headers["retry-after"] == "3"
    assert "max_queue=1" in busy_ollama.json()["error"]
    assert raised.value.status_code == 503


BAD_OPENAI = [
    (b"{nope", None, "not valid JSON"),
    (b"[1, 2]", None, "must be a JSON object"),
    ({"messages": [{"role": "user", "content": "x"}]}, "model", "'model' is required"),
    ({"model": MODEL, "messages": []}, "messages", "must not be empty"),
    ({"model": MODEL}, "messages", "'messages' is required"),
    (
        {"model": MODEL, "messages": [{"role": "robot", "content": "x"}]},
        "messages[0].role",
        "robot",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": 5}]},
        "messages[0].content",
        "a string or an array",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        "messages[0].content",
        "only text parts",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 7},
        "temperature",
        "in [0, 5]",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "top_p": 0},
        "top_p",
        "in (0, 1]",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        "max_tokens",
        "an integer in [1",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "seed": -5},
        "seed",
        "an integer in [0",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stop": [""]},
        "stop",
        "non-empty string",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stop": ["s"] * 17},
        "stop",
        "at most 16",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "n": 2},
        "n",
        "'n' must be 1",
    ),
    (
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function"}],  # tools are supported; this one has no function
        },
        "tools[0].function",
        "is required",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
        "stream",
        "true or false",
    ),
    (
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "keep_alive": "soon"},
        "keep_alive",
        "a duration",
    ),
]


@pytest.mark.parametrize(("body", "param", "message"), BAD_OPENAI)
async def test_bad_openai_input_is_400_naming_the_field(
    serve: Callable[..., Any], body: object, param: str | None, message: str
) -> None:
    async with serve() as served:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        reply = await served.http.post("/v1/chat/completions", content=content)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert message in error["message"]


async def test_bad_input_through_the_openai_client_and_ollama(serve: Callable[..., Any]) -> None:
    async with serve(app={"max_body_bytes": 4096}) as served:
        async with served.async_client() as client:
            with pytest.raises(openai.BadRequestError) as raised:
                await client.completions.create(model=MODEL, prompt=["a", "b"])
        assert raised.value.body["param"] == "prompt"  # type: ignore[index]
        checks = [
            (
                "/api/chat",
                {"model": MODEL, "messages": [{"role": "user"}], "options": {"num_ctx": "big"}},
                "options.num_ctx",
            ),
            ("/api/chat", {"messages": [{"role": "user", "content": "x"}]}, "'model' is required"),
            ("/api/generate", {"model": MODEL, "prompt": "x", "think": "maybe"}, "'think' must be"),
            (  # "json" and a schema are supported since structured output arrived
                "/api/generate",
                {"model": MODEL, "prompt": "x", "format": "xml"},
                "'format' must be \"json\" or a JSON Schema",
            ),
            (
                "/api/generate",
                {"model": MODEL, "prompt": "x", "options": {"num_predict": 0}},
                "options.num_predict",
            ),
            (
                "/api/generate",
                {"model": MODEL, "prompt": "x", "options": {"top_k": -1}},
                "options.top_k",
            ),
            ("/api/generate", {"model": MODEL, "prompt": "x" * 5000}, "exceeds 4096 bytes"),
        ]
        for path, body, message in checks:
            reply = await served.http.post(path, json=body)
            assert reply.status_code == (413 if "exceeds" in message else 400), (path, body)
            assert message in reply.json()["error"], reply.json()
        wrong = await served.http.get("/api/chat")
        nowhere = await served.http.get("/v1/engines")
    assert wrong.status_code == 405
    assert "error" in wrong.json()
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["message"] == "no such endpoint: GET /v1/engines"


NAME_BYTES = 1 << 20


def _big_blocks(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes in live allocations of at least ``NAME_BYTES``: where a kept name would be."""
    return sum(trace.size for trace in snapshot.traces if trace.size >= NAME_BYTES)


async def test_distinct_unknown_model_names_leave_nothing_behind(
    serve: Callable[..., Any],
) -> None:
    """Issue 18, defect 2, over HTTP: 200 load-only requests, each for a distinct 1 MB model
    name that does not exist, leave at most one name's worth of memory behind."""
    async with serve(engine_factory=NeedsWeights) as served:

        async def load_only(i: int) -> None:  # Ollama's load-only request: no prompt
            name = f"{i:03d}-" + "x" * (NAME_BYTES - 4)
            body = {"model": name, "keep_alive": -1, "options": {"num_ctx": 256}}
            answer = await served.http.post("/api/generate", json=body)
            # No model has such a name (a name this long is not even a valid alias): a 4xx.
            assert answer.status_code in (400, 404), answer.text[:200]

        await load_only(0)  # first-use caches (hooks, pools) are not what this measures
        gc.collect()
        tracemalloc.start()
        try:
            before = _big_blocks(tracemalloc.take_snapshot())
            for i in range(1, 201):
                await load_only(i)
            gc.collect()
            after = _big_blocks(tracemalloc.take_snapshot())
        finally:
            tracemalloc.stop()
        assert after - before <= NAME_BYTES + 1024  # the last name may still be in a frame
        ps = await served.http.get("/api/ps")
        assert ps.status_code == 200
        assert ps.json()["models"] == []


async def test_an_unknown_model_is_404(serve: Callable[..., Any]) -> None:
    async with serve(engine_factory=NeedsWeights) as served:
        async with served.async_client() as client:
            with pytest.raises(openai.NotFoundError) as raised:
                await client.chat.completions.create(
                    model="no-such-model", messages=[{"role": "user", "content": "x"}], stream=True
                )
            with pytest.raises(openai.NotFoundError):
                await client.models.retrieve("no-such-model")
        ollama = await served.http.post(
            "/api/generate", json={"model": "no-such-model", "prompt": "x"}
        )
        pulled = await served.http.post("/api/pull", json={"model": "no-such-model"})
    assert raised.value.body["code"] == "model_not_found"  # type: ignore[index]
    assert "no-such-model" in raised.value.body["message"]  # type: ignore[index]
    assert ollama.status_code == 404
    assert "no-such-model" in ollama.json()["error"]
    assert pulled.status_code == 404


async def test_the_api_key_is_required_everywhere_but_health(serve: Callable[..., Any]) -> None:
    async with serve(app={"api_key": "s3cret"}) as served:
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        missing = await served.http.post("/v1/chat/completions", json=chat)
        wrong = await served.http.post(
            "/api/chat", json=chat, headers={"Authorization": "Bearer s3cre"}
        )
        tags = await served.http.get("/api/tags", headers={"Authorization": "Basic s3cret"})
        health = await served.http.get("/health")
        schema = await served.http.get("/openapi.json")
        right = await served.http.get("/api/tags", headers={"Authorization": "Bearer s3cret"})
        async with served.async_client(api_key="s3cret") as client:
            reply = await client.chat.completions.create(**chat)
        async with served.async_client(api_key="guess") as client:
            with pytest.raises(openai.AuthenticationError):
                await client.models.list()
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert wrong.status_code == 401
    assert "API key" in wrong.json()["error"]
    assert tags.status_code == 401
    assert (health.status_code, schema.status_code, right.status_code) == (200, 200, 200)
    assert reply.choices[0].message.content == "hi"
