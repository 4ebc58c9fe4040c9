"""Content-addressed files in ``$GENIUS_HOME/blobs``: adapters uploaded or imported by ``create``.

A blob is named by its digest (``sha256:<hex>``, stored as ``sha256-<hex>``). Its bytes
arrive into a temp file in the same folder, are hashed on the way, and are moved into
place only when they hash to the name (``os.replace``, atomic): a blob that exists is
always whole and right, and a mismatch leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio
import anyio.to_thread

from rusty_genius_core import AssetError, ProtocolError

from ._errors import DigestMismatchError
from ._paths import refuse_link

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

__all__ = ["BlobStore", "check_digest"]

_DIGEST: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK: Final = 1 << 20


def check_digest(digest: str) -> str:
    """``digest`` when it is ``sha256:`` and 64 lowercase hex digits; else ProtocolError."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ProtocolError(
            f"digest {digest!r} is not 'sha256:' followed by 64 lowercase hex digits"
        )
    return digest


class BlobStore:
    """The blobs under ``folder`` (``$GENIUS_HOME/blobs``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, digest: str) -> Path:
        return self.folder / check_digest(digest).replace(":", "-", 1)

    async def has(self, digest: str) -> bool:
        path = self.path(digest)
        return await anyio.to_thread.run_sync(path.is_file)

    async def receive(self, digest: str, chunks: AsyncIterable[bytes]) -> Path:
        """Store the bytes of ``chunks`` as ``digest``; DigestMismatchError if they differ."""
        target = self.path(digest)
        await anyio.to_thread.run_sync(self._prepare)
        fd, tmp = await anyio.to_thread.run_sync(
            lambda: tempfile.mkstemp(prefix=".blob-", suffix=".tmp", dir=self.folder)
        )
        os.close(fd)
        hasher = hashlib.sha256()
        try:
            async with await anyio.open_file(tmp, "wb") as out:
                async for chunk in chunks:
                    hasher.update(chunk)
                    await out.write(chunk)
            await anyio.to_thread.run_sync(self._settle, Path(tmp), target, hasher.hexdigest())
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: Path(tmp).unlink(missing_ok=True))
            raise
        return target

    def import_sync(self, source: Path) -> tuple[str, Path]:
        """Copy the file ``source`` into the store: its digest and stored path. Blocking."""
        self._prepare()
        fd, tmp = tempfile.mkstemp(prefix=".blob-", suffix=".tmp", dir=self.folder)
        hasher = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    with source.open("rb") as f:
                        while chunk := f.read(_CHUNK):
                            hasher.update(chunk)
                            out.write(chunk)
                except OSError as exc:
                    raise AssetError(f"cannot read {source}: {exc.strerror or exc}") from exc
            digest = f"sha256:{hasher.hexdigest()}"
            target = self.path(digest)
            self._settle(Path(tmp), target, hasher.hexdigest())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, target

    def _prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        refuse_link(self.folder)

    def _settle(self, tmp: Path, target: Path, actual: str) -> None:
        """Check the bytes in ``tmp`` against ``target``'s name, then move them in place."""
        expected = target.name.split("-", 1)[1]
        if actual != expected:
            raise DigestMismatchError(
                f"blob digest mismatch: expected sha256:{expected}, got sha256:{actual}"
            )
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
