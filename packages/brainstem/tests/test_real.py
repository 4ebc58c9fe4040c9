"""The same flow with the real llama.cpp engine and the real SmolLM2 GGUF (scripts/metal.sh)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest

from rusty_genius_core import (
    AssetComplete,
    ChatMessage,
    Complete,
    Content,
    FinishReason,
    Infer,
    InferenceConfig,
    LoadModel,
    ModelLoaded,
    ModelSpec,
    ProcessStart,
    Role,
)
from rusty_genius_stem import Immediate, open_brainstem

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from rusty_genius_core import AssetEvent

pytestmark = pytest.mark.real

QUESTION = "What is the capital of France? Answer in one word."


@attrs.frozen
class _Local:
    spec: ModelSpec
    path: Path


class OneFileAssets:
    """An asset source whose only model is a GGUF already on disk."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        self.spec = ModelSpec(
            name=name,
            repo="HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
            filename=path.name,
            quantization="Q4_1",
            size=path.stat().st_size,
        )

    async def ensure_model(
        self, reference: str, /, *, progress: Callable[[AssetEvent], Awaitable[None]] | None = None
    ) -> _Local:
        assert reference == self.name
        if progress is not None:
            await progress(AssetComplete(reference=reference, path=str(self.path), cached=True))
        return _Local(self.spec, self.path)

    async def resolve(self, reference: str, /, *, network: bool = True) -> ModelSpec:
        return self.spec

    async def list_models(self) -> list[object]:
        return []


async def test_smollm2_answers_paris_through_the_brainstem(
    test_models: dict[str, Path], llama_cpp_module: object
) -> None:
    from rusty_genius_cortex import create_engine

    assets = OneFileAssets("smollm2", test_models["smollm2"])
    ask = Infer(
        model="smollm2",
        messages=[ChatMessage(role=Role.USER, content=QUESTION)],
        config=InferenceConfig.greedy(max_tokens=16),
    )
    engines = []

    def llama():  # type: ignore[no-untyped-def]
        engine = create_engine("llama")
        engines.append(engine)
        return engine

    async with open_brainstem(assets, engine_factory=llama, strategy=Immediate()) as client:
        loaded = await client.call(LoadModel(model="smollm2"))
        assert isinstance(loaded, ModelLoaded)
        assert loaded.load_duration > 0
        async with client.stream(ask) as stream:
            bodies = [body async for body in stream]
        assert bodies[0] == ProcessStart(model="smollm2", cold=False)
        final = bodies[-1]
        assert isinstance(final, Complete)
        assert final.usage.finish_reason in (FinishReason.STOP, FinishReason.LENGTH)
        answer = "".join(b.text for b in bodies if isinstance(b, Content))
        assert "Paris" in answer
        assert not engines[0].is_loaded  # Immediate: unloaded after the last request
        # A cold start after that: the request pays the load and says so.
        again = await client.call(ask)
        assert isinstance(again, Complete)
        assert again.usage.load_duration > 0
    assert [e.is_loaded for e in engines] == [False, False]  # one engine per load, all freed
