"""open_brainstem and its client on the real event loops (asyncio and trio, real clocks).

Pinky runs with no delays here; nothing waits on time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

from rusty_genius_core import (
    Ack,
    ChatMessage,
    Complete,
    Content,
    FinishReason,
    Infer,
    InferenceConfig,
    ListModels,
    LoadModel,
    LoadOptions,
    ModelList,
    ModelLoaded,
    OutputBody,
    ProcessStart,
    ProtocolError,
    Role,
    Unload,
)
from rusty_genius_cortex import PinkyEngine
from rusty_genius_stem import BrainstemClient, KeepAlive, open_brainstem
from rusty_genius_stem._client import _Answers
from rusty_genius_testhub.engines import collect, text_of

if TYPE_CHECKING:
    from conftest import FakeAssets, Lab
    from rusty_genius_core import InferenceEvent


def chat(text: str, model: str = "alpha") -> Infer:
    return Infer(
        model=model,
        messages=[ChatMessage(role=Role.USER, content=text)],
        config=InferenceConfig.greedy(),
    )


async def pinky_events(text: str) -> list[InferenceEvent]:
    """What Pinky itself answers to ``text``, greedily: what the brainstem must relay."""
    engine = PinkyEngine()
    await engine.load("alpha", None, LoadOptions())
    messages = [ChatMessage(role=Role.USER, content=text)]
    events = await collect(engine.infer(messages=messages, config=InferenceConfig.greedy()))
    await engine.unload()
    return events


async def expected_text(text: str) -> str:
    return text_of(await pinky_events(text))


async def test_hundred_clients_at_once_each_read_their_own_answer(
    lab: Lab, assets: FakeAssets
) -> None:
    texts = {i: f"client {i} asks about {i * 13} things" for i in range(100)}
    answers: dict[int, list[object]] = {}

    async def one(client: BrainstemClient, i: int) -> None:
        async with client.stream(chat(texts[i])) as bodies:
            answers[i] = [body async for body in bodies]

    async with (
        open_brainstem(assets, engine_factory=lab.factory()) as client,
        anyio.create_task_group() as tg,
    ):
        for i in texts:
            tg.start_soon(one, client, i)
    for i, bodies in answers.items():
        assert isinstance(bodies[0], ProcessStart)
        assert isinstance(bodies[-1], Complete)
        assert bodies[-1].usage.finish_reason is FinishReason.STOP
        text = "".join(b.text for b in bodies if isinstance(b, Content))
        assert text == await expected_text(texts[i])
    assert len(answers) == 100
    assert lab.log.loaded == []  # leaving the block unloaded the engine


async def test_call_returns_the_final_body(lab: Lab, assets: FakeAssets) -> None:
    async with open_brainstem(assets, engine_factory=lab.factory(), strategy=KeepAlive()) as client:
        loaded = await client.call(LoadModel(model="alpha"))
        assert isinstance(loaded, ModelLoaded)
        listing = await client.call(ListModels())
        assert isinstance(listing, ModelList)
        assert [(m.name, m.loaded) for m in listing.models] == [("alpha", True)]
        done = await client.call(chat("hello"), request_id="mine")
        assert isinstance(done, Complete)
        assert await client.call(Unload(model="alpha")) == Ack(detail="unloaded 'alpha'")
        assert lab.log.loaded == []


async def test_leaving_a_stream_early_cancels_the_request(lab: Lab, assets: FakeAssets) -> None:
    long_text = " ".join(f"w{i}" for i in range(2000))
    async with open_brainstem(assets, engine_factory=lab.factory()) as client:
        async with client.stream(chat(long_text)) as bodies:
            async for body in bodies:
                if isinstance(body, Content):
                    break
        # The Cancel went in before this request, so by its answer the stop is set.
        await client.call(ListModels())
        (stop,) = lab.engines[0].stops
        assert stop is not None
        assert stop.is_set()
        after = await client.call(chat("still fine"))
        assert isinstance(after, Complete)
        assert after.usage.finish_reason is FinishReason.STOP


async def test_client_refuses_its_own_duplicate_ids(lab: Lab, assets: FakeAssets) -> None:
    async with (
        open_brainstem(assets, engine_factory=lab.factory()) as client,
        client.stream(chat("one"), request_id="same") as bodies,
    ):
        with pytest.raises(ProtocolError, match="'same' is already in use"):
            async with client.stream(chat("two"), request_id="same"):
                pass
        assert isinstance([b async for b in bodies][-1], Complete)


async def test_an_error_in_the_block_still_unloads_everything(lab: Lab, assets: FakeAssets) -> None:
    async def use_and_fail() -> None:
        async with open_brainstem(
            assets, engine_factory=lab.factory(), strategy=KeepAlive()
        ) as client:
            await client.call(chat("load it"))
            assert lab.log.loaded == ["alpha"]
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError, match="the caller failed"):  # itself, not a group
        await use_and_fail()
    assert lab.log.loaded == []


async def test_a_reader_that_stops_holds_the_engine_until_it_has_read_half(
    lab: Lab, assets: FakeAssets
) -> None:
    # The brainstem puts each answer straight into the reader's stream (8 bodies here) and,
    # once it is full, waits until the reader has taken it down to half: then it refills it
    # in one go instead of waking once per body. Nothing is lost and the order holds.
    text = " ".join(f"w{i}" for i in range(200))
    async with (
        open_brainstem(assets, engine_factory=lab.factory(), buffer_size=8) as client,
        client.stream(chat(text)) as bodies,
    ):
        await anyio.wait_all_tasks_blocked()
        engine = lab.engines[0]
        held = engine.produced
        assert 8 <= held <= 9  # the 8 buffered, and the one the brainstem waits to put in
        received = [await bodies.receive() for _ in range(3)]  # 5 left: above half
        await anyio.wait_all_tasks_blocked()
        assert engine.produced == held
        received.append(await bodies.receive())  # 4 left: half
        await anyio.wait_all_tasks_blocked()
        assert engine.produced >= held + 4
        received.extend([body async for body in bodies])
    expected = await pinky_events(text)
    assert received[:-1] == expected[:-1]
    assert isinstance(received[-1], Complete)
    assert received[-1].usage.completion_tokens == expected[-1].usage.completion_tokens


async def test_an_unbuffered_brainstem_still_answers(lab: Lab, assets: FakeAssets) -> None:
    text = " ".join(f"w{i}" for i in range(50))
    async with open_brainstem(assets, engine_factory=lab.factory(), buffer_size=0) as client:
        async with client.stream(chat(text)) as bodies:
            received = [body async for body in bodies]
        assert received[:-1] == (await pinky_events(text))[:-1]
        assert isinstance(await client.call(ListModels()), ModelList)


# -- one request's stream -------------------------------------------------------------------


async def test_a_cancelled_receive_loses_nothing() -> None:
    answers = _Answers(4)
    scope = anyio.CancelScope()

    async def read() -> None:
        with scope:
            await answers.receive()
            pytest.fail("the receive was cancelled before it could return")

    async with answers:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await anyio.wait_all_tasks_blocked()
            # Both in one step: the body arrives just as the waiting receive is cancelled.
            scope.cancel()
            assert answers.put_nowait(Content(text="kept"))
        assert answers.receive_nowait() == Content(text="kept")


async def test_a_reader_that_leaves_releases_a_waiting_sender() -> None:
    answers = _Answers(2)
    sent = anyio.Event()

    async def send() -> None:
        await answers.put(Content(text="c"))  # dropped: the reader is gone
        sent.set()

    assert answers.put_nowait(Content(text="a"))
    assert answers.put_nowait(Content(text="b"))
    assert not answers.put_nowait(Content(text="c"))  # full
    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await anyio.wait_all_tasks_blocked()
        assert not sent.is_set()
        await answers.aclose()
        await sent.wait()
    with pytest.raises(anyio.ClosedResourceError):
        await answers.receive()


async def test_the_end_comes_after_every_buffered_body() -> None:
    answers = _Answers(4)
    async with answers:
        got: list[OutputBody] = []

        async def read() -> None:
            got.extend([body async for body in answers])

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await anyio.wait_all_tasks_blocked()  # the reader waits on an empty stream
            answers.put_nowait(Content(text="a"))
            answers.put_nowait(Content(text="b"))
            answers.end()
        assert got == [Content(text="a"), Content(text="b")]
        with pytest.raises(anyio.EndOfStream):
            await answers.receive()
