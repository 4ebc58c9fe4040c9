"""Pinky under LoRA adapters: its echo names them, so routing is testable without weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from rusty_genius_core import (
    AdapterFile,
    ConfigError,
    InferenceConfig,
    LoadOptions,
    ResponseFormat,
    UnsupportedError,
)
from rusty_genius_cortex import PinkyEngine
from rusty_genius_cortex._base import EngineBase
from rusty_genius_testhub.engines import collect, events_of, text_of

ROUTER = AdapterFile(name="router", path=Path("/srv/router.gguf"))
TONE = AdapterFile(name="tone", path=Path("/srv/tone.gguf"), scale=0.5)
OFF = AdapterFile(name="off", path=Path("/srv/off.gguf"), scale=0.0)


async def loaded() -> PinkyEngine:
    engine = PinkyEngine()
    await engine.load("pinky-test", None, LoadOptions())
    return engine


async def test_the_echo_names_the_request_s_adapters_in_order() -> None:
    engine = await loaded()
    config = InferenceConfig.greedy(max_tokens=64)
    plain = await collect(engine.infer(prompt="Hello", config=config))
    tuned = await collect(engine.infer(prompt="Hello", config=config, adapters=[ROUTER, TONE]))
    assert text_of(plain) == "Hello"
    assert text_of(tuned) == "[adapters: router, tone*0.5] Hello"
    swapped = await collect(engine.infer(prompt="Hello", config=config, adapters=[TONE, ROUTER]))
    assert text_of(swapped) == "[adapters: tone*0.5, router] Hello"


async def test_a_zero_scaled_adapter_is_the_base() -> None:
    engine = await loaded()
    config = InferenceConfig.greedy(max_tokens=64)
    assert text_of(await collect(engine.infer(prompt="Hi", config=config, adapters=[OFF]))) == "Hi"
    both = await collect(engine.infer(prompt="Hi", config=config, adapters=[OFF, ROUTER]))
    assert text_of(both) == "[adapters: router] Hi"


async def test_json_answers_stay_json_under_adapters() -> None:
    engine = await loaded()
    events = await collect(
        engine.infer(
            prompt="Hi",
            config=InferenceConfig.greedy(max_tokens=64),
            response_format=ResponseFormat(kind="json_object"),
            adapters=[ROUTER],
        )
    )
    assert text_of(events) == '{"echo": "Hi"}'


async def test_bad_adapter_arguments_are_refused() -> None:
    engine = await loaded()
    config = InferenceConfig.greedy(max_tokens=8)
    with pytest.raises(ConfigError, match="names an adapter twice: router, router"):
        await events_of(engine, prompt="Hi", config=config, adapters=[ROUTER, ROUTER])
    with pytest.raises(ConfigError, match="takes AdapterFile values"):
        await events_of(engine, prompt="Hi", config=config, adapters=["/srv/router.gguf"])


async def test_an_engine_without_adapter_support_refuses_them() -> None:
    class Plain(PinkyEngine):
        _supports_adapters = False

    engine = Plain()
    await engine.load("plain", None, LoadOptions())
    assert EngineBase._supports_adapters is False
    with pytest.raises(UnsupportedError, match="the pinky engine cannot apply LoRA adapters"):
        await events_of(engine, prompt="Hi", config=InferenceConfig(), adapters=[ROUTER])
    assert text_of(await events_of(engine, prompt="Hi", config=InferenceConfig())) == "Hi"
