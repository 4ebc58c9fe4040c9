"""attrs validators that raise our own errors and name the field and the value.

Messages start with ``Class.field`` (``Usage.prompt_tokens must be ...``): the
codec rewrites that prefix into the JSON path of the field it was decoding.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import attrs

    from ._errors import GeniusError
    from ._limits import Limit

E = TypeVar("E", bound=enum.Enum)
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _where(inst: object, attribute: attrs.Attribute[Any]) -> str:
    return f"{type(inst).__name__}.{attribute.name}"


def typed(kind: type | tuple[type, ...], error: type[GeniusError]) -> Validator:
    """Reject values of the wrong type; ``bool`` never passes for ``int``/``float``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    exact = frozenset(kinds)  # a value of exactly a listed type passes at once (hot paths)

    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if type(value) in exact:
            return
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise error(f"{_where(inst, attribute)} must be {names}, got {value!r}")

    return validate


def number_in(limit: Limit, error: type[GeniusError], *, optional: bool = False) -> Validator:
    """Check type and range of a number against one of :mod:`._limits`' bounds."""
    kinds: tuple[type, ...] = (int,) if limit.integer else (int, float)

    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        where = _where(inst, attribute)
        if isinstance(value, bool) or not isinstance(value, kinds):
            what = "an integer" if limit.integer else "a number"
            raise error(f"{where} must be {what}, got {value!r}")
        assert isinstance(value, int | float)
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"{where} must be finite, got {value!r}")
        if not limit.contains(value):
            raise error(f"{where} must be {limit.describe()}, got {value!r}")

    return validate


def non_empty_str(error: type[GeniusError], *, optional: bool = False) -> Validator:
    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or not value.strip():
            raise error(f"{_where(inst, attribute)} must be a non-empty string, got {value!r}")

    return validate


def tuple_of(item: type, error: type[GeniusError]) -> Validator:
    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        where = _where(inst, attribute)
        if not isinstance(value, tuple):
            raise error(f"{where} must be a tuple, got {value!r}")
        for i, v in enumerate(value):
            if not isinstance(v, item) or (isinstance(v, bool) and item is not bool):
                raise error(f"{where}[{i}] must be {item.__name__}, got {v!r}")

    return validate


def check_repo_id(value: str, error: type[GeniusError], what: str = "repo") -> str:
    """Validate a Hugging Face ``org/name`` id; reject traversal and odd characters."""
    if not isinstance(value, str):
        raise error(f"{what} must be a string like 'org/name', got {value!r}")
    if "\\" in value or value.startswith("/") or ":" in value:
        raise error(f"{what} {value!r} must be a relative 'org/name' id")
    parts = value.split("/")
    if len(parts) != 2:
        raise error(f"{what} {value!r} must have exactly one '/', as in 'org/name'")
    for part in parts:
        if part in ("", ".", "..") or ".." in part or not _SAFE_SEGMENT.fullmatch(part):
            raise error(f"{what} {value!r} has an invalid segment {part!r}")
    return value


def check_relative_path(value: str, error: type[GeniusError], what: str = "filename") -> str:
    """Validate a repo-relative file path: no absolute path, backslash or ``..``.

    Also refused, because some platform reads them as something else: ``:`` (a
    Windows drive, an NTFS stream), control characters (NUL ends a C string), and
    segments made only of dots and spaces (Windows strips trailing ones, so
    ``".. "`` would act as ``".."``).
    """
    if not isinstance(value, str) or not value:
        raise error(f"{what} must be a non-empty string, got {value!r}")
    if _CONTROL.search(value):
        raise error(f"{what} {value!r} must not contain control characters")
    if "\\" in value or value.startswith("/") or ":" in value:
        raise error(f"{what} {value!r} must be a relative path with '/' separators")
    for part in value.split("/"):
        if not part.strip(". "):
            raise error(f"{what} {value!r} has a forbidden path segment {part!r}")
    return value


def repo_id(error: type[GeniusError]) -> Validator:
    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        check_repo_id(value, error, _where(inst, attribute))  # type: ignore[arg-type]

    return validate


def relative_path(error: type[GeniusError], *, optional: bool = False) -> Validator:
    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        check_relative_path(value, error, _where(inst, attribute))  # type: ignore[arg-type]

    return validate


def enum_converter(kind: type[E], error: type[GeniusError], where: str) -> Callable[[object], E]:
    """A converter to ``kind`` whose error lists the allowed values."""

    def convert(value: object) -> E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            raise error(f"{where} {value!r} is not one of {allowed}") from None

    return convert


def as_tuple(value: Any) -> Any:
    """Accept a list where a tuple is stored (JSON has no tuples); leave the rest to validators."""
    return tuple(value) if isinstance(value, list) else value
