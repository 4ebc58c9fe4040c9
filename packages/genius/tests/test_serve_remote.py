"""cortex's remote engine against ``genius serve``: in-process, and as a second process.

For the same greedy request the remote engine's events equal those of the engine
the server runs (Pinky here; llama.cpp in ``test_serve_real.py``), apart from
timings. A brainstem whose engine is remote cancels the upstream request when its
own request is cancelled.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius import (
    BusyError,
    ChatMessage,
    Complete,
    Content,
    EngineError,
    FinishReason,
    InferenceConfig,
    LoadOptions,
    Role,
)
from rusty_genius.engines import PinkyEngine, RemoteEngine
from rusty_genius.server import create_app, open_server
from rusty_genius_testhub.engines import NeedsWeights, comparable, events_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from rusty_genius import Genius
    from rusty_genius.server import GeniusApp

MODEL = "pinky-test"
MESSAGES = [
    ChatMessage(role=Role.SYSTEM, content="You are terse."),
    ChatMessage(role=Role.USER, content="Tell me about <b>bold</b> moves, please."),
]


REQUESTS: list[dict[str, Any]] = [
    {"messages": MESSAGES, "config": InferenceConfig.greedy()},
    {"messages": MESSAGES, "config": InferenceConfig.greedy(show_thinking=False, max_tokens=9)},
    {"prompt": "2 + 2 = ", "config": InferenceConfig.greedy(raw=True, stop=["="])},
    {"prompt": "no template", "config": InferenceConfig.greedy()},
]


async def assert_same_events(url: str, api_key: str | None = None) -> None:
    remote = RemoteEngine(url, api_key=api_key)
    local = PinkyEngine()
    await remote.load(MODEL, None, LoadOptions())
    await local.load(MODEL, None, LoadOptions())
    try:
        for request in REQUESTS:
            want = await events_of(local, **request)
            got = await events_of(remote, **request)
            assert comparable(got) == comparable(want), request
    finally:
        await remote.unload()


@asynccontextmanager
async def serving(genius: Genius, **app: Any) -> AsyncIterator[tuple[GeniusApp, str]]:
    made = create_app(genius, **app)
    async with open_server(made, port=0) as address:
        yield made, address.url


async def test_remote_events_equal_the_servers_engine(make_genius: Callable[..., Genius]) -> None:
    async with make_genius() as genius, serving(genius, api_key="k") as (_, url):
        await assert_same_events(url, api_key="k")


async def test_remote_engine_against_a_genius_serve_process(
    offline_cli: Any, anyio_backend: tuple[str, dict[str, Any]]
) -> None:
    # the server process runs on the other event loop than this test's
    server_loop = "trio" if anyio_backend[0] == "asyncio" else "asyncio"
    args = ("--backend", "pinky", "--port", "0", "--api-key", "k")
    async with offline_cli.serving(*args, startup=60, GENIUS_ASYNC_BACKEND=server_loop) as served:
        first = served.log.splitlines()[0]
        assert first.startswith("genius: serving on http://127.0.0.1:"), served.log
        await assert_same_events(served.url, api_key="k")
    assert served.returncode == 0, served.log
    assert served.log.splitlines()[-2:] == ["genius: stopping (SIGINT)", "genius: stopped"]


async def test_a_brainstem_with_a_remote_engine_cancels_upstream(
    make_genius: Callable[..., Genius], pacer: Any
) -> None:
    async with (
        make_genius(engine_factory=pacer.factory()) as upstream,
        serving(upstream) as (app, url),
        make_genius(
            engine_factory=lambda: RemoteEngine(url, poll_interval=0.01, check_model=False)
        ) as genius,
    ):
        # a whole answer travels through both brainstems
        await pacer.grant(3)
        answer = await genius.chat(MODEL, [{"role": "user", "content": "one two three"}])
        assert answer.content == "one two three "
        assert answer.finish_reason is FinishReason.STOP
        assert answer.usage.completion_tokens == 3  # the upstream engine's count
        # closing the downstream stream closes the HTTP stream: upstream cancels
        stream = genius.infer(MODEL, [{"role": "user", "content": "four five six"}])
        async with stream:
            await pacer.grant()
            async for event in stream:
                if isinstance(event, Content):
                    assert event.text == "four "
                    break
        await app.wait_for(lambda s: s.disconnected == 1)
        await pacer.grant()
        await pacer.wait(lambda: pacer.finished[-1:] == [FinishReason.CANCELLED])
        # a cancel through the downstream brainstem reaches upstream while it waits, too
        stream = genius.infer(MODEL, [{"role": "user", "content": "seven"}])
        async with anyio.create_task_group() as tg:
            ends: list[Complete] = []

            async def read() -> None:
                async for event in stream:
                    if isinstance(event, Complete):
                        ends.append(event)

            tg.start_soon(read)
            await pacer.wait(lambda: pacer.started == 3)  # upstream's engine has it
            await stream.cancel()
        await app.wait_for(lambda s: s.disconnected == 2)
        [end] = ends
        assert end.usage.finish_reason is FinishReason.CANCELLED
        await pacer.grant()
        await pacer.wait(lambda: len(pacer.finished) == 3)
        assert pacer.finished[-1] is FinishReason.CANCELLED


async def test_upstream_refusals_come_back_as_core_errors(
    make_genius: Callable[..., Genius], pacer: Any
) -> None:
    async with make_genius(engine_factory=NeedsWeights) as upstream, serving(upstream) as (_, url):
        with pytest.raises(
            EngineError, match="does not serve model 'no-such-model'; it lists: none"
        ):
            await RemoteEngine(url).load("no-such-model", None, LoadOptions())
        unchecked = RemoteEngine(url, check_model=False)
        await unchecked.load("no-such-model", None, LoadOptions())
        with pytest.raises(EngineError, match=r"answered 404: .*no-such-model"):
            await events_of(unchecked, messages=MESSAGES, config=InferenceConfig())
        await unchecked.unload()
    async with (
        make_genius(engine_factory=pacer.factory(), max_queue=1) as upstream,
        serving(upstream) as (app, url),
    ):
        engine = RemoteEngine(url, check_model=False)
        await engine.load(MODEL, None, LoadOptions())
        request = {"messages": MESSAGES, "config": InferenceConfig()}

        async def one() -> None:
            await events_of(engine, **request)

        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            await pacer.wait(lambda: pacer.started == 1)
            tg.start_soon(one)
            await app.wait_for(lambda s: s.waiting == 1 and s.streaming == 1)
            with pytest.raises(BusyError, match=r"answered 503: .*max_queue=1"):
                await events_of(engine, **request)
            await pacer.grant(100)
        await engine.unload()
