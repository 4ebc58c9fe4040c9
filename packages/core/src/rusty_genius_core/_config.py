"""Inference and load settings.

Behaviour (how long, which stops, whether thoughts are shown) is kept apart from
sampling (how each token is drawn), because servers and fixtures override them
separately and greedy decoding must be one obvious call: ``Sampling.greedy()``.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._errors import ConfigError
from ._limits import (
    CONTEXT_SIZE,
    GPU_LAYERS,
    MAX_STOP_STRINGS,
    MAX_TOKENS,
    MIN_P,
    PARALLEL,
    REPEAT_PENALTY,
    SEED,
    TEMPERATURE,
    THREADS,
    TOP_K,
    TOP_P,
    Limit,
)
from ._record import Record
from ._validators import Refusal, as_tuple, as_validator, at_most, each_is, number_in, typed

__all__ = ["InferenceConfig", "LoadOptions", "Sampling"]


def _number(default: float, limit: Limit) -> Any:
    """A number field within one of core's limits (a :class:`ConfigError` outside it)."""
    return attrs.field(default=default, validator=number_in(limit, ConfigError))


def _setting(limit: Limit) -> Any:
    """An optional number field within ``limit``; ``None`` leaves the choice to the engine."""
    return attrs.field(default=None, validator=number_in(limit, ConfigError, optional=True))


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Sampling(Record):
    """How the next token is drawn. ``temperature == 0`` means greedy (argmax)."""

    temperature: float = _number(0.8, TEMPERATURE)
    top_p: float = _number(0.95, TOP_P)
    top_k: int = _number(40, TOP_K)
    min_p: float = _number(0.05, MIN_P)
    repeat_penalty: float = _number(1.0, REPEAT_PENALTY)

    @classmethod
    def greedy(cls) -> Sampling:
        """Deterministic argmax decoding, as fixtures and benchmarks use."""
        return cls(temperature=0.0, top_p=1.0, top_k=1, min_p=0.0, repeat_penalty=1.0)

    @property
    def is_greedy(self) -> bool:
        return self.temperature == 0.0 or self.top_k == 1


def _stop(value: Any) -> Any:
    if not isinstance(value, tuple):
        raise Refusal(f"must be a tuple, got {value!r}")
    each_is(value, str, "str")
    for i, s in enumerate(value):
        if not s:
            raise Refusal("must be a non-empty string", at=f"[{i}]")
    at_most(value, MAX_STOP_STRINGS, "strings")
    return value


@attrs.frozen(kw_only=True, repr=False, eq=False)
class InferenceConfig(Record):
    """Per-request behaviour plus its :class:`Sampling`.

    ``context_size`` of ``None`` keeps the loaded model's context; ``raw`` sends a
    plain prompt to the model as-is instead of wrapping it in the chat template.
    ``cache_prompt`` (llama-server's option) lets the request reuse KV cells a slot
    kept from an earlier request with the same prefix: faster, but its logits may
    differ in the last bits from a fresh evaluation; ``None`` reuses unless the
    request has a ``seed`` (so a seeded request run alone always gives the same text).
    """

    max_tokens: int = _number(512, MAX_TOKENS)
    context_size: int | None = _setting(CONTEXT_SIZE)
    show_thinking: bool = attrs.field(default=True, validator=typed(bool, ConfigError))
    stop: tuple[str, ...] = attrs.field(
        default=(), converter=as_tuple, validator=as_validator(_stop, ConfigError)
    )
    seed: int | None = _setting(SEED)
    parallel: int | None = _setting(PARALLEL)
    threads_batch: int | None = _setting(THREADS)
    raw: bool = attrs.field(default=False, validator=typed(bool, ConfigError))
    cache_prompt: bool | None = attrs.field(
        default=None, validator=typed((bool, type(None)), ConfigError)
    )
    sampling: Sampling = attrs.field(factory=Sampling, validator=typed(Sampling, ConfigError))

    @classmethod
    def greedy(cls, **changes: object) -> InferenceConfig:
        """A config with :meth:`Sampling.greedy` and the given behaviour fields."""
        return cls(sampling=Sampling.greedy(), **changes)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LoadOptions(Record):
    """How an engine loads a model. ``None`` leaves the choice to the engine.

    ``gpu_layers=-1`` offloads every layer (the default when a GPU build is present).
    ``parallel`` is how many requests the model serves at once, each with its own
    ``context_size`` (the engine allocates ``parallel * context_size``); ``threads``
    and ``threads_batch`` are llama.cpp's generation and prompt threads.
    """

    context_size: int | None = _setting(CONTEXT_SIZE)
    gpu_layers: int | None = _setting(GPU_LAYERS)
    threads: int | None = _setting(THREADS)
    seed: int | None = _setting(SEED)
    parallel: int | None = _setting(PARALLEL)
    threads_batch: int | None = _setting(THREADS)
    chat_template: str | None = attrs.field(
        default=None, validator=typed((str, type(None)), ConfigError)
    )
    """A Jinja chat template used instead of the GGUF's ``tokenizer.chat_template``
    (llama-server's ``--chat-template``); a created model's ``TEMPLATE`` sets it."""
