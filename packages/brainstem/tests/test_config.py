"""One frozen BrainstemConfig carries the settings from the facade down to the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import pytest

from rusty_genius_core import ConfigError, FinishReason, LoadModel, ModelLoaded
from rusty_genius_cortex import PinkyEngine
from rusty_genius_stem import (
    DEFAULT_MAX_QUEUE,
    DEFAULT_STOP_TIMEOUT,
    BrainstemConfig,
    HibernateAfter,
    Immediate,
    Orchestrator,
    default_engine_factory,
    open_brainstem,
)
from rusty_genius_testhub.requests import finish, infer

if TYPE_CHECKING:
    from conftest import FakeAssets, Lab


def test_the_defaults() -> None:
    config = BrainstemConfig()
    assert config.engine_factory is default_engine_factory
    assert config.strategy == HibernateAfter()
    assert (config.parallelism, config.max_queue, config.max_loaded) == (None, DEFAULT_MAX_QUEUE, 1)
    assert config.max_memory is None
    assert config.fetch_assets is False
    assert config.stop_timeout == DEFAULT_STOP_TIMEOUT
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.max_loaded = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("parallelism", 0, "parallelism must be an integer >= 1, got 0"),
        ("max_queue", True, "max_queue must be an integer >= 1, got True"),
        ("max_loaded", 1.5, "max_loaded must be an integer >= 1, got 1.5"),
        ("max_memory", 0, "max_memory must be a positive number of bytes or None, got 0"),
        ("stop_timeout", float("nan"), "stop_timeout must be a positive number of seconds"),
        ("strategy", "forever", "strategy must be Immediate, HibernateAfter or KeepAlive"),
        ("engine_factory", 3, "engine_factory must be callable, got 3"),
    ],
)
def test_a_bad_setting_is_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        BrainstemConfig(**{field: value})  # type: ignore[arg-type]


def test_a_set_parallelism_is_kept() -> None:
    assert BrainstemConfig(parallelism=3).parallelism == 3  # None: the engine's own


def test_keywords_apply_over_a_config(assets: FakeAssets) -> None:
    base = BrainstemConfig(max_loaded=3, strategy=Immediate())
    stem = Orchestrator(assets, base, max_queue=7)
    assert stem.config == attrs.evolve(base, max_queue=7)
    assert (stem.max_loaded, stem.max_queue, stem.strategy) == (3, 7, Immediate())
    assert Orchestrator(assets, base).config is base
    with pytest.raises(ConfigError, match="config must be a BrainstemConfig"):
        Orchestrator(assets, {"max_loaded": 2})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Orchestrator(assets, parallel=2)  # type: ignore[call-arg]


async def test_open_brainstem_takes_the_whole_config(assets: FakeAssets, lab: Lab) -> None:
    config = BrainstemConfig(engine_factory=lab.factory(), strategy=Immediate())
    async with open_brainstem(assets, config) as client:
        assert finish(await client.call(infer("hello"))) is FinishReason.STOP
        assert lab.log.loaded == []  # Immediate came through: unloaded after the request
    async with open_brainstem(assets, config, engine_factory=PinkyEngine) as client:
        assert isinstance(await client.call(LoadModel(model="alpha")), ModelLoaded)
    assert lab.log.created == 1  # the keyword replaced the config's factory
