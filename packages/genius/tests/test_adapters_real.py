"""Two LoRA aliases over the real SmolLM2 through the facade: one load, one copy of the base.

Marked ``real``. ``router`` and ``tone`` are manifest aliases of the same SmolLM2 file,
each with its own adapter (written with the ``gguf`` package); the brainstem loads the
base once and applies each request's adapter, so answering ``tone`` after ``router``
costs resident memory of about the adapter's size, not another copy of the base.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rusty_genius import InferenceConfig
from rusty_genius_testhub.lora import write_lora_gguf
from rusty_genius_testhub.memory import resident

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius import Genius
    from rusty_genius_testhub import HubRepo, LoopbackHub

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("llama_cpp_module")]

BASE = 'repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"\nquantization = "Q4_1"'
MB = 1 << 20
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def sizes(smollm2_gguf: Path, tmp_path: Path) -> dict[str, int]:
    """Adapter aliases ``router`` and ``tone`` in the home's manifest; the files' sizes."""
    folder = tmp_path / "adapters"
    folder.mkdir()
    router = write_lora_gguf(folder / "router.gguf", smollm2_gguf, b_std=0.05, seed=1)
    tone = write_lora_gguf(folder / "tone.gguf", smollm2_gguf, b_std=0.08, seed=2)
    home = tmp_path / "home"
    home.mkdir()
    (home / "manifest.toml").write_text(
        "".join(
            f'[models.{alias}]\n{BASE}\n[[models.{alias}.adapters]]\npath = "{path}"\n\n'
            for alias, path in (("router", router), ("tone", tone))
        ),
        "utf-8",
    )
    return {"tone": tone.stat().st_size, "base": smollm2_gguf.stat().st_size}


async def test_two_adapter_aliases_share_one_loaded_base(
    hub: LoopbackHub,
    smollm2_repo: HubRepo,
    sizes: dict[str, int],
    make_genius: Callable[..., Genius],
) -> None:
    config = InferenceConfig.greedy(max_tokens=24, cache_prompt=False)
    async with make_genius(endpoint=hub.url, backend="llama") as genius:
        base = (await genius.chat("smollm2-135m-instruct", QUESTION, config)).content
        routed = (await genius.chat("router", QUESTION, config)).content
        before = resident()
        toned = (await genius.chat("tone", QUESTION, config)).content
        grown = resident() - before
        running = await genius.ps()
        assert (await genius.chat("router", QUESTION, config)).content == routed
        assert (await genius.chat("smollm2-135m-instruct", QUESTION, config)).content == base
    assert routed != base
    assert toned != base
    assert len(running) == 1  # one loaded model serves all three aliases
    assert grown < 2 * sizes["tone"] + 8 * MB, grown / MB
    assert grown < sizes["base"] / 4, grown / MB
