"""Cortex's real-engine fixtures: SmolLM2 loaded once per module, shared by both loops."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius_core import LoadOptions
from rusty_genius_cortex import LlamaEngine
from rusty_genius_testhub.engines import events_of, text_of

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@contextmanager
def loaded_llama(name: str, path: Path, options: LoadOptions) -> Iterator[LlamaEngine]:
    """A :class:`LlamaEngine` with ``path`` loaded on a throwaway loop (each test's loop
    may use it), unloaded at the end."""
    engine = LlamaEngine()
    anyio.run(engine.load, name, path, options)
    yield engine
    anyio.run(engine.unload)


def tokens_of(engine: LlamaEngine, text: str) -> list[int]:
    """``text`` as the loaded model tokenizes it (no BOS, no special tokens)."""
    model = engine._model
    assert model is not None
    return list(model.model.tokenize(text.encode(), False, False))


async def evaluated(engine: LlamaEngine, **request: Any) -> tuple[int, str]:
    """The prompt tokens llama.cpp evaluated for ``engine.infer(**request)``, and its text:
    how a test sees whether a cached prefix was reused."""
    model = engine._model
    assert model is not None
    lib, ctx = model.lib, model.ctx.ctx
    lib.llama_perf_context_reset(ctx)
    text = text_of(await events_of(engine, **request))
    return int(lib.llama_perf_context(ctx).n_p_eval), text


@pytest.fixture(scope="module")
def smol_path(test_models: dict[str, Path], llama_cpp_module: object) -> Path:
    return test_models["smollm2"]


@pytest.fixture(scope="module")
def smol(smol_path: Path) -> Iterator[LlamaEngine]:
    """SmolLM2 loaded once for the module (on a throwaway loop; each test's loop may use it)."""
    with loaded_llama("smollm2", smol_path, LoadOptions(context_size=2048)) as engine:
        yield engine
