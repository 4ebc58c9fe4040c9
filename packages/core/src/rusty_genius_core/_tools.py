"""Tools, tool calls and response formats: what an agent asks of a model.

* :class:`Tool` is a function the model may call: a name, a description and its
  parameters as a JSON Schema (an object schema).
* :class:`ToolChoice` says whether it may (``auto``), must (``required``, or one named
  function) or must not (``none``) call one.
* :class:`ToolCall` is one call the model made: an id, the function's name and its
  arguments as JSON text (an object), as OpenAI carries them. An assistant
  :class:`~rusty_genius_core.ChatMessage` holds the calls it made, and a ``tool``
  message answers one of them by ``tool_call_id``.
* :class:`ResponseFormat` constrains the answer's text: plain (``text``), any JSON
  object (``json_object``) or JSON valid for a schema (``json_schema``).

In the inference stream a call arrives as :class:`~rusty_genius_core.ToolCallDelta`
events; :class:`ToolCallCollector` assembles them into :class:`ToolCall` values.
JSON values (schemas) are plain ``dict`` objects; treat them as read-only.
"""

from __future__ import annotations

import enum
import json
import math
import re
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._converter import converter, enums
from ._errors import ProtocolError
from ._limits import TOOL_NAME_MAX_LENGTH
from ._record import PlainRepr, Record
from ._validators import Refusal, WrongType, as_validator, enum_converter, non_empty, typed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._events import ToolCallDelta

__all__ = [
    "JsonObject",
    "ResponseFormat",
    "ResponseKind",
    "Tool",
    "ToolCall",
    "ToolCallCollector",
    "ToolChoice",
    "ToolChoiceMode",
]

JsonObject = dict[str, Any]
"""A JSON object as Python holds it (a JSON Schema, a call's parsed arguments)."""

_TOOL_NAME: Final = re.compile(rf"[A-Za-z0-9_.-]{{1,{TOOL_NAME_MAX_LENGTH}}}")


def _json_value(value: Any, at: str, depth: int = 0) -> None:
    if depth > 64:
        raise Refusal("nests deeper than 64 levels", at=at)
    if value is None or isinstance(value, bool | str | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Refusal(f"must be finite JSON numbers, got {value!r}", at=at)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _json_value(item, f"{at}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise Refusal(f"must have string keys, got {key!r}", at=at)
            _json_value(item, f"{at}[{json.dumps(key)}]", depth + 1)
        return
    raise Refusal(f"must hold only JSON values, got {type(value).__name__}", at=at)


def _json_object_check(value: Any) -> Any:
    """A check: ``value`` is a ``dict`` of JSON values (finite numbers, string keys)."""
    if not isinstance(value, dict):
        raise WrongType(dict, value)
    _json_value(value, "")
    return value


def _schema_check(value: Any) -> Any:
    _json_object_check(value)
    kind = value.get("type", "object")
    if kind != "object":
        raise Refusal(f"must be an object schema ('type': 'object'), got 'type': {kind!r}")
    return value


def _tool_name(value: Any) -> Any:
    if not isinstance(value, str) or not _TOOL_NAME.fullmatch(value):
        raise Refusal(
            f"must be 1-{TOOL_NAME_MAX_LENGTH} letters, digits, '_', '.' or '-', got {value!r}"
        )
    return value


def _arguments(value: Any) -> Any:
    if not isinstance(value, str):
        raise WrongType(str, value)
    try:
        parsed = json.loads(value)
    except ValueError:
        raise Refusal(f"must be a JSON object as text, got {value[:60]!r}") from None
    if not isinstance(parsed, dict):
        raise Refusal(f"must be a JSON object as text, got {value[:60]!r}")
    return value


def _empty_parameters() -> JsonObject:
    return {"type": "object", "properties": {}}


def _structure_json_object(value: Any, _: Any) -> JsonObject:
    """A JSON object on the wire: its type here, its contents by the field's check."""
    if not isinstance(value, dict):
        raise WrongType(dict, value)
    return value


def _is_json_object(hint: Any) -> bool:
    return bool(hint == JsonObject)


converter.register_structure_hook_func(_is_json_object, _structure_json_object)
converter.register_unstructure_hook_func(_is_json_object, lambda value: value)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Tool(Record):
    """A function the model may call. ``parameters`` is the JSON Schema of its arguments
    (an object schema); ``strict`` asks the engine to enforce it (OpenAI's flag)."""

    name: str = attrs.field(validator=as_validator(_tool_name, ProtocolError))
    description: str = attrs.field(default="", validator=typed(str, ProtocolError))
    parameters: JsonObject = attrs.field(
        factory=_empty_parameters,
        validator=as_validator(_schema_check, ProtocolError),
        hash=False,
    )
    strict: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolCall(Record):
    """One call the model made: ``arguments`` is a JSON object as text."""

    id: str = attrs.field(validator=as_validator(non_empty(), ProtocolError))
    name: str = attrs.field(validator=as_validator(_tool_name, ProtocolError))
    arguments: str = attrs.field(default="{}", validator=as_validator(_arguments, ProtocolError))

    def parsed_arguments(self) -> JsonObject:
        """The arguments as a ``dict`` (validated as a JSON object when the call was built)."""
        parsed: JsonObject = json.loads(self.arguments)
        return parsed


class ToolChoiceMode(enum.StrEnum):
    """OpenAI's ``tool_choice`` words: may call (``auto``), must, must not."""

    NONE = "none"
    AUTO = "auto"
    REQUIRED = "required"


enums(ToolChoiceMode)


_to_mode: Final = enum_converter(ToolChoiceMode, ProtocolError, "ToolChoice.mode")


def _mode(value: object) -> ToolChoiceMode:
    return _to_mode(value)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ToolChoice(Record):
    """Whether the model may call tools. ``function`` names the one it must call, and
    then ``mode`` is ``required`` (:meth:`named` builds that). ``parallel`` False allows
    at most one call per answer (OpenAI's ``parallel_tool_calls``)."""

    mode: ToolChoiceMode = attrs.field(default=ToolChoiceMode.AUTO, converter=_mode)
    function: str | None = attrs.field(
        default=None,
        validator=as_validator(lambda v: v if v is None else _tool_name(v), ProtocolError),
    )
    parallel: bool = attrs.field(default=True, validator=typed(bool, ProtocolError))

    def __attrs_post_init__(self) -> None:
        if self.function is not None and self.mode is not ToolChoiceMode.REQUIRED:
            raise ProtocolError(
                f"ToolChoice.function {self.function!r} needs mode 'required', "
                f"got {self.mode.value!r}"
            )

    @classmethod
    def named(cls, function: str, *, parallel: bool = True) -> ToolChoice:
        """The model must call ``function``."""
        return cls(mode=ToolChoiceMode.REQUIRED, function=function, parallel=parallel)

    @property
    def forces_call(self) -> bool:
        """True when the answer must be a tool call (``required`` or a named function)."""
        return self.mode is ToolChoiceMode.REQUIRED


class ResponseKind(enum.StrEnum):
    """OpenAI's ``response_format.type`` values."""

    TEXT = "text"
    JSON_OBJECT = "json_object"
    JSON_SCHEMA = "json_schema"


enums(ResponseKind)


_to_kind: Final = enum_converter(ResponseKind, ProtocolError, "ResponseFormat.kind")


def _kind(value: object) -> ResponseKind:
    return _to_kind(value)


def _optional_json_object(value: Any) -> Any:
    return value if value is None else _json_object_check(value)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ResponseFormat(Record):
    """What the answer's text must be: ``text`` (anything), ``json_object`` (a JSON object)
    or ``json_schema`` (JSON valid for ``schema``; ``name`` and ``strict`` as OpenAI has them).
    """

    kind: ResponseKind = attrs.field(default=ResponseKind.TEXT, converter=_kind)
    schema: JsonObject | None = attrs.field(
        default=None, validator=as_validator(_optional_json_object, ProtocolError), hash=False
    )
    name: str = attrs.field(default="response", validator=as_validator(_tool_name, ProtocolError))
    strict: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))

    def __attrs_post_init__(self) -> None:
        if (self.schema is None) == (self.kind is ResponseKind.JSON_SCHEMA):
            raise ProtocolError(
                "ResponseFormat.schema is required with kind 'json_schema', and only then"
            )

    @classmethod
    def json(cls, schema: JsonObject | None = None, *, name: str = "response") -> ResponseFormat:
        """JSON valid for ``schema``, or any JSON object when ``schema`` is ``None``."""
        if schema is None:
            return cls(kind=ResponseKind.JSON_OBJECT)
        return cls(kind=ResponseKind.JSON_SCHEMA, schema=schema, name=name, strict=True)

    @property
    def is_json(self) -> bool:
        return self.kind is not ResponseKind.TEXT

    def effective_schema(self) -> JsonObject | None:
        """The schema the answer must satisfy: ``{"type": "object"}`` for ``json_object``,
        ``None`` for ``text``."""
        if self.kind is ResponseKind.JSON_OBJECT:
            return {"type": "object"}
        return self.schema


