"""The package's public surface: __all__ is complete, sorted and resolvable."""

from __future__ import annotations

import types

import rusty_genius_cortex


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


def test_all_is_complete_and_sorted() -> None:
    exported = rusty_genius_cortex.__all__
    public = {
        name
        for name, value in vars(rusty_genius_cortex).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert set(exported) == public
    assert list(exported) == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)


def test_every_export_comes_from_cortex() -> None:
    for name in rusty_genius_cortex.__all__:
        value = getattr(rusty_genius_cortex, name)
        module = getattr(value, "__module__", None)
        if isinstance(value, type | types.FunctionType):
            assert module is not None
            assert module.startswith("rusty_genius_cortex."), (name, module)
