"""The one cattrs converter: protocol JSON, manifests (``models.toml``) and the registry.

attrs declares each shape once; this module decides how a shape meets plain data.
Unstructuring gives JSON/TOML-ready values: enums become their values, tuples lists,
paths strings, error classes their names, and tagged classes (:func:`tag`) start with
a ``"type"`` key holding their snake_case name. Structuring is strict where data
enters: ``bool`` is not a number, strings are not lists, unknown keys are refused
(``forbid_extra_keys``), and each field's check (``checked`` in ``_validators``)
runs in its structure hook. cattrs' detailed validation records which field failed;
:func:`structure` turns the first failure into one error naming its path.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import GeniusError, ProtocolError, error_class
from ._validators import Refusal, WrongType, field_check, show

if typing.TYPE_CHECKING:
    import enum

__all__ = [
    "TAG_KEY",
    "Describe",
    "Refusal",
    "WrongType",
    "allow_extra_keys",
    "check_after",
    "converter",
    "describe",
    "enums",
    "omit_defaults",
    "structure",
    "tag",
    "tag_union",
]

T = TypeVar("T")
Describe = Callable[[str, BaseException], str]
"""Words for one failure: ``(path, exception) -> message``."""

TAG_KEY: Final = "type"

converter: Final = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
"""The converter every package uses; facecrab registers its registry's shape on it."""

_TAGS: Final[dict[type, str]] = {}
_AFTER: Final[dict[type, Callable[[Any], None]]] = {}
_OPEN: Final[set[type]] = set()


