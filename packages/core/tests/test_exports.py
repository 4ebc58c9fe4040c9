"""The public surface: ``__all__`` is sorted, complete, and every name resolves."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import TYPE_CHECKING

import pytest

import rusty_genius_core
from rusty_genius_core import conversion, limits
from rusty_genius_testhub.exports import misplaced_names, private_module_names

if TYPE_CHECKING:
    from types import ModuleType

PRIVATE_MODULES = [
    importlib.import_module(f"rusty_genius_core.{m.name}")
    for m in pkgutil.iter_modules(rusty_genius_core.__path__)
    if m.name.startswith("_")
]
WITH_ALL = [m for m in PRIVATE_MODULES if hasattr(m, "__all__")]
TOPIC_MODULES = {
    "_converter": "rusty_genius_core.conversion",
    "_limits": "rusty_genius_core.limits",
}
"""Private modules whose names a public topic submodule exports instead of the package."""
SHARED = {"_lazy", "_public", "_record"}
"""Private modules the other rusty-genius packages import: helpers, not public API."""
TOP_LEVEL = [m for m in WITH_ALL if m.__name__.rsplit(".", 1)[1] not in {*TOPIC_MODULES, *SHARED}]


def _isort_key(name: str) -> tuple[int, list[int | str]]:
    """ruff's RUF022 order: CONSTANTS, then CamelCase, then the rest; digits compare as numbers."""
    group = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return group, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def test_private_modules_are_found() -> None:
    names = {m.__name__.rsplit(".", 1)[1] for m in WITH_ALL}
    assert {
        "_wire",
        "_converter",
        "_config",
        "_errors",
        "_events",
        "_manifest",
        "_protocol",
    } <= names


def test_all_is_sorted_without_duplicates() -> None:
    names = rusty_genius_core.__all__
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("module", WITH_ALL, ids=lambda m: m.__name__)
def test_private_all_is_sorted(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=_isort_key)


def test_all_is_complete() -> None:
    """Every name a private module declares public is exported from the package."""
    declared = {name for module in TOP_LEVEL for name in module.__all__}
    assert set(rusty_genius_core.__all__) == declared


@pytest.mark.parametrize(("private", "public"), TOPIC_MODULES.items())
def test_topic_modules_export_their_private_module(private: str, public: str) -> None:
    source = importlib.import_module(f"rusty_genius_core.{private}")
    topic = importlib.import_module(public)
    assert topic.__all__ == source.__all__
    assert all(getattr(topic, n) is getattr(source, n) for n in source.__all__)


@pytest.mark.parametrize("module", WITH_ALL, ids=lambda m: m.__name__)
def test_private_all_lists_every_public_definition(module: ModuleType) -> None:
    """A class or function defined without an underscore is meant to be public."""
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    assert defined <= set(module.__all__)


@pytest.mark.parametrize("name", rusty_genius_core.__all__)
def test_every_exported_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(rusty_genius_core, name)
    owners = [m for m in TOP_LEVEL if name in m.__all__]
    assert len(owners) == 1, f"{name} declared in {[m.__name__ for m in owners]}"
    assert getattr(owners[0], name) is value
    assert not name.startswith("_")


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from rusty_genius_core import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(rusty_genius_core.__all__)


def test_the_facade_is_complete() -> None:
    shared = {n for m in WITH_ALL if m.__name__.rsplit(".", 1)[1] in SHARED for n in m.__all__}
    assert not misplaced_names(rusty_genius_core, [conversion, limits], internal=shared)


def test_public_classes_and_functions_name_a_public_module() -> None:
    assert not private_module_names([rusty_genius_core, conversion, limits], {"rusty_genius_core"})
    assert rusty_genius_core.Content.__module__ == "rusty_genius_core"
    assert limits.Limit.__module__ == "rusty_genius_core.limits"
