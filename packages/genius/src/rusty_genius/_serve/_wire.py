"""The field types both APIs' request models share, with the bounds of :mod:`rusty_genius_core.limits`.

Each type validates strictly (a boolean is not a number, a number is not a string),
carries its JSON-schema constraints for the OpenAPI document, and fails with a
``genius_invalid`` error whose reason says what was expected and what came
(``must be a number in [0, 5], got a number (7)``). :func:`._errors.validation_message`
prefixes the field's path. JSON ``null`` counts as absent (fields are ``X | None``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import annotated_types
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from rusty_genius_core import limits

from ._errors import GENIUS_ERROR, describe_value
from ._keep_alive import KEEP_ALIVE_PATTERN, keep_alive_seconds

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pydantic import ValidatorFunctionWrapHandler

    from rusty_genius_core.limits import Limit

__all__ = [
    "Bounded",
    "Expect",
    "Flag",
    "KeepAlive",
    "ModelName",
    "Stop",
    "Text",
    "Think",
    "invalid",
    "refuse",
    "stop_strings",
    "unicode",
]


def invalid(reason: str) -> PydanticCustomError:
    """A validation error whose message is ``reason`` (after the field's path)."""
    return PydanticCustomError(GENIUS_ERROR, "{reason}", {"reason": reason})


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _range(limit: Limit) -> str:
    lo, hi = limit.lo, limit.hi
    if lo is None and hi is None:
        return ""
    if hi is None:
        assert lo is not None
        return f" {'>' if limit.lo_open else '>='} {_plain(lo)}"
    if lo is None:
        return f" <= {_plain(hi)}"
    return f" in {'(' if limit.lo_open else '['}{_plain(lo)}, {_plain(hi)}]"


class Expect:
    """A wrap validator: on any failure, ``must be {expected}, got {what came}``."""

    def __init__(self, expected: str) -> None:
        self.expected = expected

    def __call__(self, value: object, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise invalid(f"must be {self.expected}, got {describe_value(value)}") from None


class Bounded(annotated_types.GroupedMetadata):
    """Strict number constraints read from a :class:`Limit`: ``Annotated[float, Bounded(TOP_P)]``."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit

    def __iter__(self) -> Iterator[object]:
        limit = self.limit
        yield Strict()
        lo = {"gt": limit.lo} if limit.lo_open else {"ge": limit.lo}
        yield annotated_types.Interval(**(lo if limit.lo is not None else {}), le=limit.hi)
        expect = Expect(("an integer" if limit.integer else "a number") + _range(limit))

        def check(value: object, handler: ValidatorFunctionWrapHandler) -> Any:
            if limit.integer and isinstance(value, float) and value.is_integer():
                value = int(value)  # 3.0 is an integer in JSON
            return expect(value, handler)

        yield WrapValidator(check)


Temperature = Annotated[float, Bounded(limits.TEMPERATURE)]
TopP = Annotated[float, Bounded(limits.TOP_P)]
TopK = Annotated[int, Bounded(limits.TOP_K)]
MinP = Annotated[float, Bounded(limits.MIN_P)]
RepeatPenalty = Annotated[float, Bounded(limits.REPEAT_PENALTY)]
MaxTokens = Annotated[int, Bounded(limits.MAX_TOKENS)]
Seed = Annotated[int, Bounded(limits.SEED)]
ContextSize = Annotated[int, Bounded(limits.CONTEXT_SIZE)]


def unicode(value: str) -> str:
    """``value``, if it is valid Unicode; a lone surrogate (JSON's ``"\\ud800"``) is refused.

    JSON may spell one, Python's ``json`` reads it into a ``str``, and nothing can write
    it out again as UTF-8: an answer would break halfway, a model name in a listing would
    break the listing. So every string field takes its text through here.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise invalid(
            f"must be valid Unicode text, got a lone surrogate (U+{ord(bad):04X}) "
            f"at character {exc.start}"
        ) from None
    return value


Flag = Annotated[bool, Strict(), WrapValidator(Expect("true or false"))]
Text = Annotated[str, Strict(), WrapValidator(Expect("a string")), AfterValidator(unicode)]


def _model_name(value: object, handler: ValidatorFunctionWrapHandler) -> Any:
    if value is None:
        raise invalid("is required")
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"must be a non-empty string, got {describe_value(value)}")
    return handler(unicode(value.strip()))


ModelName = Annotated[
    str,
    Strict(),
    StringConstraints(min_length=1, pattern=r"\S"),
    WrapValidator(_model_name),
]
"""A model reference (an alias or a Hugging Face ``repo[:QUANT]``), stripped; required."""


def _stop(value: object, handler: ValidatorFunctionWrapHandler) -> Any:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise invalid(f"must be a string or an array of strings, got {describe_value(value)}")
    if len(items) > limits.MAX_STOP_STRINGS:
        raise invalid(f"allows at most {limits.MAX_STOP_STRINGS} strings, got {len(items)}")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise invalid(f"item {i} must be a non-empty string, got {describe_value(item)}")
        unicode(item)
    return handler(value)


_StopString = Annotated[str, Strict(), annotated_types.MinLen(1)]
Stop = Annotated[
    _StopString | Annotated[list[_StopString], annotated_types.MaxLen(limits.MAX_STOP_STRINGS)],
    WrapValidator(_stop),
]
"""A stop string, or up to ``MAX_STOP_STRINGS`` of them; none empty."""


def stop_strings(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _keep_alive(value: object) -> float | None:
    try:
        return keep_alive_seconds(value)
    except ValueError as exc:
        raise invalid(str(exc)) from None


KeepAlive = Annotated[
    float,
    BeforeValidator(_keep_alive),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": KEEP_ALIVE_PATTERN}],
            "description": 'a duration ("5m", "1h30m") or seconds; 0 unloads after the '
            'request, a negative value (or "-1") keeps the model loaded',
        }
    ),
]
"""Ollama's ``keep_alive``, as seconds (negative: forever)."""

Think = Annotated[
    Annotated[bool, Strict()] | Literal["low", "medium", "high"],
    WrapValidator(Expect('true, false, "low", "medium" or "high"')),
]


def refuse(*allowed: object, reason: str = "is not supported") -> BeforeValidator:
    """A validator refusing every value but ``allowed`` (features this server does not have)."""

    def check(value: object) -> object:
        # true is not 1 and false is not 0 here: JSON tells booleans from numbers
        if any(value == ok and isinstance(value, bool) is isinstance(ok, bool) for ok in allowed):
            return value
        raise invalid(reason)

    return BeforeValidator(check)
