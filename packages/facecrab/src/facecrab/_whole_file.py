"""Small files facecrab rewrites whole under a cross-process lock: ``registry.toml`` and
the user's ``manifest.toml``.

A file is only ever replaced whole (a temp file in the same directory, fsync,
``os.replace``, then the directory's fsync), so a reader sees the old or the new text and
a failure leaves the old one as it was; every change reads, applies and writes under
``path`` + ``.lock``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import filelock

from ._paths import refuse_link

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius_core import GeniusError

__all__ = ["replace_whole", "update_locked"]


def update_locked(
    path: Path,
    apply: Callable[[], None],
    *,
    timeout: float,
    what: str,
    error: Callable[[str], GeniusError],
) -> None:
    """Run ``apply`` holding ``path``'s lock; a lock held elsewhere for ``timeout`` seconds
    raises ``error`` naming ``what`` and the lock file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    refuse_link(lock_path)
    lock = filelock.FileLock(str(lock_path), timeout=timeout)
    try:
        with lock:
            apply()
    except filelock.Timeout as exc:
        raise error(f"{what} stayed locked for {timeout:g}s ({lock.lock_file})") from exc


def replace_whole(
    path: Path, text: str, *, prefix: str, what: str, error: Callable[[str], GeniusError]
) -> None:
    """Replace ``path`` with ``text``; a failing disk (full, read-only) raises ``error``
    naming ``what``, with the old file in place and no temp file left."""
    try:
        _replace(path, text, prefix)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise error(
            f"{what} cannot be written: {reason}; it still holds what it held before"
        ) from exc


def _replace(path: Path, text: str, prefix: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; not every platform lets a directory be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
