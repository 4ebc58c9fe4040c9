"""Measurement 3: brainstem event throughput with Pinky at zero delay vs a bare channel.

Ours: one ``Infer`` through ``open_brainstem`` (Pinky echoing a long prompt, one
event per word) read from the client's stream, request to final ``Complete``. The
facade's ``Genius.infer`` over the same brainstem is reported beside it. Reference:
the very same event objects pushed through one anyio memory object stream (same
buffer size as the brainstem's) from a producer task to a consumer task. Both in one
event loop, rounds interleaved, once on asyncio and once on trio.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio

from ._report import Row, higher_is_better

if TYPE_CHECKING:
    from ._setup import Plan, Workspace

__all__ = ["run_stem"]

TARGET = 0.5
BUFFER = 64  # open_brainstem's default buffer_size, used for the bare channel too


async def _bare(events: list[Any]) -> float:
    send, receive = anyio.create_memory_object_stream[Any](BUFFER)
    count = 0

    async def produce() -> None:
        async with send:
            for event in events:
                await send.send(event)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receive:
            async for _event in receive:
                count += 1
    elapsed = time.perf_counter() - started
    assert count == len(events)
    return count / elapsed


async def _measure(workspace: Workspace, words: int, rounds: int) -> dict[str, Any]:
    from facecrab import AssetAuthority
    from rusty_genius import Genius
    from rusty_genius_core import Complete, Infer, InferenceConfig
    from rusty_genius_cortex import PinkyEngine
    from rusty_genius_stem import KeepAlive, open_brainstem

    prompt = " ".join(f"w{i}" for i in range(words))
    # Pinky counts a context of 4096 of its tokens by default, as a real model would: the
    # stream of ``words`` words needs its own (one load, as every request asks the same).
    config = InferenceConfig(max_tokens=words + 64, context_size=2 * words + 128)
    command = Infer(model="pinky-bench", prompt=prompt, config=config)
    result: dict[str, list[float]] = {"stem": [], "stem_bare": [], "genius": [], "genius_bare": []}

    async with (
        AssetAuthority(
            home=workspace.home, cache=workspace.cache, token=False, environ={}, offline=True
        ) as assets,
        open_brainstem(
            assets, engine_factory=lambda: PinkyEngine(), strategy=KeepAlive(), buffer_size=BUFFER
        ) as client,
        Genius(
            assets=assets,
            engine_factory=lambda: PinkyEngine(),
            strategy=KeepAlive(),
            buffer_size=BUFFER,
        ) as genius,
    ):

        async def stem() -> tuple[float, list[Any]]:
            bodies: list[Any] = []
            started = time.perf_counter()
            async with client.stream(command) as stream:
                async for body in stream:
                    bodies.append(body)
            elapsed = time.perf_counter() - started
            assert isinstance(bodies[-1], Complete), bodies[-1]
            return len(bodies) / elapsed, bodies

        async def facade() -> tuple[float, list[Any]]:
            events: list[Any] = []
            started = time.perf_counter()
            async with genius.infer("pinky-bench", prompt, config=config) as stream:
                async for event in stream:
                    events.append(event)
            elapsed = time.perf_counter() - started
            assert isinstance(events[-1], Complete), events[-1]
            return len(events) / elapsed, events

        _, events = await stem()  # warm-up: loads Pinky, fills caches
        await facade()
        await _bare(events)
        for i in range(rounds):
            if i % 2 == 0:
                result["stem"].append((await stem())[0])
                result["stem_bare"].append(await _bare(events))
                result["genius_bare"].append(await _bare(events))
                result["genius"].append((await facade())[0])
            else:
                result["stem_bare"].append(await _bare(events))
                result["stem"].append((await stem())[0])
                result["genius"].append((await facade())[0])
                result["genius_bare"].append(await _bare(events))
    return {"events": len(events), **result}


def run_stem(workspace: Workspace, plan: Plan) -> list[Row]:
    words = plan.pick(3000, 20000)
    rounds = plan.rounds_or(3, 7)
    rows: list[Row] = []
    for backend in ("asyncio", "trio"):
        got = anyio.run(_measure, workspace, words, rounds, backend=backend)
        samples = {"events_per_request": got["events"], "backend": backend}
        rows.append(
            higher_is_better(
                measurement="stem",
                name=f"stem events/s, Pinky vs bare channel ({backend})",
                ours=got["stem"],
                reference=got["stem_bare"],
                unit="ev/s",
                target=TARGET,
                samples=samples,
            )
        )
        rows.append(
            higher_is_better(
                measurement="stem",
                name=f"Genius.infer events/s, Pinky vs bare ({backend})",
                ours=got["genius"],
                reference=got["genius_bare"],
                unit="ev/s",
                target=None,
                note="" if backend == "trio" else "the facade over the same brainstem (info)",
                samples=samples,
            )
        )
    return rows
