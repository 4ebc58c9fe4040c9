"""LoRA adapters on the real SmolLM2: one loaded base, each request its own adapter set.

Marked ``real``. The adapters are written by ``rusty_genius_testhub.lora`` with the
``gguf`` package against SmolLM2's own tensor shapes (none ships on PyPI): ``zero`` has
B = 0 (changes nothing), ``a`` and ``b`` have random B of different seeds. Greedy texts
of requests run together are held to the parallel-decoding rule: their solo text, or
at least the first 16 tokens shared and nothing of another request's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from rusty_genius_core import AdapterFile, ChatMessage, InferenceConfig, LoadOptions
from rusty_genius_cortex import AdapterError, LlamaEngine
from rusty_genius_cortex._slots import common_prefix
from rusty_genius_testhub.engines import events_of, text_of
from rusty_genius_testhub.lora import write_lora_gguf
from rusty_genius_testhub.memory import resident

from .conftest import loaded_llama, tokens_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

pytestmark = pytest.mark.real

OPTIONS = LoadOptions(context_size=2048, parallel=4, threads=1, threads_batch=1)
PROMPTS = ("What is the capital of France?", "Name three colours of the rainbow.")
MB = 1 << 20


@pytest.fixture(scope="module")
def adapters(
    test_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    base = test_models["smollm2"]
    folder = tmp_path_factory.mktemp("adapters")
    return {
        "zero": write_lora_gguf(folder / "zero.gguf", base),
        "a": write_lora_gguf(folder / "a.gguf", base, b_std=0.05, seed=1),
        "b": write_lora_gguf(folder / "b.gguf", base, b_std=0.08, seed=2),
        "gemma": write_lora_gguf(folder / "gemma.gguf", base, architecture="gemma3"),
        "misfit": write_lora_gguf(
            folder / "misfit.gguf", test_models["gemma3"], architecture="llama", b_std=0.05
        ),
    }


@pytest.fixture(scope="module")
def engine(smol_path: Path) -> Iterator[LlamaEngine]:
    with loaded_llama("smollm2", smol_path, OPTIONS) as engine:
        yield engine


def use(adapters: dict[str, Path], name: str, scale: float = 1.0) -> tuple[AdapterFile, ...]:
    return (AdapterFile(name=name, path=adapters[name], scale=scale),)


async def answer(
    engine: LlamaEngine, prompt: str, adapters: Sequence[AdapterFile] = (), tokens: int = 40
) -> str:
    config = InferenceConfig.greedy(max_tokens=tokens, cache_prompt=False)
    messages = [ChatMessage(role="user", content=prompt)]
    return text_of(await events_of(engine, messages=messages, config=config, adapters=adapters))


async def test_a_zero_adapter_and_scale_zero_give_exactly_the_base_text(
    engine: LlamaEngine, adapters: dict[str, Path]
) -> None:
    base = await answer(engine, PROMPTS[0])
    assert await answer(engine, PROMPTS[0], use(adapters, "zero")) == base
    assert await answer(engine, PROMPTS[0], use(adapters, "a", scale=0.0)) == base
    assert await answer(engine, PROMPTS[0]) == base  # and the base is still itself after


async def test_a_non_zero_adapter_changes_the_text_deterministically(
    engine: LlamaEngine, adapters: dict[str, Path]
) -> None:
    base = await answer(engine, PROMPTS[0])
    tuned = await answer(engine, PROMPTS[0], use(adapters, "a"))
    assert tuned != base
    assert await answer(engine, PROMPTS[0], use(adapters, "a")) == tuned
    half = await answer(engine, PROMPTS[0], use(adapters, "a", scale=0.5))
    assert await answer(engine, PROMPTS[0], use(adapters, "a", scale=0.5)) == half


async def test_two_aliases_requested_interleaved_each_give_their_solo_text(
    engine: LlamaEngine, adapters: dict[str, Path]
) -> None:
    sets = {"base": (), "a": use(adapters, "a"), "b": use(adapters, "b")}
    solo = {(k, p): await answer(engine, p, s) for p in PROMPTS for k, s in sets.items()}
    assert solo["a", PROMPTS[1]] != solo["base", PROMPTS[1]]
    assert solo["b", PROMPTS[1]] != solo["base", PROMPTS[1]]
    for _ in range(2):
        for key, adapter_set in (("a", sets["a"]), ("b", sets["b"]), ("base", ())):
            for prompt in PROMPTS:
                assert await answer(engine, prompt, adapter_set) == solo[key, prompt]


async def test_two_aliases_requested_concurrently_are_isolated(
    engine: LlamaEngine, adapters: dict[str, Path]
) -> None:
    sets = {"base": (), "a": use(adapters, "a"), "b": use(adapters, "b")}
    solo = {(k, p): await answer(engine, p, s) for p in PROMPTS for k, s in sets.items()}
    got: dict[tuple[str, str], str] = {}

    async def run(key: str, prompt: str) -> None:
        got[key, prompt] = await answer(engine, prompt, sets[key])

    async with anyio.create_task_group() as tg:
        for prompt in PROMPTS:
            for key in sets:
                tg.start_soon(run, key, prompt)
    for request, text in got.items():
        if text == solo[request]:
            continue
        shared = common_prefix(tokens_of(engine, text), tokens_of(engine, solo[request]))
        assert shared >= 16, (request, text, solo[request])
        for other, theirs in solo.items():
            if solo[other] != solo[request] and theirs[:24] not in solo[request]:
                assert theirs[:24] not in text, (request, other, text)


async def test_a_second_adapter_costs_its_own_size_not_the_base_s(
    engine: LlamaEngine, test_models: dict[str, Path], tmp_path: Path
) -> None:
    fresh = {"c": write_lora_gguf(tmp_path / "c.gguf", test_models["smollm2"], seed=3)}
    await answer(engine, PROMPTS[0], tokens=4)
    before = resident()
    await answer(engine, PROMPTS[0], use(fresh, "c"), tokens=4)  # loads the adapter
    grown = resident() - before
    adapter_size = fresh["c"].stat().st_size
    base_size = test_models["smollm2"].stat().st_size
    assert grown < 2 * adapter_size + 8 * MB, (grown / MB, adapter_size / MB)
    assert grown < base_size / 4, (grown / MB, base_size / MB)


async def test_a_wrong_architecture_or_misfit_adapter_is_refused_naming_the_file(
    engine: LlamaEngine, adapters: dict[str, Path]
) -> None:
    with pytest.raises(
        AdapterError,
        match=r"adapter 'gemma' \(.*gemma\.gguf\) was made for the architecture 'gemma3', but its base model is 'llama'",
    ):
        await answer(engine, PROMPTS[0], use(adapters, "gemma"))
    with pytest.raises(
        AdapterError, match=r"adapter 'misfit' \(.*misfit\.gguf\): llama\.cpp could not load it"
    ):
        await answer(engine, PROMPTS[0], use(adapters, "misfit"))
    assert await answer(engine, PROMPTS[0], use(adapters, "zero")) == await answer(
        engine, PROMPTS[0]
    )
