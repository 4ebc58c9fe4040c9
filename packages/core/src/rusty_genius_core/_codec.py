"""Plain-dict and JSON encoding of protocol messages.

Kept apart from the classes on purpose: attrs builds values, this module decides
their wire shape. Each message becomes a dict with a ``"type"`` tag (the class
name in snake_case) and its fields; enums become their values and tuples lists.
Decoding is strict: unknown keys, missing fields, wrong types and bad values all
raise :class:`ProtocolError` naming the path of the offending field.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import attrs

from . import _config, _events, _manifest, _protocol
from ._errors import GeniusError, ProtocolError

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
    _events.Complete,
    _events.AssetStarted,
    _events.AssetProgress,
    _events.AssetComplete,
    _events.AssetFailed,
    _manifest.ModelSpec,
    _protocol.ChatMessage,
    _protocol.LoadModel,
    _protocol.Infer,
    _protocol.Unload,
    _protocol.Cancel,
    _protocol.ListModels,
    _protocol.Shutdown,
    _protocol.BrainstemInput,
    _protocol.ModelStatus,
    _protocol.ModelList,
    _protocol.ModelLoaded,
    _protocol.Ack,
    _protocol.ErrorReport,
    _protocol.BrainstemOutput,
)


def _tag(cls: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


_TAG_OF: Final = {cls: _tag(cls) for cls in _CLASSES}
_CLASS_OF: Final = {tag: cls for cls, tag in _TAG_OF.items()}
_HINTS: dict[type, dict[str, Any]] = {}


def message_types() -> tuple[type, ...]:
    """Every class the codec knows, for tests and schema generation."""
    return _CLASSES


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        module = __import__(cls.__module__, fromlist=["_"])
        hints = typing.get_type_hints(cls, globalns=vars(module))
        _HINTS[cls] = hints
    return hints


def to_dict(message: object) -> dict[str, Any]:
    """Encode a protocol message as JSON-ready plain data."""
    cls = type(message)
    tag = _TAG_OF.get(cls)
    if tag is None:
        raise ProtocolError(f"{cls.__name__} is not a protocol message")
    out: dict[str, Any] = {"type": tag}
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        out[field.name] = _encode(getattr(message, field.name))
    return out


def _encode(value: object) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if type(value) in _TAG_OF:
        return to_dict(value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def to_json(message: object) -> str:
    return json.dumps(to_dict(message), separators=(",", ":"), ensure_ascii=False)


def from_dict(data: object, expected: type[T]) -> T:
    """Decode ``data`` into an ``expected`` message (or one of a union's members).

    ``expected`` may also be a union alias such as ``InferenceEvent``.
    """
    value = _decode(data, expected, "$")
    return typing.cast("T", value)


def from_json(text: str | bytes, expected: type[T]) -> T:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"$: not valid JSON ({exc})") from None
    return from_dict(data, expected)


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("rusty_genius_core._events.", "").replace("rusty_genius_core.", "")


def _decode(value: object, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(value, typing.get_args(hint), path)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise ProtocolError(f"{path}: expected a list, got {_show(value)}")
        return tuple(_decode(v, item, f"{path}[{i}]") for i, v in enumerate(value))
    if hint is type(None) or hint is None:
        if value is not None:
            raise ProtocolError(f"{path}: expected null, got {_show(value)}")
        return None
    if hint is bool:
        if not isinstance(value, bool):
            raise ProtocolError(f"{path}: expected a boolean, got {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(f"{path}: expected an integer, got {_show(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"{path}: expected a number, got {_show(value)}")
        return _as_float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ProtocolError(f"{path}: expected a string, got {_show(value)}")
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in hint)
            raise ProtocolError(f"{path}: {_show(value)} is not one of {allowed}") from None
    if isinstance(hint, type) and hint in _TAG_OF:
        return _decode_message(value, (hint,), path)
    raise ProtocolError(f"{path}: cannot decode type {_type_name(hint)}")  # pragma: no cover


def _as_float(value: int | float) -> int | float:
    """An int as float when a float holds it exactly; otherwise the int itself.

    The classes accept ints in float fields, so a huge int must neither overflow
    (``float(10**400)``) nor lose digits on its way back.
    """
    if isinstance(value, float):
        return value
    try:
        as_float = float(value)
    except OverflowError:
        return value
    return as_float if as_float == value else value


def _decode_union(value: object, options: tuple[Any, ...], path: str) -> Any:
    if value is None:
        if type(None) in options:
            return None
        raise ProtocolError(f"{path}: must not be null")
    others = tuple(o for o in options if o is not type(None))
    if len(others) == 1:  # ``X | None``: X's own error names the exact field
        return _decode(value, others[0], path)
    messages = tuple(o for o in options if isinstance(o, type) and o in _TAG_OF)
    if messages and isinstance(value, Mapping):
        return _decode_message(value, messages, path)
    for option in options:
        if option is type(None) or option in messages:
            continue
        try:
            return _decode(value, option, path)
        except ProtocolError:
            continue
    names = " or ".join(_type_name(o) for o in options)
    raise ProtocolError(f"{path}: expected {names}, got {_show(value)}")


def _decode_message(value: object, classes: tuple[type, ...], path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{path}: expected an object, got {_show(value)}")
    tag = value.get("type")
    if tag is None:
        if len(classes) != 1:
            raise ProtocolError(f"{path}.type: missing; expected one of {_tags(classes)}")
        cls = classes[0]
    else:
        found = _CLASS_OF.get(tag) if isinstance(tag, str) else None
        if found is None or found not in classes:
            raise ProtocolError(f"{path}.type: {_show(tag)} is not one of {_tags(classes)}")
        cls = found
    hints = _hints(cls)
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = sorted(k for k in value if k != "type" and k not in fields)
    if unknown:
        raise ProtocolError(
            f"{path}: unknown field(s) {', '.join(map(str, unknown))} for {tag or _tag(cls)}"
        )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        where = f"{path}.{name}"
        if name not in value:
            if field.default is attrs.NOTHING:
                raise ProtocolError(f"{where}: missing required field")
            continue
        kwargs[name] = _decode(value[name], hints[name], where)
    try:
        return cls(**kwargs)
    except GeniusError as exc:
        raise ProtocolError(_at_field(path, cls, fields, exc.message)) from None
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{path}: {exc}") from None


def _at_field(path: str, cls: type, fields: Mapping[str, object], message: str) -> str:
    """Move a validator's ``Class.field`` prefix into the path.

    ``Usage.prompt_tokens must be ...`` raised while building the Usage at
    ``$.body.usage`` becomes ``$.body.usage.prompt_tokens: must be ...``.
    """
    found = re.match(rf"{re.escape(cls.__name__)}\.(\w+)((?:\[\d+\])*) ?(.*)", message, re.DOTALL)
    if found is None or found[1] not in fields:
        return f"{path}: {message}"
    return f"{path}.{found[1]}{found[2]}: {found[3]}"


def _tags(classes: tuple[type, ...]) -> str:
    return ", ".join(repr(_TAG_OF[c]) for c in classes)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
