"""LoRA adapter aliases through the facade (Pinky): checked at pull time, named per request."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from rusty_genius import AssetComplete, AssetEvent, AssetFailed, InferenceConfig
from rusty_genius_cortex import AdapterError
from rusty_genius_testhub.lora import write_lora_gguf

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius import Genius
    from rusty_genius_testhub import HubRepo, LoopbackHub

SMOLLM2 = 'repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"\nquantization = "Q4_1"'


def write_manifest(home: Path, adapters: dict[str, Path]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    entries = [
        f'[models.{alias}]\n{SMOLLM2}\n[[models.{alias}.adapters]]\npath = "{path}"\n'
        for alias, path in adapters.items()
    ]
    (home / "manifest.toml").write_text("\n".join(entries), "utf-8")


@pytest.fixture
def adapters(tmp_path: Path, smollm2_gguf: Path) -> dict[str, Path]:
    folder = tmp_path / "adapters"
    folder.mkdir()
    return {
        "router": write_lora_gguf(folder / "router.gguf", smollm2_gguf, rank=2),
        "tone": write_lora_gguf(folder / "tone.gguf", smollm2_gguf, rank=2, seed=1),
        "wrong": write_lora_gguf(folder / "wrong.gguf", smollm2_gguf, rank=2, architecture="qwen2"),
        "model": smollm2_gguf,
    }


@pytest.fixture
def adapted(
    hub: LoopbackHub,
    smollm2_repo: HubRepo,
    adapters: dict[str, Path],
    tmp_path: Path,
    make_genius: Callable[..., Genius],
) -> Genius:
    """A Genius (not yet entered) over the hub's SmolLM2 whose home's manifest makes each
    of ``adapters`` an alias of it with that one adapter."""
    write_manifest(tmp_path / "home", adapters)
    return make_genius(endpoint=hub.url)


async def drain(genius: Genius, reference: str, into: list[AssetEvent]) -> None:
    async with genius.pull(reference) as stream:
        async for event in stream:
            into.append(event)


async def test_pull_refuses_an_adapter_that_does_not_fit_naming_it(
    adapted: Genius, adapters: dict[str, Path]
) -> None:
    async with adapted as genius:
        events: list[AssetEvent] = []
        wrong = r"adapter 'wrong' \(.*wrong\.gguf\) was made for the architecture 'qwen2', but"
        with pytest.raises(AdapterError, match=wrong):
            await drain(genius, "wrong", events)
        assert isinstance(events[-1], AssetFailed)
        assert "wrong.gguf" in events[-1].message
        with pytest.raises(
            AdapterError,
            match=r"adapter 'SmolLM2-135M-Instruct\.Q4_1' \(.*\) is not a LoRA adapter: its general\.type is 'model'",
        ):
            await genius.ensure_model("model")
        async with genius.pull("router") as stream:
            pulled = [event async for event in stream]
        assert isinstance(pulled[-1], AssetComplete)
        local = await genius.ensure_model("router")
        assert [a.path for a in local.adapters] == [adapters["router"]]


async def test_two_aliases_over_one_base_answer_with_their_own_adapters(
    adapted: Genius,
) -> None:
    config = InferenceConfig.greedy(max_tokens=32)
    async with adapted as genius:
        await genius.ensure_model("router")
        router = await genius.complete("router", "Hello", config)
        plain = await genius.complete("smollm2-135m-instruct", "Hello", config)
        tone = await genius.complete("tone", "Hello", config)
    assert (router.content, plain.content, tone.content) == (
        "[adapters: router] Hello",
        "Hello",
        "[adapters: tone] Hello",
    )
    assert router.model == "router"
