"""The brainstem's settings, as one frozen record passed whole from the facade down."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Final, TypedDict

import attrs

from rusty_genius_core import ConfigError
from rusty_genius_core._record import Record
from rusty_genius_cortex import Engine

from ._strategy import CortexStrategy, HibernateAfter, Immediate, KeepAlive

__all__ = [
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_STOP_TIMEOUT",
    "BrainstemConfig",
    "BrainstemSettings",
    "default_engine_factory",
]

DEFAULT_STOP_TIMEOUT: Final = 10.0
"""Seconds an engine has to stop a request it was asked to stop, before it is abandoned."""

DEFAULT_MAX_QUEUE: Final = 512
"""Requests that may wait at once before new ones get ``BusyError`` (Ollama's default)."""


def default_engine_factory() -> Engine:
    """cortex's best available engine: llama.cpp when installed, else Pinky."""
    from rusty_genius_cortex import create_engine

    engine: Engine = create_engine("auto")
    return engine


def _strategy(inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Immediate | HibernateAfter | KeepAlive):
        raise ConfigError(
            f"BrainstemConfig strategy must be Immediate, HibernateAfter or KeepAlive, "
            f"got {value!r}"
        )


def _count(inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"BrainstemConfig {attribute.name} must be an integer >= 1, got {value!r}"
        )


def _optional_count(inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _count(inst, attribute, value)


def _bytes(inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(
            f"BrainstemConfig {attribute.name} must be a positive number of bytes or None, "
            f"got {value!r}"
        )


def _seconds(inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(
            f"BrainstemConfig {attribute.name} must be a positive number of seconds, got {value!r}"
        )


def _callable(inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise ConfigError(f"BrainstemConfig {attribute.name} must be callable, got {value!r}")


def _default_strategy(value: Any) -> Any:
    return HibernateAfter() if value is None else value


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


@attrs.frozen(kw_only=True, repr=False, eq=False)
class BrainstemConfig(Record):
    """How a brainstem schedules, built once and passed whole (``open_brainstem``, ``Genius``).

    ``engine_factory`` makes one engine per loaded model (default: cortex's
    ``create_engine("auto")``). ``parallelism`` requests run at once per loaded model
    (its slots; ``None``, the default: the loaded engine's own ``parallel``, four sequences
    for llama.cpp, the upstream's slots for a remote server, one before it has loaded or
    for engines without the attribute; a number is also passed to the engine as
    ``LoadOptions.parallel`` where a load leaves it open); others wait FIFO, at most ``max_queue`` of them (then ``BusyError``).
    ``max_loaded`` models stay loaded at once; switching to another model (or other
    load options) unloads the least recently used idle one first. ``max_memory``
    (bytes, ``None`` for no limit) bounds the sum of the loaded models' estimated
    footprints (their weights files' sizes) the same way; a model larger than the whole
    budget fails its request with ``EngineError``. Engines that need no weights (Pinky)
    skip downloads unless ``fetch_assets``. ``strategy`` says when an idle model
    unloads (default :class:`HibernateAfter`). ``stop_timeout`` (seconds) is how long an
    engine has to end a request it was asked to stop before it is abandoned.
    ``wall_clock`` turns deadlines into the Unix times ``ListModels`` reports.
    """

    engine_factory: Callable[[], Engine] = attrs.field(
        default=default_engine_factory, validator=_callable
    )
    strategy: CortexStrategy = attrs.field(
        factory=HibernateAfter, converter=_default_strategy, validator=_strategy
    )
    parallelism: int | None = attrs.field(default=None, validator=_optional_count)
    max_queue: int = attrs.field(default=DEFAULT_MAX_QUEUE, validator=_count)
    max_loaded: int = attrs.field(default=1, validator=_count)
    max_memory: int | None = attrs.field(default=None, validator=_bytes)
    fetch_assets: bool = attrs.field(default=False, converter=bool)
    wall_clock: Callable[[], float] = attrs.field(default=time.time, validator=_callable)
    stop_timeout: float = attrs.field(
        default=DEFAULT_STOP_TIMEOUT,
        validator=_seconds,
        converter=_float,
    )


class BrainstemSettings(TypedDict, total=False):
    """The fields of :class:`BrainstemConfig` as keywords, for the older signatures."""

    engine_factory: Callable[[], Engine]
    strategy: CortexStrategy | None
    parallelism: int | None
    max_queue: int
    max_loaded: int
    max_memory: int | None
    fetch_assets: bool
    wall_clock: Callable[[], float]
    stop_timeout: float


def make_config(config: BrainstemConfig | None, settings: BrainstemSettings) -> BrainstemConfig:
    """``config`` (default: the defaults) with ``settings`` applied over it."""
    base = BrainstemConfig() if config is None else config
    if not isinstance(base, BrainstemConfig):
        raise ConfigError(f"config must be a BrainstemConfig, got {base!r}")
    return attrs.evolve(base, **settings) if settings else base
