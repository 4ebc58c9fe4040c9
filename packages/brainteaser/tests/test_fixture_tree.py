"""The repository's own fixtures: valid, complete, and consistent with the test models."""

from __future__ import annotations

from pathlib import Path

import pytest

from rusty_genius_teaser import HubRequirement, PromptMode, scan_fixtures
from rusty_genius_testhub import TEST_MODELS

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
QWEN = ("Qwen/Qwen2.5-1.5B-Instruct-GGUF", "Qwen/Qwen2.5-3B-Instruct-GGUF")
SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
GEMMA = "ggml-org/gemma-3-270m-GGUF"


def test_the_tree_is_valid_and_has_every_model() -> None:
    references = {f.reference for f in scan_fixtures(FIXTURES)}
    assert references == {
        f"{QWEN[0]}:Q4_K_M",
        f"{QWEN[1]}:Q4_K_M",
        f"{SMOL}:Q4_1",
        f"{GEMMA}:Q4_K_M",
    }


@pytest.mark.parametrize("repo", QWEN)
def test_qwen_fixtures_need_the_real_hub(repo: str) -> None:
    by_name = {f.name: f for f in scan_fixtures(FIXTURES) if f.repo == repo}
    assert set(by_name) == {"capital-of-france", "rust-hello-world"}
    assert by_name["capital-of-france"].expectations.contains == ("Paris",)
    assert by_name["rust-hello-world"].expectations.contains == ("fn main",)
    for fixture in by_name.values():
        assert fixture.expectations.requires_hub is HubRequirement.INTERNET
        assert fixture.expectations.mode is PromptMode.CHAT


def test_smollm2_expectations_follow_the_issue() -> None:
    by_name = {f.name: f for f in scan_fixtures(FIXTURES) if f.repo == SMOL}
    capital = by_name["capital-of-france"]
    assert capital.prompt == "What is the capital of France? Answer in one word."
    assert capital.expectations.contains == ("Paris",)
    hello = by_name["rust-hello-world"]
    assert hello.prompt == "Write a hello world program in Rust."
    assert hello.expectations.contains == ("Hello, World!",)
    assert hello.expectations.not_contains == ("fn main",)


def test_loopback_fixtures_target_the_test_models_in_the_right_mode() -> None:
    models = {(m.repo, m.quantization): m for m in TEST_MODELS.values()}
    for fixture in scan_fixtures(FIXTURES):
        model = models.get((fixture.repo, fixture.quantization))
        if fixture.expectations.requires_hub is HubRequirement.INTERNET:
            assert model is None, f"{fixture.path}: the loopback hub serves this model"
            continue
        assert model is not None, f"{fixture.path}: the loopback hub does not serve this model"
        # A base model has no chat template: only raw completion makes sense for it.
        expected = PromptMode.CHAT if model.has_chat_template else PromptMode.RAW
        assert fixture.expectations.mode is expected, fixture.path
        # Checked against the real model under greedy decoding (test_fixtures_real.py).
        assert fixture.expectations.temperature == 0, fixture.path
