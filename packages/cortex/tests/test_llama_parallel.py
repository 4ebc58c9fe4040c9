"""Continuous batching on the real SmolLM2: isolation, cancellation, interleaving, determinism.

Marked ``real``. One engine with eight sequences serves every test (one thread each
way: the test machine's cores are shared, and a spinning thread pool that loses its
core stalls every batch). Greedy texts of requests run together are compared with
the same requests run alone: equal, or (where batched numerics differ) sharing at
least their first 16 tokens and containing nothing of another request's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import attrs
import pytest

from rusty_genius_core import (
    ChatMessage,
    Complete,
    Content,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ProcessStart,
    Sampling,
)
from rusty_genius_cortex import EngineRequest, LlamaEngine, StopSignal, UsageMeter
from rusty_genius_cortex._decode_loop import Request
from rusty_genius_cortex._pipeline import TokenPipeline
from rusty_genius_cortex._relay import ThreadRelay
from rusty_genius_cortex._slots import common_prefix
from rusty_genius_testhub.engines import events_of, text_of

from .conftest import evaluated, loaded_llama, tokens_of

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.real

PROMPTS = (
    "What is the capital of France?",
    "Name three colours of the rainbow.",
    "Write a haiku about the sea.",
    "What is two plus two?",
    "Who wrote Hamlet?",
    "Describe a cat in one sentence.",
    "What is water made of?",
    "Tell me one fact about the moon.",
)
TOKENS = 40


@pytest.fixture(scope="module")
def engine(smol_path: Path) -> Iterator[LlamaEngine]:
    with loaded_llama("smollm2", smol_path, OPTIONS) as engine:
        yield engine


OPTIONS = LoadOptions(context_size=2048, parallel=8, threads=1, threads_batch=1)


def greedy(tokens: int = TOKENS) -> InferenceConfig:
    return InferenceConfig.greedy(max_tokens=tokens, cache_prompt=False)


def ask(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=prompt)]


async def answer(engine: LlamaEngine, prompt: str, config: InferenceConfig | None = None) -> str:
    return text_of(await events_of(engine, messages=ask(prompt), config=config or greedy()))


def check_isolated(engine: LlamaEngine, got: dict[str, str], solo: dict[str, str]) -> None:
    """Each text is its solo text, or shares 16+ tokens with it and nothing of the others'."""
    for prompt, text in got.items():
        if text == solo[prompt]:
            continue
        mine, alone = tokens_of(engine, text), tokens_of(engine, solo[prompt])
        shared = common_prefix(mine, alone)
        assert shared >= 16, (prompt, text, solo[prompt])
        for other, theirs in solo.items():
            probe = theirs[:24]
            if other != prompt and probe not in solo[prompt]:
                assert probe not in text, (prompt, other, text)


@pytest.fixture(scope="module")
def solo(engine: LlamaEngine) -> dict[str, str]:
    async def run() -> dict[str, str]:
        return {prompt: await answer(engine, prompt) for prompt in PROMPTS}

    return anyio.run(run)


async def test_eight_concurrent_requests_each_get_their_own_answer(
    engine: LlamaEngine, solo: dict[str, str]
) -> None:
    got: dict[str, str] = {}
    assert engine.parallel == 8

    async def run(prompt: str) -> None:
        got[prompt] = await answer(engine, prompt)

    async with anyio.create_task_group() as tg:
        for prompt in PROMPTS:
            tg.start_soon(run, prompt)
    check_isolated(engine, got, solo)
    same = sum(got[p] == solo[p] for p in PROMPTS)
    print(f"8 concurrent greedy requests: {same}/8 texts equal their solo runs")


async def test_cancelling_one_leaves_the_others_as_they_were(
    engine: LlamaEngine, solo: dict[str, str]
) -> None:
    victim, *others = PROMPTS[:5]
    got: dict[str, str] = {}
    victim_events: list[InferenceEvent] = []

    async def run(prompt: str) -> None:
        got[prompt] = await answer(engine, prompt)

    async def cancelled() -> None:
        with anyio.CancelScope() as scope:
            async for event in engine.infer(messages=ask(victim), config=greedy()):
                victim_events.append(event)
                if sum(isinstance(e, Content) for e in victim_events) == 3:
                    scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancelled)
        for prompt in others:
            tg.start_soon(run, prompt)
    assert not any(isinstance(e, Complete) for e in victim_events)
    check_isolated(engine, got, solo)
    # The victim's slot is free again: eight requests still run at once.
    assert await answer(engine, victim) is not None


