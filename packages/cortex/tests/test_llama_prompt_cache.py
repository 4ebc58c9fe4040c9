"""The host-memory prompt cache on the real SmolLM2 (marked ``real``): a prompt whose slot
moved on comes back from host memory, evaluates only its last token, and answers as the
slot's own reuse did; with ``cache_ram=0`` it is evaluated again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius_core import ChatMessage, InferenceConfig, LoadOptions
from rusty_genius_cortex import LlamaEngine

from .conftest import evaluated

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from pathlib import Path

pytestmark = pytest.mark.real

PROMPT = "Explain, in some detail, why the sky is blue during the day."
OTHER = "List three animals that live in the ocean, with one fact about each."
OPTIONS = LoadOptions(context_size=1024, parallel=1, threads=1, threads_batch=1)


def ask(engine: LlamaEngine, prompt: str) -> Coroutine[Any, Any, tuple[int, str]]:
    """One greedy request: the prompt tokens it evaluated, and its text."""
    return evaluated(
        engine,
        messages=[ChatMessage(role="user", content=prompt)],
        config=InferenceConfig.greedy(max_tokens=12),
    )


@pytest.mark.parametrize("cache_ram", [1 << 26, 0])
def test_a_prompt_whose_slot_moved_on_comes_back_from_host_memory(
    test_models: dict[str, Path], llama_cpp_module: object, cache_ram: int
) -> None:
    async def run() -> list[tuple[int, str]]:
        engine = LlamaEngine(cache_ram=cache_ram)
        await engine.load("smollm2", test_models["smollm2"], OPTIONS)
        try:
            first = await ask(engine, PROMPT)
            reused = await ask(engine, PROMPT)  # the slot still holds it
            await ask(engine, OTHER)  # one slot: it moves on
            back = await ask(engine, PROMPT)
            return [first, reused, back]
        finally:
            await engine.unload()

    (first, _), (reused, text), (back, again) = anyio.run(run)
    assert first > 30  # the whole templated prompt
    assert reused <= 1  # the slot's own reuse: only the last prompt token
    if cache_ram:
        assert back <= 1  # restored from host memory
        assert again == text  # the same cells as the slot's reuse: the same answer
    else:
        # Nothing kept: the slot keeps only the system prompt it shares with OTHER, and
        # the question (more than 10 tokens) is evaluated again.
        assert 10 < back < first
