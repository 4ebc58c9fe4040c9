"""Checks every package's ``test_exports.py`` runs on its public surface, written once.

A package's *facade* is its ``__init__`` plus its public *topic modules* (as
``trio.lowlevel`` or ``anyio.abc``). Each check returns the problems it found, so a
test reads ``assert not problems(...)`` and its failure lists them all.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence

__all__ = [
    "export_problems",
    "is_public_module",
    "misplaced_names",
    "private_module_names",
    "private_modules",
    "sort_key",
    "unsorted_all",
]


def sort_key(name: str) -> tuple[int, list[int | str]]:
    """ruff's RUF022 order: CONSTANTS, then CamelCase, then the rest; digits as numbers."""
    group = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return group, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def unsorted_all(modules: Iterable[types.ModuleType]) -> list[str]:
    """The modules whose ``__all__`` is out of RUF022 order or repeats a name."""
    return [
        m.__name__
        for m in modules
        if list(m.__all__) != sorted(m.__all__, key=sort_key)
        or len(set(m.__all__)) != len(m.__all__)
    ]


def is_public_module(name: str) -> bool:
    """No part of the dotted ``name`` starts with an underscore."""
    return not any(part.startswith("_") for part in name.split("."))


def private_modules(package: types.ModuleType) -> list[types.ModuleType]:
    """The package's private modules (and private subpackages' modules) that declare ``__all__``."""
    found = []
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if info.name.rsplit(".", 1)[1].startswith("__") or is_public_module(info.name):
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            found.append(module)
    return found


def misplaced_names(
    package: types.ModuleType,
    topics: Sequence[types.ModuleType] = (),
    *,
    internal: Collection[str] = (),
    may_repeat: Collection[str] = (),
    modules: Sequence[types.ModuleType] | None = None,
) -> list[str]:
    """Names a private module declares that the facade lacks, repeats, or gives another object.

    Every name in a private module's ``__all__`` (but the ``internal`` ones, shared between
    the package's own modules) is exported by the package or by exactly one topic module
    (``may_repeat`` names: by the package and by one topic module), as the same object.
    ``modules`` defaults to all of :func:`private_modules`.
    """
    facade = [package, *topics]
    problems = []
    for module in private_modules(package) if modules is None else modules:
        for name in module.__all__:
            if name in internal:
                continue
            homes = [m for m in facade if name in m.__all__]
            if not homes or (len(homes) > 1 and (name not in may_repeat or len(homes) > 2)):
                where = [m.__name__ for m in homes] or "nowhere"
                problems.append(f"{module.__name__}.{name} is exported by {where}")
            problems += [
                f"{m.__name__}.{name} is not {module.__name__}.{name}"
                for m in homes
                if getattr(m, name) is not getattr(module, name)
            ]
    return problems


def export_problems(package: types.ModuleType, *, internal: Collection[str] = ()) -> list[str]:
    """What :func:`unsorted_all` and :func:`misplaced_names` find in a package with no topics.

    The package's and its private modules' ``__all__`` in RUF022 order without repeats,
    and every name of a private module (but the ``internal`` ones) exported by the package.
    """
    return unsorted_all([package, *private_modules(package)]) + misplaced_names(
        package, internal=internal
    )


def private_module_names(modules: Iterable[types.ModuleType], roots: Collection[str]) -> list[str]:
    """Exported classes and functions of the ``roots`` distributions whose module is private."""
    problems = []
    for module in modules:
        for name in module.__all__:
            value = getattr(module, name)
            if not isinstance(value, type | types.FunctionType):
                continue
            where = value.__module__
            if where.partition(".")[0] in roots and not is_public_module(where):
                problems.append(f"{module.__name__}.{name}.__module__ == {where!r}")
    return problems
