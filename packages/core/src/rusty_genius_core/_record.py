"""One ``__repr__``, ``__eq__`` and ``__hash__`` for the packages' attrs classes.

attrs compiles these three methods for every class at import time, about 0.3 ms a
class, and the ~80 classes on ``genius run``'s path made them a twentieth of its cold
start. These are written once instead and give the same results: ``Name(field=value,
...)`` over the fields with ``repr=True`` (recursion shown as ``...``), equality of
same-class instances by their ``eq`` fields, and a hash of those fields. A class uses
them with ``@attrs.frozen(..., repr=False, eq=False)`` and :class:`Record` as its base
(``repr=False`` and :class:`FieldsRepr` alone where attrs keeps identity or mutable
equality). Private: the rusty-genius packages share it.

:class:`PlainRecord` and :class:`PlainRepr` give the same methods to plain classes with
``__slots__`` and a written ``__init__``: internal records that validate nothing, are never
converted by cattrs, and sit on ``genius run``'s path, where even a shared-method attrs
class costs about a millisecond to build while a plain class costs almost nothing.
"""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any, Final, Self

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FieldsRepr", "PlainRecord", "PlainRepr", "Record"]

_Shown = tuple[tuple[str, "Callable[[Any], str]"], ...]
_REPRS: Final[dict[type, _Shown]] = {}
_KEYS: Final[dict[type, tuple[str, ...]]] = {}


def _shown(cls: type) -> _Shown:
    found = _REPRS.get(cls)
    if found is None:
        found = _REPRS[cls] = tuple(
            (f.name, f.repr if callable(f.repr) else repr) for f in attrs.fields(cls) if f.repr
        )
    return found


def _keys(cls: type) -> tuple[str, ...]:
    found = _KEYS.get(cls)
    if found is None:
        found = _KEYS[cls] = tuple(f.name for f in attrs.fields(cls) if f.eq)
    return found


class FieldsRepr:
    """attrs' ``__repr__``, shared."""

    __slots__ = ()

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        cls = type(self)
        body = ", ".join(f"{name}={show(getattr(self, name))}" for name, show in _shown(cls))
        return f"{cls.__qualname__.rsplit('>.', 1)[-1]}({body})"


class Record(FieldsRepr):
    """attrs' ``__repr__``, ``__eq__`` and ``__hash__`` (for frozen value classes), shared."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = _keys(type(self))
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    def __hash__(self) -> int:
        cls = type(self)
        return hash((cls, *(getattr(self, n) for n in _keys(cls))))


_FIELDS: Final[dict[type, tuple[str, ...]]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The ``__match_args__`` ``cls`` declares (its fields in ``__init__`` order), or else every
    ``__slots__`` name of ``cls`` and its bases, the bases' first."""
    found = _FIELDS.get(cls)
    if found is None:
        names: list[str] = list(vars(cls).get("__match_args__", ()))
        if not names:
            for klass in reversed(cls.__mro__):
                slots = vars(klass).get("__slots__", ())
                names += [slots] if isinstance(slots, str) else slots
        found = _FIELDS[cls] = tuple(names)
    return found


class PlainRepr:
    """``Name(field=value, ...)`` for a plain class with ``__slots__`` (identity equality)."""

    __slots__ = ()

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        cls = type(self)
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in _field_names(cls))
        return f"{cls.__qualname__}({body})"


class PlainRecord(PlainRepr):
    """:class:`PlainRepr` with equality, a hash and :meth:`evolve` over its fields (the
    ``__match_args__`` it declares, or its and its bases' ``__slots__``), for a value class
    whose ``__init__`` sets them all (``Final`` attributes: mypy keeps them unchanged)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = _field_names(type(self))
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    def __hash__(self) -> int:
        cls = type(self)
        return hash((cls, *(getattr(self, n) for n in _field_names(cls))))

    def evolve(self, **changes: Any) -> Self:
        """A copy with ``changes`` (as ``attrs.evolve``), for a class whose ``__init__``
        takes each field by its name."""
        fields = {name: getattr(self, name) for name in _field_names(type(self))}
        return type(self)(**{**fields, **changes})
