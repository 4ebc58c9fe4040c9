"""Prefix reuse on a sliding-window model, the real Gemma 3 270M (marked ``real``).

Gemma 3 attends over a window of 512 tokens in most layers. A prompt cached on a slot is
kept as llama-server keeps it: while the slot still holds the cells that the next token
looks back on. Otherwise the prompt is evaluated again, and the answer is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius_core import InferenceConfig, LoadOptions
from rusty_genius_cortex import LlamaEngine

from .conftest import evaluated

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from pathlib import Path

pytestmark = pytest.mark.real

OPTIONS = LoadOptions(context_size=2048, parallel=1, threads=1, threads_batch=1)
SHORT = "The capital of France is"
LONG = " ".join(f"item{i}" for i in range(400)) + " The capital of France is"  # > 1000 tokens


def ask(engine: LlamaEngine, prompt: str) -> Coroutine[Any, Any, tuple[int, str]]:
    """One greedy request: the prompt tokens it evaluated, and its text."""
    return evaluated(engine, prompt=prompt, config=InferenceConfig.greedy(max_tokens=8))


def test_a_sliding_window_model_reuses_a_prompt_its_slot_still_holds(
    test_models: dict[str, Path], llama_cpp_module: object
) -> None:
    async def run() -> list[tuple[int, str]]:
        engine = LlamaEngine()
        await engine.load("gemma3", test_models["gemma3"], OPTIONS)
        try:
            assert engine._model is not None
            assert engine._model.n_swa == 512
            return [
                await ask(engine, SHORT),
                await ask(engine, SHORT),
                await ask(engine, LONG),
                await ask(engine, LONG),  # longer than the window: all cells still there
            ]
        finally:
            await engine.unload()

    (short, text), (again, same), (long, long_text), (long_again, long_same) = anyio.run(run)
    assert short > 1
    assert again <= 1  # only the last prompt token, for its logits
    assert same == text
    assert long > 1000
    assert long_again <= 1
    assert long_same == long_text


def test_a_prefix_whose_window_is_gone_is_evaluated_again(
    test_models: dict[str, Path], llama_cpp_module: object
) -> None:
    """The window's cells are dropped by hand, as a smaller SWA cache drops them while it
    decodes (this context keeps them all: llama.cpp's default full-size SWA cache)."""

    async def run() -> tuple[tuple[int, str], tuple[int, str], list[bool]]:
        engine = LlamaEngine()
        await engine.load("gemma3", test_models["gemma3"], OPTIONS)
        try:
            model = engine._model
            assert model is not None
            assert model.loop is not None
            first = await ask(engine, LONG)
            # Between requests the decode loop is idle: cut the slot's first 1200 positions.
            assert model.lib.llama_memory_seq_rm(model.ctx.memory, 0, 0, 1200)
            holds = [model.loop._window_holds(0, keep) for keep in (1711, 1712, 1713)]
            second = await ask(engine, LONG)
            return first, second, holds
        finally:
            await engine.unload()

    (first, text), (second, again), holds = anyio.run(run)
    # The next token after ``keep`` looks back to keep - 512: 1200 is there from 1712 on.
    assert holds == [False, True, True]
    assert second == first  # the whole prompt again: its kept prefix had lost its window
    assert again == text