def _check_tool_choice(tools: tuple[Tool, ...], choice: ToolChoice, where: str) -> None:
    """Rules across fields: unique names, and a choice the tools can satisfy."""
    names = [t.name for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProtocolError(f"{where}.tools has duplicate names: {', '.join(duplicates)}")
    if choice.forces_call and not tools:
        raise ProtocolError(f"{where}.tool_choice {choice.mode.value!r} needs at least one tool")
    if choice.function is not None and choice.function not in names:
        raise ProtocolError(
            f"{where}.tool_choice names {choice.function!r}, which is not among the tools "
            f"({', '.join(names)})"
        )


class _Partial(PlainRepr):
    __slots__ = ("arguments", "id", "name")

    def __init__(self, id: str, name: str, arguments: list[str]) -> None:
        self.id: Final = id
        self.name: Final = name
        self.arguments: Final = arguments  # fragments, appended to


class ToolCallCollector:
    """Assembles :class:`~rusty_genius_core.ToolCallDelta` events into :class:`ToolCall` s.

    The first delta of a call (by ``index``) carries its ``id`` and ``name``; later ones
    add fragments of its arguments. :meth:`calls` checks each call's arguments parse as a
    JSON object (:class:`~rusty_genius_core.ProtocolError` otherwise).
    """

    def __init__(self) -> None:
        self._calls: dict[int, _Partial] = {}

    def add(self, delta: ToolCallDelta) -> None:
        partial = self._calls.get(delta.index)
        if partial is None:
            if delta.id is None or delta.name is None:
                raise ProtocolError(
                    f"the first ToolCallDelta of call {delta.index} needs an id and a name"
                )
            self._calls[delta.index] = _Partial(delta.id, delta.name, [delta.arguments])
        else:
            partial.arguments.append(delta.arguments)

    def extend(self, deltas: Iterable[ToolCallDelta]) -> None:
        for delta in deltas:
            self.add(delta)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls so far, in index order."""
        return tuple(
            ToolCall(id=p.id, name=p.name, arguments="".join(p.arguments) or "{}")
            for _, p in sorted(self._calls.items())
        )
