"""The package exports exactly its public names, sorted (as httpx and anyio check theirs)."""

from __future__ import annotations

import rusty_genius_stem


def test_all_is_sorted_and_complete() -> None:
    exported = rusty_genius_stem.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    public = {
        name
        for name, value in vars(rusty_genius_stem).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("rusty_genius_stem")
    }
    assert public <= set(exported)
    for name in exported:
        assert hasattr(rusty_genius_stem, name), name
    assert len(set(exported)) == len(exported)


def test_public_objects_live_in_private_modules() -> None:
    for name in rusty_genius_stem.__all__:
        value = getattr(rusty_genius_stem, name)
        if isinstance(value, type) or (callable(value) and hasattr(value, "__code__")):
            assert value.__module__.startswith("rusty_genius_stem._"), (name, value.__module__)
