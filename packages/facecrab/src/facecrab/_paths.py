"""Where facecrab keeps its configuration and its model files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
import platformdirs

from rusty_genius_core import AssetError
from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["APP_NAME", "GeniusPaths", "refuse_link"]

_WRITE_SUFFIXES: Final = (".partial", ".lock")
"""What facecrab writes next to a model file: its download in progress and its lock."""

APP_NAME: Final = "rusty-genius"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class GeniusPaths(Record):
    """``home`` holds ``registry.toml`` and the user's ``manifest.toml``; ``cache`` the GGUFs.

    Defaults come from platformdirs (the user config and cache directories), then
    ``GENIUS_HOME`` / ``GENIUS_CACHE``, then explicit arguments, each overriding the last.
    """

    home: Path
    cache: Path

    @classmethod
    def from_env(
        cls,
        *,
        home: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> GeniusPaths:
        env = os.environ if environ is None else environ
        home_path = (
            Path(home)
            if home is not None
            else Path(env["GENIUS_HOME"])
            if env.get("GENIUS_HOME")
            else platformdirs.user_config_path(APP_NAME)
        )
        cache_path = (
            Path(cache)
            if cache is not None
            else Path(env["GENIUS_CACHE"])
            if env.get("GENIUS_CACHE")
            else platformdirs.user_cache_path(APP_NAME) / "models"
        )
        return cls(home=home_path.expanduser().absolute(), cache=cache_path.expanduser().absolute())

    @property
    def registry_file(self) -> Path:
        return self.home / "registry.toml"

    @property
    def manifest_file(self) -> Path:
        return self.home / "manifest.toml"

    def model_file(self, repo: str, filename: str) -> Path:
        """``cache/org/name/filename``; repo and filename were validated as safe paths."""
        org, name = repo.split("/", 1)
        return self.cache / org / name / filename

    def refuse_links(self, target: Path) -> None:
        """Raise :class:`AssetError` if a symbolic link is on the way to writing ``target``.

        Checked (blocking ``lstat`` calls): every directory below the cache root that
        leads to ``target``, ``target`` itself, and its ``.partial`` and ``.lock``. A link
        planted there would make a download append to, or a lock truncate, a file outside
        the cache. The cache root itself may be a link (a cache moved to another disk).
        """
        try:
            inside = target.relative_to(self.cache).parts
        except ValueError:
            inside = (target.name,)
        current = self.cache
        for part in inside[:-1]:
            current = current / part
            refuse_link(current)
        for suffix in ("", *_WRITE_SUFFIXES):
            refuse_link(target.with_name(target.name + suffix))


def refuse_link(path: Path) -> None:
    """Raise :class:`AssetError` naming ``path`` if it is a symbolic link (blocking)."""
    if path.is_symlink():
        raise AssetError(
            f"{path} is a symbolic link; facecrab writes its cache only through regular files "
            "and directories, so it refuses it (nothing was written through the link). "
            "Remove the link and try again"
        )
