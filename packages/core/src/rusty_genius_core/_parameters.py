"""A created model's request defaults (a Modelfile's ``PARAMETER`` lines).

:class:`Parameters` is :class:`~rusty_genius_core.InferenceConfig` and
:class:`~rusty_genius_core.LoadOptions` with every field optional: what a model entry
sets, a request's own options override. Its fields carry the library's names
(``max_tokens``, ``context_size``) and the same bounds from :mod:`._limits`; a
Modelfile's Ollama names (``num_predict``, ``num_ctx``) map onto them through
:data:`OLLAMA_NAMES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from ._config import InferenceConfig, LoadOptions, Sampling, _stop
from ._errors import ConfigError
from ._limits import (
    CONTEXT_SIZE,
    MAX_CONTEXT,
    MAX_TOKENS,
    MIN_P,
    REPEAT_PENALTY,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
)
from ._record import Record
from ._validators import as_tuple, as_validator, number_in, optional

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["OLLAMA_NAMES", "PARAMETER_LIMITS", "SAMPLING_FIELDS", "Parameters"]

OLLAMA_NAMES: Final = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repeat_penalty": "repeat_penalty",
    "seed": "seed",
    "num_predict": "max_tokens",
    "stop": "stop",
    "num_ctx": "context_size",
}
"""Ollama's parameter names (a Modelfile's, ``/api/create``'s) to :class:`Parameters`' fields."""

PARAMETER_LIMITS: Final = {
    "temperature": TEMPERATURE,
    "top_p": TOP_P,
    "top_k": TOP_K,
    "min_p": MIN_P,
    "repeat_penalty": REPEAT_PENALTY,
    "seed": SEED,
    "max_tokens": MAX_TOKENS,
    "context_size": CONTEXT_SIZE,
}
"""The bound of each numeric field of :class:`Parameters` (the chat's ``/set parameter``
checks its values against the same table)."""
SAMPLING_FIELDS: Final = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty")
"""The fields that belong to a request's :class:`~rusty_genius_core.Sampling`."""
_INTEGERS: Final = frozenset({"top_k", "seed", "max_tokens", "context_size"})


def _ollama_value(name: str, value: Any) -> Any:
    """A Modelfile's text for parameter ``name`` as the number or string it stands for."""
    field = OLLAMA_NAMES[name]
    if field == "stop" or not isinstance(value, str):
        return value
    try:
        return int(value) if field in _INTEGERS else float(value)
    except ValueError:
        kind = "an integer" if field in _INTEGERS else "a number"
        raise ConfigError(f"parameter {name!r} must be {kind}, got {value!r}") from None


def _opt(field: str) -> Any:
    return number_in(PARAMETER_LIMITS[field], ConfigError, optional=True)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Parameters(Record):
    """Sampling and context defaults; ``None`` leaves a field to the request or the library."""

    temperature: float | None = attrs.field(default=None, validator=_opt("temperature"))
    top_p: float | None = attrs.field(default=None, validator=_opt("top_p"))
    top_k: int | None = attrs.field(default=None, validator=_opt("top_k"))
    min_p: float | None = attrs.field(default=None, validator=_opt("min_p"))
    repeat_penalty: float | None = attrs.field(default=None, validator=_opt("repeat_penalty"))
    seed: int | None = attrs.field(default=None, validator=_opt("seed"))
    max_tokens: int | None = attrs.field(default=None, validator=_opt("max_tokens"))
    stop: tuple[str, ...] | None = attrs.field(
        default=None, converter=as_tuple, validator=as_validator(optional(_stop), ConfigError)
    )
    context_size: int | None = attrs.field(default=None, validator=_opt("context_size"))

    @classmethod
    def from_ollama(cls, values: Mapping[str, Any]) -> Parameters:
        """Ollama-named parameters (``/api/create``'s object, a Modelfile's ``PARAMETER``
        lines as text) as a record; an unknown name or a bad value is a ConfigError
        naming the parameter. ``stop`` may be one string or a list of them."""
        fields: dict[str, Any] = {}
        for name, raw in values.items():
            field = OLLAMA_NAMES.get(name)
            if field is None:
                raise ConfigError(
                    f"unknown parameter {name!r}; supported: {', '.join(OLLAMA_NAMES)}"
                )
            value = _ollama_value(name, raw)
            if field == "stop" and isinstance(value, str):
                value = (value,)
            try:
                cls(**{field: value})
            except ConfigError as exc:
                words = exc.message.removeprefix(f"Parameters.{field}").strip()
                raise ConfigError(f"parameter {name!r} {words}") from None
            fields[field] = value
        return cls(**fields)

    def to_ollama(self) -> dict[str, Any]:
        """The set fields under Ollama's names (``/api/create``'s ``parameters`` object)."""
        names = {ours: theirs for theirs, ours in OLLAMA_NAMES.items()}
        return {names[k]: list(v) if k == "stop" else v for k, v in self.set_fields().items()}

    @property
    def empty(self) -> bool:
        return all(v is None for v in attrs.astuple(self, recurse=False))

    def set_fields(self) -> dict[str, Any]:
        """The fields this record sets, by name, in declaration order."""
        return {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}

    def over(self, base: Parameters) -> Parameters:
        """This record's set fields over ``base``'s."""
        return Parameters(**{**base.set_fields(), **self.set_fields()})

    def under(self, config: InferenceConfig) -> InferenceConfig:
        """``config`` with these defaults in the fields it left at the library's defaults.

        A request's config cannot say which fields its sender chose, so a field holding
        the library's default (``InferenceConfig()``, ``Sampling()``; ``max_tokens`` also
        at the server's "no limit") counts as unset and takes this record's value.
        ``context_size`` is not a request's: the model loads with it (:meth:`load_options`).
        """
        if self.empty:
            return config
        plain, sampling = InferenceConfig(), Sampling()
        mine = self.set_fields()
        changes: dict[str, Any] = {}
        for name in ("seed", "stop"):  # context_size is a load's: see load_options
            if name in mine and getattr(config, name) == getattr(plain, name):
                changes[name] = mine[name]
        if "max_tokens" in mine and config.max_tokens in (plain.max_tokens, MAX_CONTEXT):
            changes["max_tokens"] = mine["max_tokens"]
        drawn = {
            name: mine[name]
            for name in SAMPLING_FIELDS
            if name in mine and getattr(config.sampling, name) == getattr(sampling, name)
        }
        if drawn:
            changes["sampling"] = attrs.evolve(config.sampling, **drawn)
        return attrs.evolve(config, **changes) if changes else config

    def load_options(self, base: LoadOptions) -> LoadOptions:
        """``base`` with this record's context size where ``base`` sets none."""
        if self.context_size is None or base.context_size is not None:
            return base
        return attrs.evolve(base, context_size=self.context_size)

    def ollama_lines(self) -> list[tuple[str, str]]:
        """``(ollama name, value)`` pairs, one per stop string, as ``/api/show`` lists them."""
        names = {ours: theirs for theirs, ours in OLLAMA_NAMES.items()}
        lines: list[tuple[str, str]] = []
        for name, value in self.set_fields().items():
            if name == "stop":
                lines += [(names[name], f'"{s}"') for s in value]
            elif isinstance(value, float) and value.is_integer():
                lines.append((names[name], str(int(value))))  # as Ollama prints 0.0: 0
            else:
                lines.append((names[name], str(value)))
        return lines
