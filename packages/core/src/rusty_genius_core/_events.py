"""What engines and the asset authority report while they work."""

from __future__ import annotations

import enum

import attrs

from ._errors import ProtocolError
from ._limits import DURATION, TOKEN_COUNT
from ._validators import enum_converter, non_empty_str, number_in, typed

__all__ = [
    "AssetComplete",
    "AssetEvent",
    "AssetFailed",
    "AssetProgress",
    "AssetStarted",
    "Complete",
    "Content",
    "FinishReason",
    "InferenceEvent",
    "ProcessStart",
    "Thought",
    "ThoughtDelta",
    "ThoughtEvent",
    "ThoughtStart",
    "ThoughtStop",
    "Usage",
]

_seconds = number_in(DURATION, ProtocolError)
_opt_seconds = number_in(DURATION, ProtocolError, optional=True)
_count = number_in(TOKEN_COUNT, ProtocolError)
_opt_count = number_in(TOKEN_COUNT, ProtocolError, optional=True)


class FinishReason(enum.StrEnum):
    """Why generation ended; the values are OpenAI's, plus ``cancelled`` and ``error``."""

    STOP = "stop"
    LENGTH = "length"
    CANCELLED = "cancelled"
    ERROR = "error"


def _finish_reason(value: object) -> FinishReason:
    return enum_converter(FinishReason, ProtocolError, "Usage.finish_reason")(value)


@attrs.frozen(kw_only=True)
class Usage:
    """Token counts and timings of one request. Durations are seconds.

    ``time_to_first_token`` is ``None`` when no token was produced.
    """

    prompt_tokens: int = attrs.field(default=0, validator=_count)
    completion_tokens: int = attrs.field(default=0, validator=_count)
    time_to_first_token: float | None = attrs.field(default=None, validator=_opt_seconds)
    load_duration: float = attrs.field(default=0.0, validator=_seconds)
    prompt_duration: float = attrs.field(default=0.0, validator=_seconds)
    decode_duration: float = attrs.field(default=0.0, validator=_seconds)
    decode_tokens_per_second: float = attrs.field(default=0.0, validator=_seconds)
    finish_reason: FinishReason = attrs.field(
        default=FinishReason.STOP,
        converter=_finish_reason,
        validator=typed(FinishReason, ProtocolError),
    )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen(kw_only=True)
class ProcessStart:
    """The engine accepted the request; ``cold`` when it had to load the model first."""

    model: str = attrs.field(default="", validator=typed(str, ProtocolError))
    cold: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))


@attrs.frozen
class ThoughtStart:
    """The model opened a ``<think>`` block."""


@attrs.frozen(kw_only=True)
class ThoughtDelta:
    text: str = attrs.field(validator=typed(str, ProtocolError))


@attrs.frozen
class ThoughtStop:
    """The ``<think>`` block closed, or generation ended inside it."""


ThoughtEvent = ThoughtStart | ThoughtDelta | ThoughtStop


@attrs.frozen(kw_only=True)
class Thought:
    event: ThoughtEvent = attrs.field(
        validator=typed((ThoughtStart, ThoughtDelta, ThoughtStop), ProtocolError)
    )


@attrs.frozen(kw_only=True)
class Content:
    text: str = attrs.field(validator=typed(str, ProtocolError))


@attrs.frozen(kw_only=True)
class Complete:
    """The last event of every request, also after cancellation or an error."""

    usage: Usage = attrs.field(factory=Usage, validator=typed(Usage, ProtocolError))


InferenceEvent = ProcessStart | Thought | Content | Complete


@attrs.frozen(kw_only=True)
class AssetStarted:
    """A download of ``filename`` for ``reference`` began; ``total`` bytes if known."""

    reference: str = attrs.field(validator=non_empty_str(ProtocolError))
    filename: str = attrs.field(validator=non_empty_str(ProtocolError))
    total: int | None = attrs.field(default=None, validator=_opt_count)


@attrs.frozen(kw_only=True)
class AssetProgress:
    """Bytes ``done`` of ``total`` for ``filename`` (resumed bytes count as done)."""

    filename: str = attrs.field(validator=non_empty_str(ProtocolError))
    done: int = attrs.field(validator=_count)
    total: int | None = attrs.field(default=None, validator=_opt_count)

    def __attrs_post_init__(self) -> None:
        # After the field validators, so a bad ``total`` is blamed on ``total``.
        if self.total is not None and self.done > self.total:
            raise ProtocolError(f"AssetProgress.done {self.done} exceeds total {self.total}")

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return self.done / self.total


@attrs.frozen(kw_only=True)
class AssetComplete:
    """The model is verified and on disk at ``path``; ``cached`` when nothing was fetched."""

    reference: str = attrs.field(validator=non_empty_str(ProtocolError))
    path: str = attrs.field(validator=non_empty_str(ProtocolError))
    cached: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))


@attrs.frozen(kw_only=True)
class AssetFailed:
    """Resolving or fetching ``reference`` failed. (The exception is ``AssetError``.)"""

    reference: str = attrs.field(validator=typed(str, ProtocolError))
    message: str = attrs.field(validator=non_empty_str(ProtocolError))


AssetEvent = AssetStarted | AssetProgress | AssetComplete | AssetFailed
