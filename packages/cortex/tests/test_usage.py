"""UsageMeter: the definitions of every Usage field, on an injected clock."""

from __future__ import annotations

import pytest

from rusty_genius_core import FinishReason
from rusty_genius_cortex import UsageMeter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_request() -> None:
    clock = Clock()
    meter = UsageMeter(load_duration=1.5, clock=clock)
    clock.now += 0.25  # waiting for the turn, templating
    meter.prompt_started(42)
    clock.now += 0.5  # prompt evaluation
    meter.prompt_done()
    meter.token()  # first token: TTFT = 0.75
    for _ in range(10):
        clock.now += 0.1
        meter.token()
    clock.now += 3.0  # after the last token: not decode time
    usage = meter.usage(FinishReason.LENGTH)
    assert usage.prompt_tokens == 42
    assert usage.completion_tokens == 11
    assert usage.total_tokens == 53
    assert usage.time_to_first_token == pytest.approx(0.75)
    assert usage.prompt_duration == pytest.approx(0.5)
    assert usage.decode_duration == pytest.approx(1.0)
    assert usage.decode_tokens_per_second == pytest.approx(10.0)
    assert usage.load_duration == 1.5
    assert usage.finish_reason is FinishReason.LENGTH


def test_no_token_at_all() -> None:
    clock = Clock()
    meter = UsageMeter(clock=clock)
    meter.prompt_started(7)
    clock.now += 0.2
    usage = meter.usage(FinishReason.CANCELLED)
    assert usage.time_to_first_token is None
    assert usage.completion_tokens == 0
    assert usage.prompt_duration == pytest.approx(0.2)  # evaluated up to now
    assert (usage.decode_duration, usage.decode_tokens_per_second) == (0.0, 0.0)


def test_one_token_has_no_rate() -> None:
    clock = Clock()
    meter = UsageMeter(clock=clock)
    meter.prompt_started(1)
    clock.now += 0.1
    meter.token()  # also marks the prompt done
    usage = meter.usage(FinishReason.STOP)
    assert usage.completion_tokens == 1
    assert usage.prompt_duration == pytest.approx(0.1)
    assert usage.time_to_first_token == pytest.approx(0.1)
    assert usage.decode_tokens_per_second == 0.0


def test_load_duration_is_charged_later_and_never_negative() -> None:
    meter = UsageMeter(load_duration=-1.0)
    assert meter.load_duration == 0.0
    meter.load_duration = 2.0
    assert meter.usage(FinishReason.STOP).load_duration == 2.0
