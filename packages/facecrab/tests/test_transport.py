"""The download path's throughput parts: wide socket reads, the background data sync, and
what a failing disk looks like. Everything runs over real loopback HTTP on both backends."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

import httpcore
import httpx
import pytest

import facecrab._partial as partial_module
from facecrab import DownloadError
from facecrab._transport import READ_BYTES, WideReadTransport
from rusty_genius_testhub import fake_gguf

if TYPE_CHECKING:
    from collections.abc import Callable

    from facecrab import AssetAuthority
    from rusty_genius_testhub import LoopbackHub

BIG = "acme/big-GGUF"
BIG_FILE = "big.Q4_K_M.gguf"
BIG_SIZE = 20 * 1024 * 1024 + 12_345  # more than two background syncs and an odd tail
HTTPCORE_READ = 64 * 1024


@pytest.fixture(scope="module")
def big_blob() -> bytes:
    return fake_gguf("transport-big", BIG_SIZE)


@pytest.fixture
def big_hub(hub: LoopbackHub, big_blob: bytes) -> LoopbackHub:
    """The hub serving ``acme/big-GGUF``, whose one file is ``big_blob``."""
    hub.add_repo(BIG, {BIG_FILE: big_blob})
    return hub


def test_the_transport_replaces_the_pool_httpx_built() -> None:
    """httpx builds its pool in ``__init__``; this guards the attribute the class replaces."""
    transport = WideReadTransport()
    pool = transport._pool
    assert type(pool) is httpcore.AsyncConnectionPool
    assert type(pool._network_backend).__name__ == "_WideBackend"
    assert READ_BYTES > HTTPCORE_READ


async def test_reads_are_wider_than_httpcores_64_kib(big_hub: LoopbackHub, big_blob: bytes) -> None:
    """httpcore alone never yields a body chunk over 64 KiB (one h11 event per read).

    The hub writes 256 KiB at a time into the same loopback socket, so over 20 MiB some
    read finds more than 64 KiB waiting; with the wide transport that read returns it whole.
    """
    sizes: list[int] = []
    async with (
        httpx.AsyncClient(transport=WideReadTransport(), follow_redirects=True) as client,
        client.stream("GET", f"{big_hub.url}/{BIG}/resolve/main/{BIG_FILE}") as response,
    ):
        assert response.status_code == 200
        body = bytearray()
        async for chunk in response.aiter_raw():
            sizes.append(len(chunk))
            body += chunk
    assert bytes(body) == big_blob
    assert max(sizes) > HTTPCORE_READ, sorted(sizes)[-5:]


@pytest.mark.usefixtures("big_hub")
async def test_data_is_synced_to_disk_while_the_body_streams(
    big_blob: bytes,
    make_authority: Callable[..., AssetAuthority],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The partial is flushed to the disk every 8 MiB, so the final fsync finds little left."""
    synced_sizes: list[int] = []
    real_sync = partial_module._datasync

    def recording_sync(fd: int) -> None:  # a spy: the real sync still runs
        synced_sizes.append(os.fstat(fd).st_size)
        real_sync(fd)

    monkeypatch.setattr(partial_module, "_datasync", recording_sync)
    async with make_authority() as assets:
        local = await assets.ensure_model(f"{BIG}:Q4_K_M")
    assert local.path.read_bytes() == big_blob
    assert synced_sizes, "no background sync ran"
    assert all(8 << 20 <= size < BIG_SIZE for size in synced_sizes), synced_sizes
    assert synced_sizes == sorted(synced_sizes)


# A disk error ends the body loop outside httpx's nested async generators; trio warns as
# it closes the abandoned ones (httpx's, httpcore's) for us, asyncio closes them silently.
@pytest.mark.filterwarnings("ignore:Async generator 'http(x|core)\\.:ResourceWarning")
async def test_a_failing_disk_names_the_file_and_keeps_the_partial(
    big_hub: LoopbackHub,
    big_blob: bytes,
    make_authority: Callable[..., AssetAuthority],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An I/O error from the disk (injected: a real disk cannot be made to fail here)."""

    def failing_sync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(partial_module, "_datasync", failing_sync)
    async with make_authority() as assets:
        with pytest.raises(
            DownloadError,
            match=r"big\.Q4_K_M\.gguf\.partial: Input/output error; the partial file is kept",
        ) as err:
            await assets.ensure_model(f"{BIG}:Q4_K_M")
        assert await assets.list_models() == []
    assert isinstance(err.value.__cause__, OSError)
    partial = assets.paths.cache / BIG / (BIG_FILE + ".partial")
    assert partial.exists()
    assert not (assets.paths.cache / BIG / BIG_FILE).exists()
    kept = partial.read_bytes()
    assert kept == big_blob[: len(kept)]  # the partial is a prefix a later run resumes from

    monkeypatch.undo()
    async with make_authority() as assets:
        local = await assets.ensure_model(f"{BIG}:Q4_K_M")
    assert local.path.read_bytes() == big_blob
    assert big_hub.body_requests(BIG_FILE)[-1].range == f"bytes={len(kept)}-"
