"""Give public objects the module users import them from, as httpx, anyio and trio do.

A class defined in ``facecrab._authority`` and exported by ``facecrab`` reads
``facecrab.AssetAuthority`` in reprs, tracebacks, pickles and docs. Rewriting ``__module__``
has a trap: with ``from __future__ import annotations`` a class's annotations are strings,
which ``typing.get_type_hints``, attrs and cattrs evaluate in ``sys.modules[cls.__module__]``,
the public module, where private helpers and imports such as ``Path`` are missing. So each
class's annotations are evaluated first, in the module that defined them, and stored
evaluated (with the field types of attrs classes, as ``attrs.resolve_types`` sets them). A
class whose annotations cannot be evaluated (a name imported only under ``TYPE_CHECKING``)
keeps its private module, and the packages' export tests name it. Private: the rusty-genius packages share it.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["export_order", "publish", "publish_object"]


def export_order(names: Iterable[str]) -> list[str]:
    """``names`` in ruff's RUF022 order (CONSTANTS, CamelCase, the rest; digits as numbers).

    For a topic module whose ``__all__`` is its source package's plus a few names of its own,
    so that the list is declared once, in the source package, and stays sorted here.
    """

    def key(name: str) -> tuple[int, list[int | str]]:
        group = 0 if name.isupper() else 1 if name[:1].isupper() else 2
        return group, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]

    return sorted(names, key=key)


def publish(module: str, names: Iterable[str] | None = None) -> None:
    """Set ``__module__`` of the classes and functions ``module`` exports to ``module``.

    ``names`` defaults to the module's ``__all__``; names not loaded yet (imported on first
    use) are skipped: :func:`~rusty_genius_core._lazy.lazy_exports` publishes them on load.
    """
    namespace = vars(sys.modules[module])
    for name in namespace["__all__"] if names is None else names:
        if name in namespace:
            publish_object(module, namespace[name])


def publish_object(module: str, value: object) -> None:
    """Give ``value`` the public ``module``, if a private module of its distribution defined it.

    Objects of another distribution keep theirs (``rusty_genius`` re-exports
    ``rusty_genius_core.Content`` as it is), and so does an object already published.
    """
    if not isinstance(value, type | types.FunctionType):
        return
    defined_in = getattr(value, "__module__", None) or ""
    if not _is_private_module_of(defined_in, module.partition(".")[0]):
        return
    if isinstance(value, type) and not _resolve_annotations(value):
        return
    value.__module__ = module


def _is_private_module_of(name: str, root: str) -> bool:
    return name.startswith(f"{root}.") and any(part.startswith("_") for part in name.split(".")[1:])


def _resolve_annotations(cls: type) -> bool:
    """Store ``cls``'s own annotations evaluated, where it was defined; False if impossible.

    Only the class's own annotations need it: a base class is either published itself
    (resolved then) or keeps its private module, where its strings still evaluate. Each
    string is evaluated once per module (``"int | None"`` recurs on dozens of classes), which
    keeps this off the cold start: ``typing.get_type_hints`` recompiles every string of the
    whole MRO on each call.
    """
    own = inspect.get_annotations(cls)  # this class's own, as written
    if any(isinstance(hint, str) for hint in own.values()):
        namespace = vars(sys.modules[cls.__module__])
        try:
            own = {
                name: _evaluate(hint, cls.__module__, namespace) if isinstance(hint, str) else hint
                for name, hint in own.items()
            }
        except (NameError, TypeError, SyntaxError, AttributeError):
            return False
        type.__setattr__(cls, "__annotations__", own)
    if attrs.has(cls):
        try:
            _resolve_fields(cls, own)
        except (NameError, TypeError):
            return False
    return True


def _resolve_fields(cls: type, own: dict[str, Any]) -> None:
    """``attrs.resolve_types(cls)``, from ``cls``'s own evaluated annotations when every
    field is its own (no ``typing.get_type_hints`` over the MRO: most of publishing's cost).

    As attrs does it: each field's ``type`` set on the frozen field, and the class marked
    resolved, so that attrs and cattrs do not resolve it again. An inherited field, or a
    hint with a string still inside (``tuple["Value", ...]``), takes attrs' own way.
    """
    fields = attrs.fields(cls)
    if any(f.inherited or f.name not in own or _has_string(own[f.name]) for f in fields):
        attrs.resolve_types(cls)
        return
    for field in fields:
        hint = own[field.name]
        object.__setattr__(field, "type", type(None) if hint is None else hint)
    type.__setattr__(cls, "__attrs_types_resolved__", cls)


def _has_string(hint: object) -> bool:
    """Whether ``hint`` is or holds a forward reference (which ``get_type_hints`` evaluates)."""
    if type(hint) is type:  # a plain class: the common case, answered at once
        return False
    if isinstance(hint, str | typing.ForwardRef):
        return True
    return any(_has_string(arg) for arg in getattr(hint, "__args__", None) or ())


_EVALUATED: dict[tuple[str, str], object] = {}
_COMPILED: dict[str, types.CodeType] = {}  # "int | None" compiles once for every module


def _evaluate(hint: str, module: str, namespace: dict[str, object]) -> object:
    key = (module, hint)
    try:
        return _EVALUATED[key]
    except KeyError:
        code = _COMPILED.get(hint)
        if code is None:
            code = _COMPILED[hint] = compile(hint, "<annotation>", "eval")
        value = _EVALUATED[key] = eval(code, namespace)  # what get_type_hints does, once
        return value
