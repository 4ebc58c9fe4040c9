"""The whole flow with real parts: facecrab pulls the real SmolLM2 GGUF from the loopback
hub, llama.cpp loads it, the brainstem streams the answer (scripts/metal.sh)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rusty_genius_core import (
    AssetComplete,
    AssetStarted,
    ChatMessage,
    Complete,
    Content,
    FinishReason,
    Infer,
    InferenceConfig,
    LoadModel,
    ModelLoaded,
    ProcessStart,
    Role,
)
from rusty_genius_stem import Immediate, open_brainstem
from rusty_genius_testhub import TEST_MODELS, add_smollm2_repo

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from facecrab import AssetAuthority
    from rusty_genius_cortex import Engine
    from rusty_genius_testhub import LoopbackHub

pytestmark = pytest.mark.real

QUESTION = "What is the capital of France? Answer in one word."
SMOLLM2 = f"{TEST_MODELS['smollm2'].repo}:{TEST_MODELS['smollm2'].quantization}"


async def test_smollm2_answers_paris_through_the_brainstem(
    test_models: dict[str, Path],
    llama_cpp_module: object,
    hub: LoopbackHub,
    make_authority: Callable[..., AssetAuthority],
) -> None:
    from rusty_genius_cortex import create_engine

    add_smollm2_repo(hub, test_models["smollm2"])
    ask = Infer(
        model=SMOLLM2,
        messages=[ChatMessage(role=Role.USER, content=QUESTION)],
        config=InferenceConfig.greedy(max_tokens=16),
    )
    engines: list[Engine] = []

    def llama() -> Engine:
        engine = create_engine("llama")
        engines.append(engine)
        return engine

    async with (
        make_authority() as assets,
        open_brainstem(assets, engine_factory=llama, strategy=Immediate()) as client,
    ):
        async with client.stream(LoadModel(model=SMOLLM2)) as stream:
            pulled = [body async for body in stream]
        assert isinstance(pulled[0], AssetStarted)
        assert isinstance(pulled[-2], AssetComplete)
        assert isinstance(pulled[-1], ModelLoaded)
        assert pulled[-1].load_duration > 0

        async with client.stream(ask) as stream:
            bodies = [body async for body in stream]
        assert bodies[0] == ProcessStart(model=SMOLLM2, cold=False)
        final = bodies[-1]
        assert isinstance(final, Complete)
        assert final.usage.finish_reason in (FinishReason.STOP, FinishReason.LENGTH)
        assert final.usage.completion_tokens > 0
        answer = "".join(b.text for b in bodies if isinstance(b, Content))
        assert "Paris" in answer
        assert not engines[0].is_loaded  # Immediate: unloaded after the last request

        # Cold again: the verified file is reused (no download) and the request pays the load.
        async with client.stream(ask) as stream:
            again = [body async for body in stream]
        reused = again[0]
        assert isinstance(reused, AssetComplete)
        assert reused.cached
        assert again[1] == ProcessStart(model=SMOLLM2, cold=True)
        assert isinstance(again[-1], Complete)
        assert again[-1].usage.load_duration > 0
        assert "Paris" in "".join(b.text for b in again if isinstance(b, Content))
    assert [e.is_loaded for e in engines] == [False, False]  # one engine per load, all freed
