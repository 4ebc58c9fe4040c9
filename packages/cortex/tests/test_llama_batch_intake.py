"""How requests enter the decoding loop, on the real SmolLM2: together, and never held back.

Marked ``real``. Requests that arrive together are evaluated in one step (the loop waits
for the ones still being prepared while nothing generates); a request that fails to
prepare, or whose consumer leaves before it is submitted, never makes the others wait.
The plain-greedy shortcut draws what llama.cpp's greedy chain draws.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import anyio
import pytest

from rusty_genius_core import (
    ChatMessage,
    Complete,
    ContextLengthError,
    FinishReason,
    InferenceConfig,
    LoadOptions,
    ProcessStart,
)
from rusty_genius_cortex import EngineRequest, LlamaEngine
from rusty_genius_cortex import _decode_loop as decode_loop
from rusty_genius_cortex._sampler import argmax_row, build_sampler, free_sampler

from .conftest import loaded_llama

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from rusty_genius_cortex._decode_loop import Arrival
    from rusty_genius_cortex._llama_decode import Job, LoadedModel

pytestmark = pytest.mark.real

OPTIONS = LoadOptions(context_size=1024, parallel=8, threads=1, threads_batch=1)
PROMPTS = tuple(f"Tell me one short fact about the number {n}." for n in range(8))
NEVER = 3600.0  # a gathering that only ends when every expected request arrived
DEADLINE = 120.0  # far below NEVER: a request held back by a lost arrival fails here


@pytest.fixture(scope="module")
def engine(smol_path: Path) -> Iterator[LlamaEngine]:
    with loaded_llama("smollm2", smol_path, OPTIONS) as engine:
        yield engine


@pytest.fixture
def gather_until_all_arrive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode_loop, "GATHER_SECONDS", NEVER)


def ask(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=prompt)]


def steps(engine: LlamaEngine) -> int:
    model = engine._model
    assert model is not None
    assert model.loop is not None
    return model.loop.steps


async def finish(engine: LlamaEngine, prompt: str, tokens: int) -> Complete:
    config = InferenceConfig.greedy(max_tokens=tokens, cache_prompt=False)
    final = None
    async for event in engine.infer(messages=ask(prompt), config=config):
        if isinstance(event, Complete):
            final = event
    assert final is not None
    return final


@pytest.mark.usefixtures("gather_until_all_arrive")
async def test_requests_arriving_together_share_the_first_step(
    engine: LlamaEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first request is prepared at once; the seven others only once the loop, which
    # the first one started, decides what its first step holds: a loop that did not wait
    # for them would evaluate the first prompt alone.
    deciding = threading.Event()
    decide = decode_loop.DecodeLoop._gather

    def watched(loop: decode_loop.DecodeLoop) -> None:
        deciding.set()
        decide(loop)

    prepare = engine._prepare_sync

    def held_back(model: LoadedModel, request: EngineRequest, arrival: Arrival | None) -> Job:
        if request.messages != tuple(ask(PROMPTS[0])):
            assert deciding.wait(DEADLINE)
        return prepare(model, request, arrival)

    monkeypatch.setattr(decode_loop.DecodeLoop, "_gather", watched)
    monkeypatch.setattr(engine, "_prepare_sync", held_back)
    before = steps(engine)
    done: list[Complete] = []

    async def one(prompt: str) -> None:
        done.append(await finish(engine, prompt, tokens=1))

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            for prompt in PROMPTS:
                tg.start_soon(one, prompt)
    assert [c.usage.finish_reason for c in done] == [FinishReason.LENGTH] * len(PROMPTS)
    # Eight prompts, one token each: a single llama_decode evaluated all of them.
    assert steps(engine) - before == 1


@pytest.mark.usefixtures("gather_until_all_arrive")
async def test_a_request_that_fails_to_prepare_holds_nobody_back(engine: LlamaEngine) -> None:
    too_long = "word " * 4000  # beyond the 1024-token context: refused while prepared
    failed: list[BaseException] = []

    async def doomed() -> None:
        try:
            await finish(engine, too_long, tokens=4)
        except ContextLengthError as exc:
            failed.append(exc)

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(doomed)
            tg.start_soon(finish, engine, PROMPTS[0], 4)
    assert len(failed) == 1


@pytest.mark.usefixtures("gather_until_all_arrive")
async def test_a_request_left_before_it_ran_holds_nobody_back(engine: LlamaEngine) -> None:
    # Without the withdrawal its announced arrival would stay expected: the next request,
    # alone in an idle loop, would wait for it for an hour.
    config = InferenceConfig.greedy(max_tokens=4, cache_prompt=False)
    events = engine.infer(messages=ask(PROMPTS[1]), config=config)
    assert isinstance(await anext(events), ProcessStart)  # prepared, announced, not submitted
    await events.aclose()
    with anyio.fail_after(DEADLINE):
        final = await finish(engine, PROMPTS[2], tokens=4)
    assert final.usage.finish_reason is FinishReason.LENGTH


def test_the_argmax_is_what_the_greedy_chain_draws(engine: LlamaEngine) -> None:
    model = engine._model
    assert model is not None
    lib, ctx = model.lib, model.ctx.ctx
    tokens = model.model.tokenize(b"The quick brown fox jumps over the lazy dog. " * 4, True, False)
    # A sequence of its own while the loop is idle; its cells are dropped afterwards, which
    # every request here tolerates (cache_prompt=False: none keeps a cached prefix).
    seq = 7
    lib.llama_memory_seq_rm(model.ctx.memory, seq, -1, -1)
    batch = lib.llama_batch_init(len(tokens), 0, 1)
    chain = build_sampler(lib, model.vocab, model.n_vocab, InferenceConfig.greedy(), seed=1)
    try:
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):  # logits for every position: many rows to compare
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
            batch.seq_id[i][0], batch.logits[i] = seq, 1
        assert lib.llama_decode(ctx, batch) == 0
        drawn = [int(lib.llama_sampler_sample(chain, ctx, row)) for row in range(len(tokens))]
        argmax = [argmax_row(lib, ctx, row, model.n_vocab) for row in range(len(tokens))]
    finally:
        free_sampler(lib, chain)
        lib.llama_batch_free(batch)
        lib.llama_memory_seq_rm(model.ctx.memory, seq, -1, -1)
    assert argmax == drawn
    assert len(set(argmax)) > 5  # rows that differ: not one token found everywhere
