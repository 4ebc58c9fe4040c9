"""The chat's ``/set parameter NAME VALUE``: Ollama's parameter names over ``InferenceConfig``.

Names and bounds come from core's table for a Modelfile's ``PARAMETER`` lines
(:data:`~rusty_genius_core.OLLAMA_NAMES`, :data:`~rusty_genius_core.PARAMETER_LIMITS`), and
a wrong name gets a "did you mean".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

import attrs

from rusty_genius_core import OLLAMA_NAMES, PARAMETER_LIMITS, SAMPLING_FIELDS, ConfigError
from rusty_genius_core.limits import MAX_STOP_STRINGS

from ._suggest import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rusty_genius_core import InferenceConfig
    from rusty_genius_core.limits import Limit

__all__ = ["PARAMETERS", "describe_parameters", "set_parameter"]

_SAMPLING: Final = {
    name: PARAMETER_LIMITS[field]
    for name, field in OLLAMA_NAMES.items()
    if field in SAMPLING_FIELDS
}
_OTHER: Final = {
    name: (field, PARAMETER_LIMITS[field])
    for name, field in OLLAMA_NAMES.items()
    if field in PARAMETER_LIMITS and field not in SAMPLING_FIELDS
}
PARAMETERS: Final = (*_SAMPLING, *_OTHER, "stop")
"""The parameter names ``/set parameter`` takes, as Ollama names them."""


def set_parameter(config: InferenceConfig, name: str, words: Sequence[str]) -> InferenceConfig:
    """``config`` with parameter ``name`` set from ``words``; ConfigError naming what is wrong."""
    if name not in PARAMETERS:
        raise ConfigError(
            f"unknown parameter {name!r}{did_you_mean(name, PARAMETERS)}; "
            f"the parameters are {', '.join(PARAMETERS)}"
        )
    if not words:
        raise ConfigError(f"/set parameter {name} needs a value")
    if name == "stop":
        if len(words) > MAX_STOP_STRINGS:
            raise ConfigError(f"stop takes at most {MAX_STOP_STRINGS} strings, got {len(words)}")
        return attrs.evolve(config, stop=tuple(words))
    if len(words) > 1:
        raise ConfigError(f"{name} takes one value, got {len(words)}: {' '.join(words)}")
    changes: dict[str, Any]
    if name in _SAMPLING:
        changes = {name: _number(name, words[0], _SAMPLING[name])}
        return attrs.evolve(config, sampling=attrs.evolve(config.sampling, **changes))
    field, limit = _OTHER[name]
    changes = {field: _number(name, words[0], limit)}
    return attrs.evolve(config, **changes)


def _number(name: str, text: str, limit: Limit) -> float:
    try:
        value: float = int(text) if limit.integer else float(text)
    except ValueError:
        kind = "a whole number" if limit.integer else "a number"
        raise ConfigError(f"{name} must be {kind} {limit.describe()}, got {text!r}") from None
    if not math.isfinite(value) or not limit.contains(value):
        raise ConfigError(f"{name} must be {limit.describe()}, got {text}")
    return value


def describe_parameters(config: InferenceConfig) -> list[tuple[str, str]]:
    """The parameters as ``/set parameter`` names them, with their values now."""
    sampling = config.sampling
    rows = [(name, f"{getattr(sampling, name):g}") for name in _SAMPLING]
    rows.append(("seed", "random" if config.seed is None else str(config.seed)))
    rows.append(("num_predict", str(config.max_tokens)))
    context = config.context_size
    rows.append(("num_ctx", "the model's default" if context is None else str(context)))
    rows.append(("stop", " ".join(repr(s) for s in config.stop) or "(none)"))
    return rows
