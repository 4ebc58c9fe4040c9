"""The brainstem logs how each inference request ended, also one whose reader left.

A server's client that hangs up never reads the final ``Complete``; the log line is
where the cancellation shows (``genius serve``'s chat page relies on it for Stop).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from rusty_genius_core import ChatMessage, Complete, Content, Infer, InferenceConfig, Role
from rusty_genius_stem import open_brainstem

if TYPE_CHECKING:
    import pytest

    from conftest import FakeAssets, Lab


def chat(text: str) -> Infer:
    return Infer(
        model="alpha",
        messages=[ChatMessage(role=Role.USER, content=text)],
        config=InferenceConfig.greedy(),
    )


def finished(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    lines = (re.fullmatch(r"request (\S+) finished: (\w+)", r.getMessage()) for r in caplog.records)
    return {m[1]: m[2] for m in lines if m}


async def test_each_request_logs_its_finish_reason_even_after_its_reader_left(
    lab: Lab, assets: FakeAssets, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rusty_genius_stem")
    long_text = " ".join(f"w{i}" for i in range(2000))
    async with open_brainstem(assets, engine_factory=lab.factory()) as client:
        async with client.stream(chat(long_text), request_id="left") as bodies:
            async for body in bodies:
                if isinstance(body, Content):
                    break
        # The engine serves one request at a time: this one starts after "left" ended.
        after = await client.call(chat("still fine"), request_id="stayed")
        assert isinstance(after, Complete)
        assert finished(caplog) == {"left": "cancelled", "stayed": "stop"}
