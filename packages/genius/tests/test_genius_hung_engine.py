"""Leaving ``async with Genius`` finishes while an engine ignores its stop signal (issue 18, 6).

The engine double yields one token and then waits in a shielded scope, deaf to its stop
signal and to cancellation (as llama.cpp's engine waits for a stuck worker thread). The
stop deadline is a timer: these tests run on trio's ``MockClock``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from rusty_genius import Content, EngineError, FinishReason, Genius
from rusty_genius.brainstem import DEFAULT_STOP_TIMEOUT
from rusty_genius_testhub.engines import HungFirst

if TYPE_CHECKING:
    from collections.abc import Callable


pytestmark = pytest.mark.virtual_time

MODEL = "smollm2-135m-instruct"


async def test_leaving_genius_finishes_while_its_engine_hangs(
    make_genius: Callable[..., Genius],
) -> None:
    engines = HungFirst()
    hung = engines.hung
    errors: list[BaseException] = []

    async def consume(genius: Genius) -> None:
        try:
            async with genius.infer(MODEL, "hangs") as stream:
                async for _event in stream:
                    pass
        except EngineError as exc:
            errors.append(exc)

    async with (
        anyio.create_task_group() as tg,
        make_genius(engine_factory=engines) as genius,
    ):
        tg.start_soon(consume, genius)
        await hung.hanging.wait()
        # Genius is left here while the request still hangs; the consumer task outlives it.
    assert len(errors) == 1
    assert f"did not stop within {DEFAULT_STOP_TIMEOUT:g} s" in str(errors[0])
    hung.release.set()
    await hung.unloaded.wait()


async def test_a_cancelled_request_on_a_hung_engine_frees_the_model_for_the_next(
    make_genius: Callable[..., Genius],
) -> None:
    engines = HungFirst()
    hung = engines.hung
    async with make_genius(engine_factory=engines, stop_timeout=2.5) as genius:
        async with genius.infer(MODEL, "hangs") as stream:
            async for event in stream:
                if isinstance(event, Content):
                    break  # leaving the stream cancels the request
        answer = await genius.complete(MODEL, "next")
        assert answer.finish_reason is FinishReason.STOP
        assert answer.content == "next"
    hung.release.set()
    await hung.unloaded.wait()
