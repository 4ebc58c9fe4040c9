"""Created models: ``genius create``/``cp``/``rm`` as edits of the user's manifest.

A created model is an entry of ``$GENIUS_HOME/manifest.toml`` with a ``base`` (its
``FROM``): it runs on its base's file with its own system prompt, template, parameters,
messages and adapters. Only such entries are written or removed here; an alias a user
wrote by hand, or a built-in one, is never overwritten. Every edit is checked against
the merged manifest before the file is replaced, so a failed ``create`` changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.to_thread
import attrs

from rusty_genius_core import (
    ManifestError,
    ModelEntry,
    ModelReference,
    UserManifest,
    merge_manifests,
)

from ._blobs import BlobStore
from ._errors import ModelNotFoundError
from ._manifest import embedded_manifest
from ._user_manifest import ManifestFile

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._authority import AssetAuthority

__all__ = ["CreatedModels"]


def _alias(name: str, what: str) -> str:
    try:
        ref = ModelReference.parse(name)
    except ManifestError as exc:
        raise ManifestError(f"{what} {name!r}: {exc.message}") from None
    if ref.alias is None:
        raise ManifestError(
            f"{what} {name!r} must be a name (lower case letters, digits, '.', '_', '-'), "
            "not a repo reference"
        )
    return ref.alias


class CreatedModels:
    """Create, copy, remove and read created models of ``authority``'s home."""

    def __init__(self, authority: AssetAuthority) -> None:
        self._authority = authority
        self.file = ManifestFile(authority.paths.manifest_file)
        self.blobs = BlobStore(authority.paths.home / "blobs")

    async def create(self, name: str, entry: ModelEntry) -> None:
        """Store ``entry`` (it must name a ``base``) as ``name``, replacing a created one."""
        name = _alias(name, "model name")
        if entry.base is None:
            raise ManifestError(f"model {name!r} needs a base model to be created from")
        await self._edit(lambda user: self._with(user, name, entry))

    async def copy(self, source: str, destination: str) -> None:
        """``destination`` becomes ``source``'s twin: a created model's entry, copied, or a
        created model over any other alias or repo reference."""
        destination = _alias(destination, "destination")

        def change(user: UserManifest) -> UserManifest:
            own = user.models.get(source.strip().lower())
            entry = own if own is not None and own.created else ModelEntry(base=source.strip())
            return self._with(user, destination, entry)

        await self._edit(change)

    async def remove(self, name: str) -> bool:
        """Remove the created model ``name``; ``False`` when ``name`` is not one."""
        removed: list[str] = []

        def change(user: UserManifest) -> UserManifest | None:
            entry = user.models.get(name.strip().lower())
            if entry is None or not entry.created:
                return None
            alias = name.strip().lower()
            users = sorted(a for a, e in user.models.items() if e.base == alias)
            if users:
                raise ManifestError(
                    f"model {alias!r} is the base of {', '.join(users)}; remove those first"
                )
            removed.append(alias)
            models = {a: e for a, e in user.models.items() if a != alias}
            return attrs.evolve(user, models=models)

        await self._edit(change)
        return bool(removed)

    async def all(self) -> list[tuple[str, ModelEntry]]:
        """Every created model of the user's manifest, by name."""
        user = await anyio.to_thread.run_sync(self.file.read_sync)
        return sorted((a, e) for a, e in user.models.items() if e.created)

    async def own(self, name: str) -> ModelEntry | None:
        """The created entry ``name`` as the user's manifest holds it, if it is one."""
        try:
            alias = ModelReference.parse(name).alias
        except ManifestError:
            return None
        if alias is None:
            return None
        user = await anyio.to_thread.run_sync(self.file.read_sync)
        entry = user.models.get(alias)
        return entry if entry is not None and entry.created else None

    async def _edit(self, change: Callable[[UserManifest], UserManifest | None]) -> None:
        try:
            await anyio.to_thread.run_sync(self.file.update_sync, change)
        finally:
            self._authority._manifest = None  # read again at the next use

    def _with(self, user: UserManifest, name: str, entry: ModelEntry) -> UserManifest:
        """``user`` with ``name`` set to ``entry``, checked against the merged manifest."""
        if name in embedded_manifest().models:
            raise ManifestError(f"{name!r} is a built-in model; choose another name")
        old = user.models.get(name)
        if old is not None and not old.created:
            raise ManifestError(
                f"{name!r} is defined by hand in {self.file.path}; choose another name"
            )
        assert entry.base is not None
        base = ModelReference.parse(entry.base)
        models = {**user.models, name: entry}
        merged = merge_manifests(embedded_manifest(), attrs.evolve(user, models=models))
        if base.alias is not None and base.alias not in merged.models:
            known = tuple(sorted(merged.models))
            raise ModelNotFoundError(
                f"base model {entry.base!r} is not an alias any manifest defines; "
                f"known: {', '.join(known)}; or name a repo as 'org/repo:QUANT'",
                known,
            )
        merged.entry(name)  # a base chain that loops is refused here
        return attrs.evolve(user, models=models)
