"""Plain-dict and JSON encoding of protocol messages, through the one converter.

Each message becomes a dict with a ``"type"`` tag (the class name in snake_case)
and its fields; enums become their values and tuples lists. Decoding is strict:
unknown keys, missing fields, wrong types and bad values all raise
:class:`ProtocolError` naming the path of the offending field.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any, Final, TypeVar

from . import _config, _embed, _events, _manifest, _protocol, _tools
from ._converter import check_after, converter, structure, tag, tag_union
from ._errors import ProtocolError
from ._validators import Refusal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["from_dict", "from_json", "message_types", "to_dict", "to_json"]

T = TypeVar("T")

_CLASSES: Final[tuple[type, ...]] = (
    _config.Sampling,
    _config.InferenceConfig,
    _config.LoadOptions,
    _events.Usage,
    _events.ProcessStart,
    _events.ThoughtStart,
    _events.ThoughtDelta,
    _events.ThoughtStop,
    _events.Thought,
    _events.Content,
    _events.ToolCallDelta,
    _events.Complete,
    _events.AssetStarted,
    _events.AssetProgress,
    _events.AssetComplete,
    _events.AssetFailed,
    _manifest.ModelSpec,
    _tools.Tool,
    _tools.ToolCall,
    _tools.ToolChoice,
    _tools.ResponseFormat,
    _protocol.ChatMessage,
    _protocol.LoadModel,
    _protocol.Infer,
    _embed.Embed,
    _protocol.Unload,
    _protocol.Cancel,
    _protocol.ListModels,
    _protocol.Shutdown,
    _protocol.BrainstemInput,
    _protocol.ModelStatus,
    _protocol.ModelList,
    _protocol.ModelLoaded,
    _embed.Embeddings,
    _protocol.Ack,
    _protocol.ErrorReport,
    _protocol.BrainstemOutput,
)


def _progress_within_total(progress: _events.AssetProgress) -> None:
    if progress.total is not None and progress.done > progress.total:
        raise Refusal(f"{progress.done} exceeds total {progress.total}", at=".done")


tag(*_CLASSES)
check_after(_events.AssetProgress, _progress_within_total)
_KNOWN: Final = frozenset(_CLASSES)
_ENCODERS: Final[dict[type, Callable[[Any], dict[str, Any]]]] = {}
"""Each class's unstructure hook, built on first use: ``genius run`` encodes a handful of
event classes, and building all thirty at import cost a cold start about 15 ms."""


@functools.cache
def _unions_tagged() -> None:
    """Register the tagged unions, once, before the first decode (building their hooks
    at import would charge every process that never decodes a message)."""
    for union in (
        _events.ThoughtEvent,
        _events.InferenceEvent,
        _events.AssetEvent,
        _protocol.Command,
        _protocol.OutputBody,
    ):
        tag_union(union)


def message_types() -> tuple[type, ...]:
    """Every class the codec knows, for tests and schema generation."""
    return _CLASSES


def to_dict(message: object) -> dict[str, Any]:
    """Encode a protocol message as JSON-ready plain data."""
    cls = type(message)
    encode = _ENCODERS.get(cls)
    if encode is None:
        if cls not in _KNOWN:
            raise ProtocolError(f"{cls.__name__} is not a protocol message")
        encode = _ENCODERS[cls] = converter.get_unstructure_hook(cls)
    return encode(message)


def to_json(message: object) -> str:
    return json.dumps(to_dict(message), separators=(",", ":"), ensure_ascii=False)


def from_dict(data: object, expected: type[T]) -> T:
    """Decode ``data`` into an ``expected`` message (or one of a union's members).

    ``expected`` may also be a union alias such as ``InferenceEvent``.
    """
    _unions_tagged()
    return structure(data, expected)


def from_json(text: str | bytes, expected: type[T]) -> T:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"$: not valid JSON ({exc})") from None
    return from_dict(data, expected)
