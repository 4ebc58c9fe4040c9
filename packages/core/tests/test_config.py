"""InferenceConfig, Sampling and LoadOptions: defaults, ranges, greedy decoding."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rusty_genius_core import ConfigError, InferenceConfig, LoadOptions, Sampling


def test_sampling_defaults_are_a_usual_chat_setting() -> None:
    sampling = Sampling()
    assert (sampling.temperature, sampling.top_p, sampling.top_k) == (0.8, 0.95, 40)
    assert (sampling.min_p, sampling.repeat_penalty) == (0.05, 1.0)
    assert not sampling.is_greedy


def test_greedy_is_deterministic_argmax() -> None:
    greedy = Sampling.greedy()
    assert greedy == Sampling(temperature=0.0, top_p=1.0, top_k=1, min_p=0.0, repeat_penalty=1.0)
    assert greedy.is_greedy
    assert Sampling(temperature=0.0).is_greedy
    assert Sampling(top_k=1).is_greedy


def test_inference_config_defaults() -> None:
    config = InferenceConfig()
    assert config.max_tokens == 512
    assert config.context_size is None  # the loaded model's own
    assert config.show_thinking is True
    assert config.stop == ()
    assert config.seed is None
    assert config.raw is False
    assert config.sampling == Sampling()


def test_inference_config_greedy_keeps_behaviour_fields() -> None:
    config = InferenceConfig.greedy(max_tokens=32, stop=["\n\n"], seed=7)
    assert config.sampling == Sampling.greedy()
    assert (config.max_tokens, config.stop, config.seed) == (32, ("\n\n",), 7)
    with pytest.raises(ConfigError, match=r"InferenceConfig\.max_tokens"):
        InferenceConfig.greedy(max_tokens=0)


def test_load_options_default_to_the_engine_choice() -> None:
    assert LoadOptions() == LoadOptions(context_size=None, gpu_layers=None, threads=None, seed=None)
    assert LoadOptions(gpu_layers=-1).gpu_layers == -1


def test_stop_accepts_a_list_and_stores_a_tuple() -> None:
    assert InferenceConfig(stop=["</s>", "User:"]).stop == ("</s>", "User:")


BAD: list[tuple[type, str, Any]] = [
    (Sampling, "temperature", -0.01),
    (Sampling, "temperature", 5.01),
    (Sampling, "temperature", float("nan")),
    (Sampling, "temperature", float("inf")),
    (Sampling, "temperature", "0.5"),
    (Sampling, "top_p", 0.0),
    (Sampling, "top_p", 1.0001),
    (Sampling, "top_k", -1),
    (Sampling, "top_k", 1.0),
    (Sampling, "top_k", True),
    (Sampling, "min_p", -0.1),
    (Sampling, "min_p", 1.1),
    (Sampling, "repeat_penalty", 0.0),
    (Sampling, "repeat_penalty", 10.1),
    (InferenceConfig, "max_tokens", 0),
    (InferenceConfig, "max_tokens", (1 << 24) + 1),
    (InferenceConfig, "max_tokens", 10.0),
    (InferenceConfig, "max_tokens", False),
    (InferenceConfig, "context_size", 15),
    (InferenceConfig, "context_size", (1 << 24) + 1),
    (InferenceConfig, "show_thinking", 1),
    (InferenceConfig, "show_thinking", None),
    (InferenceConfig, "stop", "\n"),
    (InferenceConfig, "stop", ("ok", "")),
    (InferenceConfig, "stop", ("ok", 3)),
    (InferenceConfig, "stop", ("s",) * 17),
    (InferenceConfig, "seed", -1),
    (InferenceConfig, "seed", 1 << 32),
    (InferenceConfig, "raw", "yes"),
    (InferenceConfig, "sampling", {"temperature": 0.0}),
    (LoadOptions, "context_size", 0),
    (LoadOptions, "gpu_layers", -2),
    (LoadOptions, "gpu_layers", 1.5),
    (LoadOptions, "threads", 0),
    (LoadOptions, "threads", 1025),
    (LoadOptions, "seed", 1 << 32),
]


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [pytest.param(c, f, v, id=f"{c.__name__}.{f}={v!r}"[:50]) for c, f, v in BAD],
)
def test_out_of_range_raises_config_error_naming_the_field(
    cls: type, field: str, value: Any
) -> None:
    with pytest.raises(ConfigError, match=rf"^{cls.__name__}\.{field}\b") as caught:
        cls(**{field: value})
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (Sampling, "temperature", 0.0),
        (Sampling, "temperature", 5),
        (Sampling, "top_p", 1.0),
        (Sampling, "top_k", 0),
        (Sampling, "min_p", 1.0),
        (Sampling, "repeat_penalty", 10.0),
        (InferenceConfig, "max_tokens", 1),
        (InferenceConfig, "max_tokens", 1 << 24),
        (InferenceConfig, "context_size", 16),
        (InferenceConfig, "seed", 0),
        (InferenceConfig, "seed", (1 << 32) - 1),
        (InferenceConfig, "stop", ("s",) * 16),
        (LoadOptions, "gpu_layers", -1),
        (LoadOptions, "threads", 1024),
    ],
)
def test_range_bounds_are_inclusive_where_documented(cls: type, field: str, value: Any) -> None:
    assert getattr(cls(**{field: value}), field) == (
        tuple(value) if isinstance(value, tuple) else value
    )


@settings(deadline=None)
@given(
    temperature=st.floats(min_value=0.0, max_value=5.0),
    top_p=st.floats(min_value=0.0, max_value=1.0, exclude_min=True),
    top_k=st.integers(min_value=0, max_value=1 << 20),
    min_p=st.floats(min_value=0.0, max_value=1.0),
    repeat_penalty=st.floats(min_value=0.0, max_value=10.0, exclude_min=True),
)
def test_every_value_inside_the_ranges_is_accepted(
    temperature: float, top_p: float, top_k: int, min_p: float, repeat_penalty: float
) -> None:
    sampling = Sampling(
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        min_p=min_p,
        repeat_penalty=repeat_penalty,
    )
    assert InferenceConfig(sampling=sampling).sampling is sampling
    assert sampling.is_greedy == (temperature == 0.0 or top_k == 1)


def test_configs_are_frozen_values() -> None:
    config = InferenceConfig()
    with pytest.raises(AttributeError):
        config.max_tokens = 3  # type: ignore[misc]
    assert config == InferenceConfig()
    assert hash(config) == hash(InferenceConfig())
