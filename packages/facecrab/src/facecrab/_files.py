"""Small blocking helpers of the asset authority: the stored token, files on disk."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ._registry import RegistryEntry

__all__ = ["delete_files", "files_present", "same_key", "stored_token"]


def stored_token() -> str | None:
    """huggingface_hub's token (``HF_TOKEN`` or its token file), if any."""
    from huggingface_hub import get_token

    return get_token()


def files_present(entry: RegistryEntry) -> bool:
    expected: list[tuple[Path, int]] = (
        [(p.path, p.size) for p in entry.parts] if entry.parts else [(entry.path, entry.size)]
    )
    try:
        return all(path.stat().st_size == size for path, size in expected)
    except OSError:
        return False


def same_key(entry: RegistryEntry) -> Callable[[RegistryEntry], bool]:
    return lambda other: other.key == entry.key


def delete_files(entry: RegistryEntry) -> None:
    for path in entry.files:
        for victim in (path, path.with_name(path.name + ".partial")):
            victim.unlink(missing_ok=True)
