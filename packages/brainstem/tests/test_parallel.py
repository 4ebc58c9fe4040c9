"""How many requests run at once on one model: the setting, else the engine's own.

``Orchestrator(parallelism=None)`` (the default) asks the loaded engine (its
``parallel``: llama.cpp's sequences, a remote server's slots); a number is the limit
and reaches the engine as ``LoadOptions.parallel`` when a load leaves it open.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import TYPE_CHECKING, ClassVar

import pytest

from rusty_genius_core import LoadModel, LoadOptions, ProcessStart
from rusty_genius_cortex import PinkyEngine
from rusty_genius_stem import Orchestrator
from rusty_genius_testhub.requests import infer

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from pathlib import Path

    from conftest import FakeAssets
    from rusty_genius_core import InferenceEvent, ModelSpec
    from rusty_genius_cortex import EngineRequest, StopSignal, UsageMeter


class Wide(PinkyEngine):
    """Pinky that serves ``LoadOptions.parallel`` (default 3) requests at once and records
    its loads' options and the most requests it saw running together."""

    options: ClassVar[list[LoadOptions]] = []
    running = 0
    most = 0

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        Wide.options.append(options)
        await super()._load_model(name, path, options, spec)
        self._parallel = options.parallel or 3

    async def _generate(
        self, request: EngineRequest, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        Wide.running += 1
        Wide.most = max(Wide.most, Wide.running)
        try:
            async with aclosing(super()._generate(request, meter, stop)) as inner:
                async for event in inner:
                    yield event
        finally:
            Wide.running -= 1


@pytest.fixture(autouse=True)
def _fresh() -> None:
    Wide.options, Wide.running, Wide.most = [], 0, 0


async def _run_many(stem: Orchestrator, run_stem: object, n: int) -> None:
    async with run_stem(stem) as h:  # type: ignore[operator]
        for i in range(n):
            await h.send(f"r{i}", infer(f"request {i} " + "word " * 20))
        for i in range(n):
            await h.wait_final(f"r{i}")
            assert isinstance(h.bodies(f"r{i}")[0], ProcessStart)


@pytest.mark.virtual_time
async def test_by_default_the_engines_own_parallelism_applies(
    assets: FakeAssets, run_stem: object
) -> None:
    stem = Orchestrator(assets, engine_factory=lambda: Wide(token_delay=0.1))
    assert stem.parallelism is None
    await _run_many(stem, run_stem, 7)
    assert Wide.options == [LoadOptions()]
    assert Wide.most == 3


@pytest.mark.virtual_time
async def test_a_set_parallelism_is_the_limit_and_reaches_the_engine(
    assets: FakeAssets, run_stem: object
) -> None:
    stem = Orchestrator(assets, engine_factory=lambda: Wide(token_delay=0.1), parallelism=2)
    await _run_many(stem, run_stem, 6)
    assert Wide.options == [LoadOptions(parallel=2)]
    assert Wide.most == 2


@pytest.mark.virtual_time
async def test_an_engine_of_one_sequence_serves_one_at_a_time(
    assets: FakeAssets, run_stem: object
) -> None:
    stem = Orchestrator(assets, engine_factory=lambda: Wide(token_delay=0.1))
    Wide.options = []
    async with run_stem(stem) as h:  # type: ignore[operator]
        await h.send("load", LoadModel(model="alpha", options=LoadOptions(parallel=1)))
        await h.wait_final("load")
        for i in range(4):
            await h.send(f"r{i}", infer(f"request {i} " + "word " * 20))
        for i in range(4):
            await h.wait_final(f"r{i}")
    assert Wide.options == [LoadOptions(parallel=1)]
    assert Wide.most == 1
