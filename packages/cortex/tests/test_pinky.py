"""Pinky, the stub engine: the event stream, limits, stop paths and serialization.

Every async test here runs on asyncio and on trio (root conftest).
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import pytest
import trio.testing

from rusty_genius_core import (
    ChatMessage,
    Complete,
    ConfigError,
    Content,
    EngineError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ProcessStart,
    Thought,
    ThoughtDelta,
    ThoughtStart,
    ThoughtStop,
)
from rusty_genius_cortex import (
    PINKY_THOUGHT,
    Engine,
    PinkyEngine,
    StopSignal,
    pinky_tokens,
)
from rusty_genius_testhub.engines import collect, final, text_of

PROMPT = "Hello there, <b>brain</b>! What are we doing tonight?"


async def loaded(**kwargs: float) -> PinkyEngine:
    engine = PinkyEngine(**kwargs)
    await engine.load("pinky-test", None, LoadOptions())
    return engine


def test_pinky_is_an_engine() -> None:
    engine = PinkyEngine()
    assert isinstance(engine, Engine)
    assert engine.backend == "pinky"
    assert not engine.needs_weights
    assert not engine.is_loaded
    assert engine.model_name is None


def test_tokenizer_round_trips_and_splits_tags() -> None:
    assert pinky_tokens("<think>\nNarf!\n</think>") == [
        "<",
        "think",
        ">",
        "\nNarf!",
        "\n",
        "<",
        "/",
        "think",
        ">",
    ]
    for text in (PROMPT, PINKY_THOUGHT, "  a  b\t\n", ""):
        assert "".join(pinky_tokens(text)) == text


async def test_prompt_is_echoed_after_a_thought() -> None:
    engine = await loaded()
    events = await collect(engine.infer(prompt=PROMPT, config=InferenceConfig()))
    assert events[0] == ProcessStart(model="pinky-test", cold=True)
    assert events[1:4] == [
        Thought(event=ThoughtStart()),
        Thought(event=ThoughtDelta(text="Narf!")),
        Thought(event=ThoughtStop()),
    ]
    assert text_of(events) == PROMPT
    assert all(isinstance(e, Content) for e in events[4:-1])
    usage = final(events)
    assert usage.finish_reason is FinishReason.STOP
    assert usage.prompt_tokens == len(pinky_tokens(PROMPT))
    assert usage.completion_tokens == len(pinky_tokens(PINKY_THOUGHT + PROMPT))
    assert usage.time_to_first_token is not None


async def test_chat_echoes_the_last_user_message() -> None:
    engine = await loaded()
    messages = [
        ChatMessage(role="system", content="You are Pinky."),
        ChatMessage(role="user", content="first question"),
        ChatMessage(role="assistant", content="Narf."),
        ChatMessage(role="user", content="Are you pondering what I'm pondering?"),
    ]
    events = await collect(engine.infer(messages=messages, config=InferenceConfig()))
    assert text_of(events) == "Are you pondering what I'm pondering?"
    assert final(events).prompt_tokens == sum(len(pinky_tokens(m.content)) for m in messages)


async def test_deterministic_and_warm_after_the_first_request() -> None:
    engine = await loaded()
    first = await collect(engine.infer(prompt=PROMPT, config=InferenceConfig()))
    second = await collect(engine.infer(prompt=PROMPT, config=InferenceConfig()))
    assert first[1:-1] == second[1:-1]
    assert second[0] == ProcessStart(model="pinky-test", cold=False)
    assert final(second).load_duration == 0.0


async def test_max_tokens_ends_with_length() -> None:
    engine = await loaded()
    events = await collect(engine.infer(prompt=PROMPT, config=InferenceConfig(max_tokens=12)))
    usage = final(events)
    assert usage.finish_reason is FinishReason.LENGTH
    assert usage.completion_tokens == 12
    echoed = "".join(pinky_tokens(PINKY_THOUGHT + PROMPT)[:12])
    assert text_of(events) == echoed[len(PINKY_THOUGHT) :]


async def test_max_tokens_inside_the_thought_closes_it() -> None:
    engine = await loaded()
    events = await collect(engine.infer(prompt=PROMPT, config=InferenceConfig(max_tokens=4)))
    assert events[1:-1] == [
        Thought(event=ThoughtStart()),
        Thought(event=ThoughtDelta(text="Narf!")),
        Thought(event=ThoughtStop()),
    ]
    assert final(events).finish_reason is FinishReason.LENGTH


async def test_stop_strings() -> None:
    engine = await loaded()
    config = InferenceConfig(stop=("brain",))
    events = await collect(engine.infer(prompt=PROMPT, config=config))
    assert text_of(events) == "Hello there, <b>"
    assert final(events).finish_reason is FinishReason.STOP


async def test_show_thinking_false_hides_the_thought() -> None:
    engine = await loaded()
    events = await collect(engine.infer(prompt=PROMPT, config=InferenceConfig(show_thinking=False)))
    assert not any(isinstance(e, Thought) for e in events)
    assert text_of(events) == PROMPT


async def test_stop_signal_cancels_between_tokens() -> None:
    engine = await loaded()
    stop = StopSignal()
    events = []
    async for event in engine.infer(prompt=PROMPT, config=InferenceConfig(), stop=stop):
        events.append(event)
        if isinstance(event, Content):
            stop.set()
    usage = final(events)
    assert usage.finish_reason is FinishReason.CANCELLED
    assert text_of(events) == "Hello"  # the token after the signal is never produced
    assert usage.completion_tokens == len(pinky_tokens(PINKY_THOUGHT + "Hello"))


async def test_cancelling_the_consumer_frees_the_engine() -> None:
    engine = await loaded()
    seen: list[InferenceEvent] = []
    with anyio.CancelScope() as scope:
        async for event in engine.infer(prompt=PROMPT, config=InferenceConfig()):
            seen.append(event)
            if isinstance(event, Content):
                scope.cancel()
    assert scope.cancelled_caught
    assert not any(isinstance(e, Complete) for e in seen)
    events = await collect(engine.infer(prompt="next", config=InferenceConfig()))
    assert text_of(events) == "next"


async def test_requests_run_one_after_another() -> None:
    engine = await loaded()
    log: list[str] = []
    first_started = anyio.Event()
    release_first = anyio.Event()

    async def first() -> None:
        async for event in engine.infer(prompt="one", config=InferenceConfig()):
            if isinstance(event, ProcessStart):
                first_started.set()
                await release_first.wait()
            log.append(f"1:{type(event).__name__}")

    async def second() -> None:
        async for event in engine.infer(prompt="two", config=InferenceConfig()):
            log.append(f"2:{type(event).__name__}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await first_started.wait()
        tg.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        assert not any(entry.startswith("2:") for entry in log)  # queued behind the first
        release_first.set()
    firsts = [i for i, entry in enumerate(log) if entry.startswith("1:")]
    seconds = [i for i, entry in enumerate(log) if entry.startswith("2:")]
    assert max(firsts) < min(seconds)
    assert log[max(firsts)] == "1:Complete"


async def test_errors_before_any_event() -> None:
    engine = PinkyEngine()
    with pytest.raises(EngineError, match="no model loaded"):
        await collect(engine.infer(prompt="x", config=InferenceConfig()))
    await engine.load("m", None, LoadOptions())
    with pytest.raises(ConfigError, match="exactly one"):
        await collect(engine.infer(config=InferenceConfig()))
    with pytest.raises(ConfigError, match="exactly one"):
        await collect(
            engine.infer(
                prompt="x",
                messages=[ChatMessage(role="user", content="y")],
                config=InferenceConfig(),
            )
        )
    with pytest.raises(ConfigError, match="at least one message"):
        await collect(engine.infer(messages=[], config=InferenceConfig()))
    with pytest.raises(EngineError, match="needs a model name"):
        await engine.load("", None, LoadOptions())


async def test_unload_is_idempotent() -> None:
    engine = await loaded()
    await engine.unload()
    await engine.unload()
    assert not engine.is_loaded
    assert engine.model_name is None


def test_negative_delays_are_refused() -> None:
    with pytest.raises(ConfigError, match="load_delay=-1"):
        PinkyEngine(load_delay=-1)


@pytest.mark.parametrize(
    "anyio_backend",
    [pytest.param(("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}), id="trio")],
)
async def test_simulated_delays_show_in_usage(anyio_backend: Any) -> None:
    """On trio's MockClock the simulated time is exact, so the usage figures are too."""
    engine = PinkyEngine(load_delay=2.5, token_delay=0.125)
    assert await engine.load("slow", None, LoadOptions()) == pytest.approx(2.5)
    events = await collect(engine.infer(prompt="a b c", config=InferenceConfig()))
    usage = final(events)
    tokens = len(pinky_tokens(PINKY_THOUGHT + "a b c"))
    assert usage.load_duration == pytest.approx(2.5)
    assert usage.time_to_first_token == pytest.approx(0.125)
    assert usage.decode_duration == pytest.approx(0.125 * (tokens - 1))
    assert usage.decode_tokens_per_second == pytest.approx(8.0)


async def test_breaking_out_early_releases_the_engine() -> None:
    engine = await loaded()
    stream = engine.infer(prompt=PROMPT, config=InferenceConfig())
    async with contextlib.aclosing(stream) as it:  # type: ignore[type-var]
        async for event in it:
            if isinstance(event, Content):
                break
    events = await collect(engine.infer(prompt="again", config=InferenceConfig()))
    assert text_of(events) == "again"
