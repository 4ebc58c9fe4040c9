"""Genius hands the brainstem one BrainstemConfig: built from its keywords, or given whole."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rusty_genius.brainstem import BrainstemConfig, Immediate, KeepAlive
from rusty_genius.engines import PinkyEngine

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius import Genius


def test_the_keywords_become_one_config(make_genius: Callable[..., Genius]) -> None:
    genius = make_genius(strategy=Immediate(), max_loaded=2, max_memory=10**9, stop_timeout=3)
    config = genius.brainstem_config
    assert isinstance(config, BrainstemConfig)
    assert (config.strategy, config.max_loaded, config.max_memory) == (Immediate(), 2, 10**9)
    assert config.stop_timeout == 3.0
    assert config.engine_factory().backend == "pinky"  # the backend's factory


async def test_a_whole_config_goes_to_the_brainstem(make_genius: Callable[..., Genius]) -> None:
    given = BrainstemConfig(strategy=KeepAlive(), max_loaded=3)
    genius = make_genius(config=given, max_loaded=9)  # the keywords yield to the config
    assert genius.brainstem_config.max_loaded == 3
    assert genius.brainstem_config.engine_factory().backend == "pinky"  # unset: the backend's
    own = BrainstemConfig(engine_factory=PinkyEngine)
    assert make_genius(config=own, backend="auto").brainstem_config is own
    async with make_genius(config=given) as running:
        answer = await running.complete("any-name", "hello there")
        assert answer.content
        loaded = await running.ps()
        assert [m.expires_at for m in loaded] == [None]  # KeepAlive came through
