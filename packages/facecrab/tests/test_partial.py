"""The ``.partial`` file's background writer and syncer, driven directly."""

from __future__ import annotations

import errno
import os
import threading
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest

import facecrab._partial as partial_module
from facecrab import DownloadError

if TYPE_CHECKING:
    from pathlib import Path


async def test_the_writer_and_the_syncer_failing_together_raise_one_download_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dying disk fails the append and the background sync at once: one error comes out."""
    sync_started, append_failed = threading.Event(), threading.Event()

    def failing_sync(fd: int) -> None:
        sync_started.set()
        append_failed.wait(10)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    def failing_append() -> None:
        sync_started.wait(10)
        append_failed.set()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(partial_module, "_datasync", failing_sync)
    partial = partial_module.PartialFile(tmp_path / "f.gguf.partial")
    monkeypatch.setattr(partial, "_append_head", failing_append)
    await partial.open(None)

    async def stream() -> None:
        async with partial.writing():
            partial._sync_wanted.set()  # as after 8 MiB on disk
            await partial.write(bytes(1 << 20))  # a full batch for the writer
            await anyio.sleep_forever()

    try:
        with pytest.raises(DownloadError, match=r"f\.gguf\.partial: .*; the partial file is kept"):
            await stream()
    finally:
        await partial.keep()
    assert sync_started.is_set()
    assert append_failed.is_set()


async def test_an_error_of_the_block_after_a_disk_error_leaves_the_disk_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body fails too (shielded, so not by the cancellation): the writer's error wins."""

    def failing_append() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    partial = partial_module.PartialFile(tmp_path / "f.gguf.partial")
    monkeypatch.setattr(partial, "_append_head", failing_append)
    await partial.open(None)

    async def stream() -> None:
        async with partial.writing():
            await partial.write(bytes(1 << 20))
            with anyio.CancelScope(shield=True):
                while not partial._decided:  # until the writer has failed
                    await anyio.lowlevel.checkpoint()
            raise ValueError("the body's own error, after the disk's")

    try:
        with pytest.raises(DownloadError, match=r"No space left on device; the partial file"):
            await stream()
    finally:
        await partial.keep()
    assert partial.path.stat().st_size == 0
