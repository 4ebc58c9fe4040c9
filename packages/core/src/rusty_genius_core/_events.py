"""What engines and the asset authority report while they work.

The library builds these itself, on the token hot path: they carry no attrs validators
(mypy types them). Each field's check (``decoded``) runs where one is decoded instead.
"""

from __future__ import annotations

import enum

import attrs

from ._converter import enums
from ._limits import DURATION, TOKEN_COUNT
from ._record import Record
from ._validators import decoded, non_empty, number

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
    "ToolCallDelta",
    "Usage",
]

_seconds = number(DURATION)
_opt_seconds = number(DURATION, optional=True)
_count = number(TOKEN_COUNT)
_opt_count = number(TOKEN_COUNT, optional=True)
_named = non_empty()


class FinishReason(enum.StrEnum):
    """Why generation ended; the values are OpenAI's, plus ``cancelled`` and ``error``.

    ``tool_calls``: the answer is one or more tool calls (:class:`ToolCallDelta`).
    """

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CANCELLED = "cancelled"
    ERROR = "error"


enums(FinishReason)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Usage(Record):
    """Token counts and timings of one request. Durations are seconds.

    ``time_to_first_token`` is ``None`` when no token was produced.
    """

    prompt_tokens: int = attrs.field(default=0, metadata=decoded(_count))
    completion_tokens: int = attrs.field(default=0, metadata=decoded(_count))
    time_to_first_token: float | None = attrs.field(default=None, metadata=decoded(_opt_seconds))
    load_duration: float = attrs.field(default=0.0, metadata=decoded(_seconds))
    prompt_duration: float = attrs.field(default=0.0, metadata=decoded(_seconds))
    decode_duration: float = attrs.field(default=0.0, metadata=decoded(_seconds))
    decode_tokens_per_second: float = attrs.field(default=0.0, metadata=decoded(_seconds))
    finish_reason: FinishReason = FinishReason.STOP

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ProcessStart(Record):
    """The engine accepted the request; ``cold`` when it had to load the model first."""

    model: str = ""
    cold: bool = False


@attrs.frozen(repr=False, eq=False)
class ThoughtStart(Record):
    """The model opened a ``<think>`` block."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ThoughtDelta(Record):
    text: str


@attrs.frozen(repr=False, eq=False)
class ThoughtStop(Record):
    """The ``<think>`` block closed, or generation ended inside it."""


ThoughtEvent = ThoughtStart | ThoughtDelta | ThoughtStop


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Thought(Record):
    event: ThoughtEvent


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Content(Record):
    text: str


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolCallDelta(Record):
    """A piece of tool call number ``index`` (from 0) of this answer, as OpenAI streams them.

    A call's first delta carries its ``id`` and ``name`` (and usually empty ``arguments``);
    the following deltas carry only fragments of ``arguments``, which concatenate to a JSON
    object. :class:`~rusty_genius_core.ToolCallCollector` assembles them.
    """

    index: int = attrs.field(metadata=decoded(_count))
    id: str | None = attrs.field(default=None, metadata=decoded(non_empty(optional=True)))
    name: str | None = attrs.field(default=None, metadata=decoded(non_empty(optional=True)))
    arguments: str = ""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Complete(Record):
    """The last event of every request, also after cancellation or an error."""

    usage: Usage = attrs.field(factory=Usage)


InferenceEvent = ProcessStart | Thought | Content | ToolCallDelta | Complete


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AssetStarted(Record):
    """A download of ``filename`` for ``reference`` began; ``total`` bytes if known."""

    reference: str = attrs.field(metadata=decoded(_named))
    filename: str = attrs.field(metadata=decoded(_named))
    total: int | None = attrs.field(default=None, metadata=decoded(_opt_count))


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AssetProgress(Record):
    """Bytes ``done`` of ``total`` for ``filename`` (resumed bytes count as done)."""

    filename: str = attrs.field(metadata=decoded(_named))
    done: int = attrs.field(metadata=decoded(_count))
    total: int | None = attrs.field(default=None, metadata=decoded(_opt_count))

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return self.done / self.total


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AssetComplete(Record):
    """The model is verified and on disk at ``path``; ``cached`` when nothing was fetched."""

    reference: str = attrs.field(metadata=decoded(_named))
    path: str = attrs.field(metadata=decoded(_named))
    cached: bool = False


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AssetFailed(Record):
    """Resolving or fetching ``reference`` failed. (The exception is ``AssetError``.)"""

    reference: str
    message: str = attrs.field(metadata=decoded(_named))


AssetEvent = AssetStarted | AssetProgress | AssetComplete | AssetFailed
