"""``registry.toml``: what has been downloaded and verified, shared by every process.

Readers need no lock: the file is only ever replaced whole (temp file in the same
directory, fsync, ``os.replace``), so they see the old or the new version. Writers
read-modify-write under a cross-process :class:`filelock.FileLock`, in a worker
thread. A registry that does not parse is reported with its file and line and is
never overwritten: it may hold the only record of what a user downloaded.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

import anyio.to_thread
import attrs
import tomli_w

from rusty_genius_core import ModelSpec, Purpose
from rusty_genius_core._record import Record
from rusty_genius_core.conversion import (
    WrongType,
    allow_extra_keys,
    converter,
    describe,
    omit_defaults,
    structure,
)

from ._errors import RegistryError
from ._manifest import toml_error_location
from ._whole_file import replace_whole, update_locked

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["REGISTRY_VERSION", "Registry", "RegistryEntry", "RegistryPart"]

REGISTRY_VERSION: Final = 1
_HEADER: Final = (
    "# rusty-genius model registry, written by facecrab. Every entry was verified\n"
    "# (sha256 and size) before it was recorded. Edit with care.\n"
)
T = TypeVar("T")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RegistryPart(Record):
    """One file of a split GGUF (``name-00002-of-00003.gguf``)."""

    filename: str
    size: int
    sha256: str
    path: Path


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RegistryEntry(Record):
    """One verified model on disk. ``filename``/``size``/``sha256``/``path`` are its
    first (or only) file; a split GGUF lists every file in ``parts``."""

    reference: str
    repo: str
    revision: str
    commit: str | None = None
    filename: str
    quantization: str
    size: int
    sha256: str
    path: Path
    downloaded_at: dt.datetime
    purpose: Purpose = Purpose.CHAT
    parts: tuple[RegistryPart, ...] = ()

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(p.path for p in self.parts) if self.parts else (self.path,)

    @property
    def key(self) -> tuple[str, str]:
        return self.repo.lower(), self.filename

    def spec(self, name: str | None = None) -> ModelSpec:
        return ModelSpec(
            name=name or self.reference,
            repo=self.repo,
            filename=self.filename,
            quantization=self.quantization,
            revision=self.revision,
            sha256=self.sha256,
            size=self.size,
            purpose=self.purpose,
        )


omit_defaults(RegistryEntry, "commit", "parts")
allow_extra_keys(RegistryEntry)  # as before: keys a newer facecrab wrote are ignored
allow_extra_keys(RegistryPart)


def _words(path: str, exc: BaseException) -> str:
    """The registry's words: ``models[0] has no 'size'``, ``models[0].size must be int``."""
    if isinstance(exc, KeyError):
        table, _, key = path.rpartition(".")
        return f"{table} has no {key!r}"
    if isinstance(exc, WrongType):
        return f"{path} must be {exc.expected.__name__}, got {exc.value!r}"
    return describe(path, exc)


class Registry:
    """The registry file at ``path``; its lock is ``path`` + ``.lock``."""

    def __init__(self, path: Path, *, lock_timeout: float = 60.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout

    # -- blocking core (runs in worker threads) --------------------------------------------

    def read_sync(self) -> list[RegistryEntry]:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"registry {self.path} cannot be read: {exc}") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, column = toml_error_location(exc, text)
            where = (
                f"line {line}" + (f", column {column}" if column else "")
                if line
                else "an unknown place"
            )
            raise RegistryError(
                f"registry {self.path}: invalid TOML at {where} ({exc}); "
                "fix or remove the file, facecrab will not overwrite it"
            ) from exc
        version = data.get("version", REGISTRY_VERSION)
        if version != REGISTRY_VERSION:
            raise RegistryError(
                f"registry {self.path} has version {version!r}; this facecrab reads {REGISTRY_VERSION}"
            )
        models = data.get("models", [])
        if not isinstance(models, list):
            raise RegistryError(f"registry {self.path}: 'models' must be an array of tables")
        return [
            structure(
                m,
                RegistryEntry,
                error=RegistryError,
                where=f"registry {self.path}: models[{i}]",
                words=_words,
            )
            for i, m in enumerate(models)
        ]

    def _write_sync(self, entries: list[RegistryEntry]) -> None:
        """Replace the file with ``entries``; a failing disk (full, read-only) names it."""
        body = tomli_w.dumps(
            {
                "version": REGISTRY_VERSION,
                "models": [converter.unstructure(e) for e in sorted(entries, key=lambda e: e.key)],
            }
        )
        replace_whole(
            self.path,
            _HEADER + body,
            prefix=".registry-",
            what=f"registry {self.path}",
            error=RegistryError,
        )

    def update_sync(
        self, change: Callable[[list[RegistryEntry]], list[RegistryEntry] | None]
    ) -> None:
        """Read, apply ``change``, write (unless it returns ``None``), all under the lock."""

        def apply() -> None:
            changed = change(self.read_sync())
            if changed is not None:
                self._write_sync(changed)

        update_locked(
            self.path,
            apply,
            timeout=self.lock_timeout,
            what=f"registry {self.path}",
            error=RegistryError,
        )

    # -- async API ---------------------------------------------------------------------------

    async def entries(self) -> list[RegistryEntry]:
        return await anyio.to_thread.run_sync(self.read_sync)

    async def record(self, entry: RegistryEntry) -> None:
        """Add ``entry``, replacing the one for the same repo and filename."""

        def change(entries: list[RegistryEntry]) -> list[RegistryEntry]:
            return [e for e in entries if e.key != entry.key] + [entry]

        await anyio.to_thread.run_sync(self.update_sync, change)

    async def remove(
        self,
        match: Callable[[RegistryEntry], bool],
        on_removed: Callable[[RegistryEntry], None] | None = None,
    ) -> list[RegistryEntry]:
        """Drop the entries ``match`` selects; ``on_removed`` runs for each under the lock."""
        removed: list[RegistryEntry] = []

        def change(entries: list[RegistryEntry]) -> list[RegistryEntry] | None:
            removed.extend(e for e in entries if match(e))
            if not removed:
                return None
            for e in removed:
                if on_removed is not None:
                    on_removed(e)
            return [e for e in entries if not match(e)]

        await anyio.to_thread.run_sync(self.update_sync, change)
        return removed
