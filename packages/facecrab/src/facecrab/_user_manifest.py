"""Writing the user's ``$GENIUS_HOME/manifest.toml``: created, copied and removed models.

As with ``registry.toml``, the file is only ever replaced whole (temp file in the same
directory, fsync, ``os.replace``) under a cross-process lock, so a reader sees the old
or the new manifest and a failure leaves the old one as it was. A manifest that does not
parse is reported and never overwritten. Rewriting drops the file's comments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import tomli_w

from rusty_genius_core import AssetError, UserManifest

from ._manifest import parse_toml
from ._paths import refuse_link
from ._whole_file import replace_whole, update_locked

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["ManifestFile"]

_HEADER: Final = (
    "# rusty-genius user manifest: merged over facecrab's built-in models.toml.\n"
    "# genius create/cp/rm rewrite this file (comments are not kept).\n\n"
)


class ManifestFile:
    """The user's manifest at ``path``; its lock is ``path`` + ``.lock``."""

    def __init__(self, path: Path, *, lock_timeout: float = 60.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout

    def read_sync(self) -> UserManifest:
        """The user's own manifest (not merged); empty when the file does not exist."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return UserManifest()
        except (OSError, UnicodeDecodeError) as exc:
            raise AssetError(f"{self.path} cannot be read: {exc}") from exc
        return UserManifest.from_dict(parse_toml(text, str(self.path)), str(self.path))

    def update_sync(self, change: Callable[[UserManifest], UserManifest | None]) -> None:
        """Read, apply ``change``, write (unless it returns ``None``), all under the lock."""
        refuse_link(self.path)

        def apply() -> None:
            changed = change(self.read_sync())
            if changed is not None:
                self._write_sync(changed)

        update_locked(
            self.path, apply, timeout=self.lock_timeout, what=str(self.path), error=AssetError
        )

    def _write_sync(self, manifest: UserManifest) -> None:
        body = _HEADER + tomli_w.dumps(manifest.to_dict())
        # What is written must read back as what was meant, before it replaces anything.
        UserManifest.from_dict(parse_toml(body, str(self.path)), str(self.path))
        replace_whole(self.path, body, prefix=".manifest-", what=str(self.path), error=AssetError)