def _snake(cls: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def tag(*classes: type) -> None:
    """Give ``classes`` a ``"type"`` tag (their snake_case name) on the wire.

    Call before anything un/structures them: hooks are built once, on first use.
    """
    for cls in classes:
        _TAGS[cls] = _snake(cls)


def tag_union(union: Any) -> None:
    """Structure ``union`` (of tagged classes) by its members' tags."""
    from cattrs.strategies import configure_tagged_union  # on first decode, not at import

    members: tuple[type, ...] = typing.get_args(union)
    allowed = {_TAGS[m] for m in members}
    names = ", ".join(repr(_TAGS[m]) for m in members)
    configure_tagged_union(union, converter, tag_generator=_snake, tag_name=TAG_KEY)
    by_tag = converter.get_structure_hook(union)

    def structure_union(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise WrongType(dict, value)
        found = value.get(TAG_KEY, _MISSING)
        if found is _MISSING:
            raise _at(TAG_KEY, Refusal(f"missing; expected one of {names}"), union)
        if not isinstance(found, str) or found not in allowed:
            raise _at(TAG_KEY, Refusal(f"{show(found)} is not one of {names}"), union)
        return by_tag(value, union)

    converter.register_structure_hook(union, structure_union)


def omit_defaults(cls: type, *names: str) -> None:
    """Leave the fields ``names`` (all when none are given) out of ``cls``'s plain data
    while they hold their default, as TOML files do with unset keys."""
    chosen = set(names) or {f.name for f in attrs.fields(cls)}

    def build(_: type) -> Callable[[Any], dict[str, Any]]:  # on first use, not at import
        overrides = {n: override(omit_if_default=n in chosen) for n in attrs.fields_dict(cls)}
        return make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    converter.register_unstructure_hook_factory(lambda wanted: wanted is cls, build)


def allow_extra_keys(cls: type) -> None:
    """Let ``cls`` ignore keys it does not know (files a newer version may have written)."""
    _OPEN.add(cls)


def check_after(cls: type[T], check: Callable[[T], None]) -> None:
    """Run ``check`` on each decoded ``cls``, for rules across fields.

    ``check`` raises :class:`Refusal` whose ``at`` is the field to blame (``".done"``).
    """
    _AFTER[cls] = check


_MISSING: Final = object()


def _at(name: str, error: Exception, cls: Any) -> ClassValidationError:
    """``error`` as cattrs reports a failed attribute ``name`` of ``cls``."""
    error.__notes__ = [AttributeValidationNote(f"Structuring @ attribute {name}", name, str)]
    return ClassValidationError(f"While structuring {cls}", [error], cls)


# ---------------------------------------------------------------- scalars


def _int(value: Any, _: Any) -> int:
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise WrongType(int, value)


def _float(value: Any, _: Any) -> Any:
    """An int as float when a float holds it exactly; otherwise the int itself.

    The classes accept ints in float fields, so a huge int must neither overflow
    (``float(10**400)``) nor lose digits on its way back.
    """
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongType(float, value)
    if isinstance(value, float):
        return value
    try:
        as_float = float(value)
    except OverflowError:
        return value
    return as_float if as_float == value else value


def _exact(kind: type) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, kind):
            raise WrongType(kind, value)
        return value

    return structure


def _none(value: Any, _: Any) -> None:
    if value is not None:
        raise WrongType(type(None), value)


def _path(value: Any, _: Any) -> Path:
    if not isinstance(value, str):
        raise WrongType(str, value)
    return Path(value)


converter.register_structure_hook(int, _int)
converter.register_structure_hook(float, _float)
converter.register_structure_hook(str, _exact(str))
converter.register_structure_hook(bool, _exact(bool))
converter.register_structure_hook(type(None), _none)
converter.register_structure_hook(dt.datetime, _exact(dt.datetime))
converter.register_structure_hook(Path, _path)
converter.register_unstructure_hook(Path, str)
converter.register_unstructure_hook(dt.datetime, lambda value: value)  # TOML keeps datetimes


def _enum(kind: type[enum.Enum]) -> Callable[[Any, Any], Any]:
    allowed = ", ".join(repr(m.value) for m in kind)

    def structure(value: Any, _: Any) -> Any:
        try:
            return kind(value)
        except (ValueError, TypeError):
            raise Refusal(f"{show(value)} is not one of {allowed}") from None

    return structure


def enums(*kinds: type[enum.Enum]) -> None:
    """Encode members of ``kinds`` as their values; decode only those values.

    Registered per class: a ``StrEnum`` is a ``str``, and cattrs would pick the ``str`` hook.
    """
    for kind in kinds:
        converter.register_structure_hook(kind, _enum(kind))
        converter.register_unstructure_hook(kind, lambda member: member.value)


def _is_error_type(hint: Any) -> bool:
    return typing.get_origin(hint) is type


def _error_type(hint: Any) -> Callable[[Any, Any], Any]:
    (bound,) = typing.get_args(hint)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, str):
            raise WrongType(str, value)
        found = bound if value == bound.__name__ else error_class(value)
        if found is None or not issubclass(found, bound):
            raise Refusal(f"{show(value)} is not a known {bound.__name__} class")
        return found

    return structure


converter.register_structure_hook_factory(_is_error_type, _error_type)
converter.register_unstructure_hook_func(_is_error_type, lambda cls: cls.__name__)


# ---------------------------------------------------------------- tuples


def _is_tuple(hint: Any) -> bool:
    return typing.get_origin(hint) is tuple


def _tuple(hint: Any) -> Callable[[Any, Any], Any]:
    item = typing.get_args(hint)[0]
    hook = converter.get_structure_hook(item)

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise WrongType(list, value)
        out: list[Any] = []
        errors: list[Exception] = []
        for i, v in enumerate(value):
            try:
                out.append(hook(v, item))
            except Exception as exc:
                exc.__notes__ = [IterableValidationNote(f"Structuring @ index {i}", i, item)]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {hint}", errors, hint)
        return tuple(out)

    return structure


def _untuple(hint: Any) -> Callable[[Any], Any]:
    args = typing.get_args(hint)
    hook = converter.get_unstructure_hook(args[0]) if args else converter.unstructure
    return lambda value: [hook(v) for v in value]


