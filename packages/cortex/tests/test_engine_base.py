"""EngineBase's share of every engine, the backend names, and StopSignal's two sides."""

from __future__ import annotations

import threading
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, get_args

import anyio
import anyio.lowlevel
import pytest

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
    ModelSpec,
    ProcessStart,
    Role,
    Usage,
)
from rusty_genius_cortex import (
    BACKEND_AUTO,
    BACKEND_LLAMA,
    BACKEND_PINKY,
    BACKEND_REMOTE,
    Backend,
    EngineBase,
    EngineRequest,
    LlamaEngine,
    PinkyEngine,
    RemoteEngine,
    StopSignal,
    UsageMeter,
    create_engine,
)
from rusty_genius_testhub.engines import collect

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from pathlib import Path

HELLO = [ChatMessage(role=Role.USER, content="hello")]


class Words(EngineBase[list[str]]):
    """Yields the prompt's words, with a checkpoint before each; records what happened.

    Its clock is a counter the test sets, so durations are exact.
    """

    _backend = "words"

    def __init__(self, *, serialize: bool = True, complete: bool = True) -> None:
        super().__init__(serialize=serialize)
        self.clock = 0.0
        self.load_takes = 0.0
        self.complete = complete
        self.log: list[str] = []

    def _clock(self) -> Callable[[], float]:
        return lambda: self.clock

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        self.clock += self.load_takes
        self.log.append(f"load {name}")

    async def _unload_model(self) -> None:
        self.log.append("unload")

    async def _prepare(self, model: str, request: EngineRequest) -> list[str]:
        assert request.prompt is not None or request.messages is not None
        text = request.prompt if request.prompt is not None else request.messages[-1].content  # type: ignore[index]
        return text.split()

    async def _generate(
        self, words: list[str], meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        try:
            for word in words:
                await anyio.lowlevel.checkpoint()
                self.log.append(word)
                yield Content(text=word)
            if self.complete:
                yield Complete(usage=meter.usage(FinishReason.STOP))
        finally:
            self.log.append("closed")


def test_backend_names_are_the_factorys_and_the_engines() -> None:
    assert get_args(Backend) == (BACKEND_AUTO, BACKEND_PINKY, BACKEND_LLAMA, BACKEND_REMOTE)
    assert PinkyEngine().backend == BACKEND_PINKY
    assert LlamaEngine().backend == BACKEND_LLAMA
    assert RemoteEngine("http://127.0.0.1:9").backend == BACKEND_REMOTE
    assert create_engine(BACKEND_PINKY).backend == BACKEND_PINKY


def test_the_hooks_are_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        EngineBase()  # type: ignore[abstract]

    class Half(EngineBase[None]):
        _backend = "half"

        async def _load_model(self, *args: Any) -> None:
            pass

    with pytest.raises(TypeError, match="_generate"):
        Half()  # type: ignore[abstract]


async def test_the_requests_are_checked_for_every_engine() -> None:
    for engine in (Words(), PinkyEngine()):
        await engine.load("m", None, LoadOptions())
        with pytest.raises(ConfigError, match="exactly one"):
            await collect(engine.infer(config=InferenceConfig()))
        with pytest.raises(ConfigError, match="exactly one"):
            await collect(engine.infer(prompt="x", messages=HELLO, config=InferenceConfig()))
        with pytest.raises(ConfigError, match="at least one message"):
            await collect(engine.infer(messages=[], config=InferenceConfig()))
        with pytest.raises(ConfigError, match="raw=True"):
            await collect(engine.infer(messages=HELLO, config=InferenceConfig(raw=True)))
        with pytest.raises(EngineError, match="needs a model name"):
            await engine.load("  ", None, LoadOptions())
        await engine.unload()
        with pytest.raises(EngineError, match=f"{type(engine).__name__} has no model loaded"):
            await collect(engine.infer(prompt="x", config=InferenceConfig()))


async def test_the_first_request_after_a_load_is_cold_and_pays_for_it() -> None:
    engine = Words()
    engine.load_takes = 2.5
    assert (engine.is_loaded, engine.model_name, engine.needs_weights) == (False, None, True)
    assert await engine.load("m", None, LoadOptions()) == 2.5
    assert (engine.is_loaded, engine.model_name) == (True, "m")
    first = await collect(engine.infer(prompt="a b", config=InferenceConfig()))
    second = await collect(engine.infer(prompt="a b", config=InferenceConfig()))
    assert first[0] == ProcessStart(model="m", cold=True)
    assert second[0] == ProcessStart(model="m", cold=False)
    assert first[1:3] == second[1:3] == [Content(text="a"), Content(text="b")]
    assert isinstance(first[-1], Complete)
    assert isinstance(second[-1], Complete)
    assert (first[-1].usage.load_duration, second[-1].usage.load_duration) == (2.5, 0.0)
    await engine.unload()
    assert (engine.is_loaded, engine.model_name) == (False, None)
    assert engine.log == ["load m", "a", "b", "closed", "a", "b", "closed", "unload"]


@pytest.fixture
async def words() -> Words:
    """A :class:`Words` engine with model ``m`` loaded."""
    engine = Words()
    await engine.load("m", None, LoadOptions())
    return engine


async def test_the_turn_is_released_before_complete(words: Words) -> None:
    held = words.infer(prompt="one two", config=InferenceConfig())
    async with aclosing(held):
        async for event in held:
            if isinstance(event, Complete):
                break  # parked at Complete: the next request must not wait for us
        with anyio.fail_after(10):  # a hang guard, not a timing assertion
            other = await collect(words.infer(prompt="three", config=InferenceConfig()))
    assert [e for e in other if isinstance(e, Content)] == [Content(text="three")]


@pytest.mark.parametrize("serialize", [True, False])
async def test_serialized_requests_take_turns_and_others_interleave(serialize: bool) -> None:
    engine = Words(serialize=serialize)
    await engine.load("m", None, LoadOptions())
    log: list[tuple[str, InferenceEvent]] = []

    async def run(
        name: str, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        stream = engine.infer(prompt=f"{name}1 {name}2 {name}3", config=InferenceConfig())
        async with aclosing(stream):
            async for event in stream:
                log.append((name, event))
                if isinstance(event, ProcessStart):
                    task_status.started()  # "a" holds the turn (if there is one) from here

    async with anyio.create_task_group() as tg:
        await tg.start(run, "a")
        tg.start_soon(run, "b")
    body = [name for name, event in log if not isinstance(event, Complete)]
    assert sorted(body) == ["a"] * 4 + ["b"] * 4
    assert (body == ["a"] * 4 + ["b"] * 4) is serialize


async def test_closing_early_closes_the_generation_and_a_missing_complete_is_an_error(
    words: Words,
) -> None:
    stream = words.infer(prompt="a b c", config=InferenceConfig())
    async with aclosing(stream):
        async for event in stream:
            if isinstance(event, Content):
                break
    assert words.log[-2:] == ["a", "closed"]
    words.complete = False
    with pytest.raises(EngineError, match="words engine ended a request without a result"):
        await collect(words.infer(prompt="a", config=InferenceConfig()))
    # The turn was given back on both paths.
    words.complete = True
    assert len(await collect(words.infer(prompt="a", config=InferenceConfig()))) == 3


def test_a_stop_signal_is_made_and_read_outside_any_loop() -> None:
    stop = StopSignal()
    seen: list[bool] = []
    reader = threading.Thread(target=lambda: seen.append(stop.is_set()))
    reader.start()
    reader.join()
    stop.set()
    stop.set()  # idempotent
    assert seen == [False]
    assert stop.is_set()


async def test_stop_wait_returns_once_set() -> None:
    stop = StopSignal()
    order: list[str] = []

    async def waiter() -> None:
        await stop.wait()
        order.append("woke")

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        order.append("set")
        stop.set()
    assert order == ["set", "woke"]
    await stop.wait()  # already set: returns at once


async def test_the_stop_cancel_scope_ends_a_wait_when_set() -> None:
    stop = StopSignal()
    never = anyio.Event()
    async with anyio.create_task_group() as tg:

        async def stopper() -> None:
            await anyio.wait_all_tasks_blocked()
            stop.set()

        tg.start_soon(stopper)
        with stop.cancel_scope() as scope:
            await never.wait()
    assert scope.cancelled_caught
    with stop.cancel_scope() as already:  # set before entering: cancelled at once
        await never.wait()
    assert already.cancelled_caught
    other = StopSignal()
    with other.cancel_scope() as untouched:
        await anyio.lowlevel.checkpoint()
    assert not untouched.cancel_called
    assert not other._scopes  # left scopes are forgotten


async def test_engines_serve_any_usage_they_are_given() -> None:
    # A double may build Complete itself; the base passes it through after the turn.
    class Fixed(Words):
        async def _generate(
            self, words: list[str], meter: UsageMeter, stop: StopSignal | None
        ) -> AsyncGenerator[InferenceEvent, None]:
            yield Complete(usage=Usage(completion_tokens=7, finish_reason=FinishReason.LENGTH))

    engine = Fixed()
    await engine.load("m", None, LoadOptions())
    events = await collect(engine.infer(prompt="x", config=InferenceConfig()))
    assert events == [
        ProcessStart(model="m", cold=True),
        Complete(usage=Usage(completion_tokens=7, finish_reason=FinishReason.LENGTH)),
    ]
