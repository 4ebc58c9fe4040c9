"""Every loopback fixture's expectations hold for the real model, run with llama.cpp directly.

This keeps the fixtures honest without the rusty-genius pipeline: greedy decoding
(temperature 0, top-k 1) through llama-cpp-python, chat completion with the
model's own template in ``chat`` mode and plain completion in ``raw`` mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rusty_genius_teaser import (
    Fixture,
    HubRequirement,
    PromptMode,
    check_expectations,
    scan_fixtures,
)
from rusty_genius_testhub import TEST_MODELS

if TYPE_CHECKING:
    from collections.abc import Iterator

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
LOOPBACK = [
    f for f in scan_fixtures(FIXTURES) if f.expectations.requires_hub is HubRequirement.LOOPBACK
]
_GREEDY: dict[str, Any] = {
    "temperature": 0.0,
    "top_k": 1,
    "top_p": 1.0,
    "min_p": 0.0,
    "repeat_penalty": 1.0,
}


@pytest.fixture(scope="module")
def llamas(
    test_models: dict[str, Path], llama_cpp_module: Any
) -> Iterator[dict[tuple[str, str], Any]]:
    """One loaded model per (repo, quantization), loaded on first use."""
    loaded: dict[tuple[str, str], Any] = {}
    by_ref = {(m.repo, m.quantization): name for name, m in TEST_MODELS.items()}

    class Models(dict[tuple[str, str], Any]):
        def __missing__(self, key: tuple[str, str]) -> Any:
            path = test_models[by_ref[key]]
            llama = llama_cpp_module.Llama(str(path), n_ctx=2048, seed=0, verbose=False)
            loaded[key] = llama
            self[key] = llama
            return llama

    try:
        yield Models()
    finally:
        for llama in loaded.values():
            llama.close()


def _generate(llama: Any, fixture: Fixture) -> str:
    config = fixture.expectations.inference_config()
    assert config.sampling.is_greedy, f"{fixture.path}: only greedy fixtures can be checked"
    if fixture.expectations.mode is PromptMode.RAW:
        out = llama.create_completion(fixture.prompt, max_tokens=config.max_tokens, **_GREEDY)
        return str(out["choices"][0]["text"])
    messages = [{"role": m.role.value, "content": m.content} for m in fixture.messages()]
    out = llama.create_chat_completion(messages, max_tokens=config.max_tokens, **_GREEDY)
    return str(out["choices"][0]["message"]["content"])


@pytest.mark.real
@pytest.mark.parametrize("fixture", LOOPBACK, ids=[f.test_id for f in LOOPBACK])
def test_expectations_hold_for_the_real_model(
    llamas: dict[tuple[str, str], Any], fixture: Fixture
) -> None:
    text = _generate(llamas[fixture.repo, fixture.quantization], fixture)
    assert check_expectations(fixture, text) == [], f"greedy output was {text!r}"


def test_there_are_loopback_fixtures_for_both_test_models() -> None:
    assert {(f.repo, f.quantization) for f in LOOPBACK} == {
        (m.repo, m.quantization) for m in TEST_MODELS.values()
    }
