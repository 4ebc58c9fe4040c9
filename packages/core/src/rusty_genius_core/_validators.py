"""Field checks, declared once, run where data enters.

A *check* takes a value and returns it (a decode check may normalise it) or raises
:class:`Refusal` with the problem in words (``must be at least 0, got -1``). The same
check serves twice: the converter's structure hooks run it and report
``$.path.field: <problem>``, and, for inputs built in code, :func:`as_validator` wraps
it as an attrs validator raising the class's own error as ``Class.field <problem>``.
Output events the library builds itself carry it for decoding only (:func:`decoded`).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    import attrs

    from ._errors import GeniusError
    from ._limits import Limit

E = TypeVar("E", bound=enum.Enum)
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
Check = Callable[[Any], Any]

CHECK: Final = "rusty_genius.check"
"""The attrs metadata key under which a field keeps its :data:`Check`."""

_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_REVISION: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_JSON_NAMES: Final = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    tuple: "a list",
    dict: "an object",
    type(None): "null",
}


class Refusal(ValueError):
    """A value a check refused; the message is the problem without the field's name.

    ``at`` points inside the value (``[1]`` for a list's second item).
    """

    def __init__(self, problem: str, *, at: str = "") -> None:
        super().__init__(problem)
        self.at = at


class WrongType(Refusal):
    """A value of the wrong type where ``expected`` was declared."""

    def __init__(self, expected: type, value: object) -> None:
        self.expected = expected
        self.value = value
        name = _JSON_NAMES.get(expected, expected.__name__)
        super().__init__(f"expected {name}, got {show(value)}")


def show(value: object) -> str:
    """``repr(value)``, shortened to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_check(attribute: attrs.Attribute[Any]) -> Check | None:
    """The check of ``attribute``: from :func:`decoded` metadata or its :func:`as_validator`."""
    found = attribute.metadata.get(CHECK)
    if found is None:
        found = getattr(attribute.validator, "check", None)
    return found


def as_validator(check: Check, error: type[GeniusError]) -> Validator:
    """``check`` as an attrs validator raising ``error("Class.field <problem>")``."""

    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        try:
            check(value)
        except Refusal as refusal:
            raise error(f"{_where(inst, attribute)}{refusal.at} {refusal}") from None

    validate.check = check  # type: ignore[attr-defined]  # decoding runs it too
    return validate


def decoded(check: Check) -> dict[str, Check]:
    """attrs metadata: run ``check`` where the field is decoded (and only there).

    For fields the library fills itself (output events), or where decoding accepts a
    looser form than code (a lower-case quantization it then upper-cases).
    """
    return {CHECK: check}


# ---------------------------------------------------------------- checks


def number(limit: Limit, *, optional: bool = False) -> Check:
    """Type and range of a number against one of :mod:`._limits`' bounds."""
    kinds: tuple[type, ...] = (int,) if limit.integer else (int, float)
    what = "an integer" if limit.integer else "a number"

    def check(value: Any) -> Any:
        if value is None and optional:
            return value
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise Refusal(f"must be {what}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise Refusal(f"must be finite, got {value!r}")
        if not limit.contains(value):  # type: ignore[arg-type]  # checked: int or float
            raise Refusal(f"must be {limit.describe()}, got {value!r}")
        return value

    return check


def at_most(value: tuple[Any, ...], limit: int, noun: str) -> None:
    """Refuse ``value`` when it holds more than ``limit`` items (``noun``: what they are)."""
    if len(value) > limit:
        raise Refusal(f"allows at most {limit} {noun}, got {len(value)}")


def each_is(value: tuple[Any, ...], kind: type, what: str) -> None:
    """Refuse the first item of ``value`` that is not a ``kind``, naming its index.

    ``what`` names one item in the message: ``"str"``, ``"a Tool"``.
    """
    for i, item in enumerate(value):
        if not isinstance(item, kind):
            raise Refusal(f"must be {what}, got {item!r}", at=f"[{i}]")


def non_empty(*, optional: bool = False) -> Check:
    def check(value: Any) -> Any:
        if value is None and optional:
            return value
        if not isinstance(value, str) or not value.strip():
            raise Refusal(f"must be a non-empty string, got {value!r}")
        return value

    return check


def matches(pattern: re.Pattern[str], what: str) -> Check:
    """A check that the value is a ``str`` that ``pattern`` matches whole: "must be WHAT"."""

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise Refusal(f"must be {what}, got {value!r}")
        return value

    return check


sha256: Final = matches(_SHA256, "64 lowercase hex digits")
"""A file's sha256 as manifests, adapters and the registry pin it."""


def optional(check: Check) -> Check:
    """``check``, letting ``None`` through."""
    return lambda value: None if value is None else check(value)


# ---------------------------------------------------------------- validators


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
    return as_validator(number(limit, optional=optional), error)


def non_empty_str(error: type[GeniusError], *, optional: bool = False) -> Validator:
    return as_validator(non_empty(optional=optional), error)


def repo(value: Any) -> Any:
    """A Hugging Face ``org/name`` id; traversal and odd characters are refused."""
    if not isinstance(value, str):
        raise Refusal(f"must be a string like 'org/name', got {value!r}")
    if "\\" in value or value.startswith("/") or ":" in value:
        raise Refusal(f"{value!r} must be a relative 'org/name' id")
    parts = value.split("/")
    if len(parts) != 2:
        raise Refusal(f"{value!r} must have exactly one '/', as in 'org/name'")
    for part in parts:
        if part in ("", ".", "..") or ".." in part or not _SAFE_SEGMENT.fullmatch(part):
            raise Refusal(f"{value!r} has an invalid segment {part!r}")
    return value


def revision(value: Any) -> Any:
    """A hub revision (a branch, tag or commit) for a model or an adapter; no ``..``."""
    if not isinstance(value, str) or not _REVISION.fullmatch(value) or ".." in value:
        raise Refusal(f"{value!r} is not a valid revision (branch, tag or commit)")
    return value


def relative(value: Any) -> Any:
    """A repo-relative file path: no absolute path, backslash or ``..``.

    Also refused, because some platform reads them as something else: ``:`` (a
    Windows drive, an NTFS stream), control characters (NUL ends a C string), and
    segments made only of dots and spaces (Windows strips trailing ones, so
    ``".. "`` would act as ``".."``).
    """
    if not isinstance(value, str) or not value:
        raise Refusal(f"must be a non-empty string, got {value!r}")
    if _CONTROL.search(value):
        raise Refusal(f"{value!r} must not contain control characters")
    if "\\" in value or value.startswith("/") or ":" in value:
        raise Refusal(f"{value!r} must be a relative path with '/' separators")
    for part in value.split("/"):
        if not part.strip(". "):
            raise Refusal(f"{value!r} has a forbidden path segment {part!r}")
    return value


def check_repo_id(value: str, error: type[GeniusError], what: str = "repo") -> str:
    """Validate a Hugging Face ``org/name`` id (see :func:`repo`), raising ``error``."""
    return _raising(repo, value, error, what)  # type: ignore[no-any-return]


def check_relative_path(value: str, error: type[GeniusError], what: str = "filename") -> str:
    """Validate a repo-relative file path (see :func:`relative`), raising ``error``."""
    return _raising(relative, value, error, what)  # type: ignore[no-any-return]


def _raising(check: Check, value: object, error: type[GeniusError], what: str) -> Any:
    try:
        return check(value)
    except Refusal as refusal:
        raise error(f"{what} {refusal}") from None


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