converter.register_structure_hook_factory(_is_tuple, _tuple)
converter.register_unstructure_hook_factory(lambda h: h is tuple or _is_tuple(h), _untuple)


# ---------------------------------------------------------------- attrs classes


def _class(cls: type) -> Callable[[Any, Any], Any]:
    """Structure ``cls`` from a mapping: its tag checked, each field's check run."""
    attrs.resolve_types(cls)
    overrides = {}
    for field in attrs.fields(cls):
        check = field_check(field)
        if check is not None:
            hook = converter.get_structure_hook(field.type)
            overrides[field.name] = override(struct_hook=_checking(hook, check))
    build: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls,
        converter,
        _cattrs_forbid_extra_keys=cls not in _OPEN,
        **overrides,  # type: ignore[arg-type]  # field overrides share **kwargs with flags
    )
    own_tag = _TAGS.get(cls)
    after = _AFTER.get(cls)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise WrongType(dict, value)
        if own_tag is not None and TAG_KEY in value:
            found = value[TAG_KEY]
            if found != own_tag:
                raise _at(TAG_KEY, Refusal(f"{show(found)} is not one of {own_tag!r}"), cls)
            value = {k: v for k, v in value.items() if k != TAG_KEY}
        made = build(value, cls)
        if after is not None:
            try:
                after(made)
            except Refusal as refusal:
                raise _at(refusal.at.lstrip("."), Refusal(str(refusal)), cls) from None
        return made

    return structure


def _checking(hook: Callable[[Any, Any], Any], check: Callable[[Any], Any]) -> Any:
    def structure(value: Any, hint: Any) -> Any:
        return check(hook(value, hint))

    return structure


def _unclass(cls: type) -> Callable[[Any], dict[str, Any]]:
    plain: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cls, converter)
    own_tag = _TAGS.get(cls)
    if own_tag is None:
        return plain

    def unstructure(value: Any) -> dict[str, Any]:
        return {TAG_KEY: own_tag, **plain(value)}

    return unstructure


converter.register_structure_hook_factory(attrs.has, _class)
converter.register_unstructure_hook_factory(attrs.has, _unclass)


# ---------------------------------------------------------------- errors


def structure(
    data: object,
    cls: type[T],
    *,
    error: type[GeniusError] = ProtocolError,
    where: str = "$",
    words: Describe | None = None,
) -> T:
    """``data`` as a ``cls``, or ``error`` naming the path (from ``where``) of what was wrong."""
    try:
        return converter.structure(data, cls)
    except (BaseValidationError, Refusal, GeniusError) as exc:
        path, leaf = _first_failure(exc, where)
        raise error((words or describe)(path, leaf)) from None


def _first_failure(exc: BaseException, path: str) -> tuple[str, BaseException]:
    """The path and exception of the first failure in cattrs' tree of them."""
    while isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        if with_notes:
            exc, note = with_notes[0]
            if isinstance(note, IterableValidationNote):
                path = f"{path}[{note.index}]"
            elif isinstance(note, AttributeValidationNote):
                path = f"{path}.{note.name}"
        else:
            exc = without[0]
    if isinstance(exc, Refusal):
        path += exc.at
    return path, exc


def describe(path: str, exc: BaseException) -> str:
    """The words of the protocol: ``$.body.usage.prompt_tokens: must be at least 0, got -1``."""
    if isinstance(exc, KeyError):
        return f"{path}: missing required field"
    if isinstance(exc, ForbiddenExtraKeysError):
        unknown = ", ".join(sorted(map(str, exc.extra_fields)))
        allowed = ", ".join(f.name for f in attrs.fields(exc.cl))
        name = _TAGS.get(exc.cl, exc.cl.__name__)
        return f"{path}: unknown field(s) {unknown} for {name} (allowed: {allowed})"
    if isinstance(exc, GeniusError):
        return f"{path}: {exc.message}"
    return f"{path}: {exc}"
