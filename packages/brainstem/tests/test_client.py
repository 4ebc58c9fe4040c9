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
    BrainstemInput,
    BrainstemOutput,
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
    ProcessStart,
    ProtocolError,
    Role,
    Unload,
)
from rusty_genius_cortex import PinkyEngine
from rusty_genius_stem import BrainstemClient, KeepAlive, open_brainstem

if TYPE_CHECKING:
    from conftest import FakeAssets, Lab


def chat(text: str, model: str = "alpha") -> Infer:
    return Infer(
        model=model,
        messages=[ChatMessage(role=Role.USER, content=text)],
        config=InferenceConfig.greedy(),
    )


async def expected_text(text: str) -> str:
    engine = PinkyEngine()
    await engine.load("alpha", None, LoadOptions())
    events = [
        e
        async for e in engine.infer(
            messages=[ChatMessage(role=Role.USER, content=text)], config=InferenceConfig.greedy()
        )
    ]
    await engine.unload()
    return "".join(e.text for e in events if isinstance(e, Content))


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


async def test_the_dispatcher_yields_while_it_drains_a_backlog() -> None:
    # The dispatcher routes without anyio's per-call yield while outputs are waiting, and
    # yields every few of them: a backlog reaches the reader in small steps, in order.
    count = 400
    in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](10)
    out_send, out_receive = anyio.create_memory_object_stream[BrainstemOutput](count + 10)
    client = BrainstemClient(in_send, out_receive, buffer_size=count + 10)
    steps: list[int] = []
    async with in_receive, anyio.create_task_group() as tg:
        async with client.stream(chat("x"), request_id="r") as bodies:
            async with out_send:
                for i in range(count):
                    out_send.send_nowait(BrainstemOutput(request_id="r", body=Content(text=f"{i}")))
                out_send.send_nowait(BrainstemOutput(request_id="r", body=Complete()))
            tg.start_soon(client._dispatch)
            seen = 0
            while seen < count + 1 and len(steps) < 10_000:
                await anyio.lowlevel.checkpoint()
                now = bodies.statistics().current_buffer_used
                steps.append(now - seen)
                seen = now
            received = [body async for body in bodies]
        in_send.close()
    assert max(steps) <= 32, steps
    assert received[:-1] == [Content(text=f"{i}") for i in range(count)]
    assert isinstance(received[-1], Complete)
