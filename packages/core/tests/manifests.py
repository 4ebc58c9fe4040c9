"""What the manifest tests read off a manifest's resolved entries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rusty_genius_core import UserManifest


def entry_fields(manifest: UserManifest, name: str, *fields: str) -> tuple[Any, ...]:
    """``fields`` of ``manifest``'s entry ``name`` resolved (defaults, base), which must exist."""
    entry = manifest.entry(name)
    assert entry is not None, f"no entry {name!r}"
    return tuple(getattr(entry, field) for field in fields)