async def test_a_long_prompt_does_not_stop_the_others_tokens(
    test_models: dict[str, Path], llama_cpp_module: object
) -> None:
    """Event order, not clocks: two answers of 48 tokens finish while a long prompt (90+
    batches of 16 tokens) that arrived after their first token is still being evaluated.
    Were its prefill done in one go, their remaining tokens would all come after its
    first token."""
    long_prompt = "Summarise this text. " + "The quick brown fox jumps over the lazy dog. " * 150
    log: list[tuple[str, str]] = []
    first_tokens = anyio.Event()
    started: set[str] = set()

    async def short(name: str) -> None:
        story = "Tell me a long story about a dragon and a knight."
        async for event in engine.infer(messages=ask(story), config=greedy(48)):
            if isinstance(event, Content):
                log.append((name, "token"))
                started.add(name)
                if len(started) == 2:
                    first_tokens.set()
            elif isinstance(event, Complete):
                assert event.usage.finish_reason is FinishReason.LENGTH
                log.append((name, "complete"))

    async def long() -> None:
        await first_tokens.wait()
        events = engine.infer(messages=ask(long_prompt), config=greedy(4))
        async for event in events:
            if isinstance(event, ProcessStart):
                log.append(("long", "start"))
            elif isinstance(event, Content):
                log.append(("long", "token"))
            elif isinstance(event, Complete):
                assert event.usage.prompt_tokens > 40 * 32
                log.append(("long", "complete"))

    engine = LlamaEngine(n_batch=16)  # a prompt takes many steps
    await engine.load("smollm2", test_models["smollm2"], OPTIONS)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(short, "a")
            tg.start_soon(short, "b")
            tg.start_soon(long)
    finally:
        await engine.unload()
    first_long_token = log.index(("long", "token"))
    assert log.index(("long", "start")) < log.index(("a", "complete")) < first_long_token
    assert log.index(("b", "complete")) < first_long_token


async def test_a_seeded_request_gives_the_same_text_fresh_and_after_others(
    engine: LlamaEngine, test_models: dict[str, Path]
) -> None:
    seeded = InferenceConfig(max_tokens=32, seed=1234, sampling=Sampling(temperature=1.0))
    prompt = PROMPTS[2]
    fresh = LlamaEngine()
    await fresh.load("smollm2", test_models["smollm2"], OPTIONS)
    try:
        first = await answer(fresh, prompt, seeded)
    finally:
        await fresh.unload()
    # The shared engine has run many requests; warm its slots with this very prompt too.
    await answer(engine, prompt, InferenceConfig.greedy(max_tokens=8))
    await answer(engine, PROMPTS[3], InferenceConfig(max_tokens=8, sampling=Sampling()))
    after = await answer(engine, prompt, seeded)
    assert after == first
    assert await answer(engine, prompt, seeded) == first
    assert first != await answer(engine, prompt, InferenceConfig.greedy(max_tokens=32))


def test_cache_prompt_reuses_a_returning_conversation(engine: LlamaEngine) -> None:
    """Without a seed a request reuses the slot holding its prefix (and says so in the
    planner); with ``cache_prompt=False`` it evaluates the whole prompt again."""
    model = engine._model
    assert model is not None
    assert model.loop is not None
    prompt = "Explain, in some detail, why the sky is blue during the day."

    async def evaluated_with(config: InferenceConfig) -> int:
        return (await evaluated(engine, messages=ask(prompt), config=config))[0]

    async def run() -> list[int]:
        first = await evaluated_with(InferenceConfig.greedy(max_tokens=4, cache_prompt=False))
        reused = await evaluated_with(InferenceConfig.greedy(max_tokens=4))
        fresh = await evaluated_with(InferenceConfig.greedy(max_tokens=4, cache_prompt=False))
        return [first, reused, fresh]

    first, reused, fresh = anyio.run(run)
    assert first > 30  # the whole templated prompt
    assert reused <= 1  # only the last prompt token is evaluated again
    assert fresh == first


async def test_an_error_in_one_sequence_ends_that_request_only(
    engine: LlamaEngine, solo: dict[str, str]
) -> None:
    """A request whose sampler cannot be built (a grammar llama.cpp rejects) ends with
    an error; the request beside it is untouched."""
    model = engine._model
    assert model is not None
    assert model.loop is not None
    loop = model.loop
    ok: list[str] = []
    bad_reason: list[FinishReason] = []

    async def good() -> None:
        ok.append(await answer(engine, PROMPTS[0]))

    async def bad() -> None:
        # Reach past _prepare to hand the loop a job with a broken grammar.
        request = EngineRequest.checked(None, ask(PROMPTS[1]), greedy())
        job = await engine._prepare("smollm2", request)
        relay: ThreadRelay[InferenceEvent] = ThreadRelay()
        pipeline = TokenPipeline(job.config, meter=UsageMeter())
        loop.submit(
            Request(
                job=attrs.evolve(job, grammar="root ::= ("),
                pipeline=pipeline,
                relay=relay,
                stop=None,
                halt=StopSignal(),
            )
        )
        events = []
        while batch := await relay.get():
            events.extend(batch)
        final = events[-1]
        assert isinstance(final, Complete)
        bad_reason.append(final.usage.finish_reason)
        await anyio.to_thread.run_sync(loop.settle)

    async with anyio.create_task_group() as tg:
        tg.start_soon(good)
        tg.start_soon(bad)
    assert bad_reason == [FinishReason.ERROR]
    assert ok == [solo[PROMPTS[0]]]
