"""ProgressThrottle's trailing flusher: errors of the background send come out as themselves."""

from __future__ import annotations

import anyio
import pytest

from facecrab import ProgressThrottle
from rusty_genius_core import AssetEvent, AssetProgress


class _Full(Exception):
    """The consumer's own error."""


async def test_an_error_of_a_trailing_send_ends_the_block_as_itself() -> None:
    sent: list[AssetEvent] = []

    async def emit(event: AssetEvent) -> None:
        sent.append(event)
        raise _Full

    throttle = ProgressThrottle(emit, "f.gguf", 1000, min_bytes=100, min_interval=0)

    async def stalled_download() -> None:
        async with throttle.trailing():
            await throttle(10)  # fewer than min_bytes: held back for the flusher
            await anyio.sleep_forever()  # the flusher's failing send cancels this

    with pytest.raises(_Full):
        await stalled_download()
    assert sent == [AssetProgress(filename="f.gguf", done=10, total=1000)]


async def test_an_error_of_the_block_comes_out_as_itself() -> None:
    sent: list[AssetEvent] = []

    async def emit(event: AssetEvent) -> None:
        sent.append(event)

    throttle = ProgressThrottle(emit, "f.gguf", 1000, min_bytes=1, min_interval=0)

    async def failing_download() -> None:
        async with throttle.trailing():
            await throttle(1000)
            raise _Full

    with pytest.raises(_Full):
        await failing_download()
    assert sent == [AssetProgress(filename="f.gguf", done=1000, total=1000)]
