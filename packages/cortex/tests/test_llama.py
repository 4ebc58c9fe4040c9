"""The llama.cpp engine against the real GGUFs (SmolLM2-135M-Instruct, Gemma 3 270M base).

Marked ``real``: scripts/metal.sh runs them (and fails instead of skipping when a
part is missing). SmolLM2 is loaded once per module and shared by both async
backends; the engine keeps one request queue per event loop. Prompts are ones
a 135M model answers under greedy decoding.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import pytest

from rusty_genius_core import (
    ChatMessage,
    Complete,
    ConfigError,
    Content,
    ContextLengthError,
    EngineError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ProcessStart,
    Sampling,
    Usage,
)
from rusty_genius_cortex import Engine, LlamaEngine, StopSignal
from rusty_genius_testhub.engines import collect, final, text_of

from .conftest import loaded_llama

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.real

QUESTION = "What is the capital of France? Answer in one word."
STORY = "Once upon a time,"
RUST = 'fn main() {\n    println!("'
GREEDY_LLAMA: dict[str, Any] = {
    "temperature": 0.0,
    "top_k": 1,
    "top_p": 1.0,
    "min_p": 0.0,
    "repeat_penalty": 1.0,
}


def ask(content: str = QUESTION) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=content)]


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("cortex-llama")]


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match, "no VmRSS in /proc/self/status"
    return int(match.group(1)) / 1024


@pytest.fixture(scope="module")
def gemma_path(test_models: dict[str, Path], llama_cpp_module: object) -> Path:
    return test_models["gemma3"]


@pytest.fixture(scope="module")
def smol_reference(smol_path: Path, llama_cpp_module: Any) -> Iterator[Any]:
    """Plain llama-cpp-python on the same file: the yardstick for text and token counts."""
    llm = llama_cpp_module.Llama(str(smol_path), n_ctx=2048, verbose=False)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def gemma(gemma_path: Path) -> Iterator[LlamaEngine]:
    with loaded_llama("gemma3", gemma_path, LoadOptions(context_size=512)) as engine:
        yield engine


# --- answers and parity with llama-cpp-python ------------------------------------------------


async def test_smollm2_says_paris_with_llama_cpps_token_counts(
    smol: LlamaEngine, smol_reference: Any
) -> None:
    assert isinstance(smol, Engine)
    events = await collect(smol.infer(messages=ask(), config=InferenceConfig.greedy(max_tokens=32)))
    assert isinstance(events[0], ProcessStart)
    assert events[0].model == "smollm2"
    answer = text_of(events)
    assert "Paris" in answer
    usage = final(events)

    reference = smol_reference.create_chat_completion(
        [{"role": "user", "content": QUESTION}], max_tokens=32, **GREEDY_LLAMA
    )
    assert answer == reference["choices"][0]["message"]["content"]
    assert usage.prompt_tokens == reference["usage"]["prompt_tokens"]
    assert usage.completion_tokens == reference["usage"]["completion_tokens"]
    assert usage.finish_reason.value == reference["choices"][0]["finish_reason"] == "stop"
    assert usage.time_to_first_token is not None
    assert usage.time_to_first_token > 0
    assert usage.prompt_duration > 0
    assert usage.decode_duration > 0
    assert usage.decode_tokens_per_second > 0


async def test_raw_completion_and_stop_strings_match_llama_cpp(
    smol: LlamaEngine, smol_reference: Any
) -> None:
    config = InferenceConfig.greedy(max_tokens=24, raw=True)
    events = await collect(smol.infer(prompt=STORY, config=config))
    text = text_of(events)
    reference = smol_reference.create_completion(STORY, max_tokens=24, **GREEDY_LLAMA)
    assert text == reference["choices"][0]["text"]
    usage = final(events)
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        reference["usage"]["prompt_tokens"],
        reference["usage"]["completion_tokens"],
    )
    assert usage.finish_reason is FinishReason.LENGTH

    stop = text[len(text) // 2 : len(text) // 2 + 4]  # a stop string from the middle
    events = await collect(
        smol.infer(
            prompt=STORY, config=InferenceConfig.greedy(max_tokens=24, raw=True, stop=[stop])
        )
    )
    reference = smol_reference.create_completion(STORY, max_tokens=24, stop=[stop], **GREEDY_LLAMA)
    assert text_of(events) == reference["choices"][0]["text"] == text[: text.index(stop)]
    usage = final(events)
    assert usage.finish_reason is FinishReason.STOP
    assert usage.completion_tokens == reference["usage"]["completion_tokens"]


async def test_gemma_base_model_continues_rust_raw(
    gemma: LlamaEngine, llama_cpp_module: Any
) -> None:
    events = await collect(
        gemma.infer(prompt=RUST, config=InferenceConfig.greedy(max_tokens=8, raw=True))
    )
    assert text_of(events).startswith('Hello, world!");')
    # Without a chat template there is nothing to wrap a plain prompt in: raw as well.
    plain = await collect(gemma.infer(prompt=RUST, config=InferenceConfig.greedy(max_tokens=8)))
    assert text_of(plain) == text_of(events)
    assert final(plain).prompt_tokens == final(events).prompt_tokens


def test_gemma_token_counts_match_llama_cpp(gemma_path: Path, llama_cpp_module: Any) -> None:
    """Gemma adds BOS; the counts must still agree with llama-cpp-python's."""
    engine = LlamaEngine()

    async def run() -> list[InferenceEvent]:
        await engine.load("gemma3", gemma_path, LoadOptions(context_size=512))
        try:
            return await collect(
                engine.infer(prompt=RUST, config=InferenceConfig.greedy(max_tokens=8, raw=True))
            )
        finally:
            await engine.unload()

    usage = final(anyio.run(run))
    llm = llama_cpp_module.Llama(str(gemma_path), n_ctx=512, verbose=False)
    try:
        reference = llm.create_completion(RUST, max_tokens=8, **GREEDY_LLAMA)
    finally:
        llm.close()
    assert usage.prompt_tokens == reference["usage"]["prompt_tokens"]
    assert usage.completion_tokens == reference["usage"]["completion_tokens"]


async def test_chat_on_a_model_without_a_template_is_a_clear_error(gemma: LlamaEngine) -> None:
    with pytest.raises(EngineError, match="no chat template") as caught:
        await collect(gemma.infer(messages=ask("hi"), config=InferenceConfig.greedy()))
    assert "raw=True" in caught.value.message
    assert "gemma3" in caught.value.message


# --- sampling --------------------------------------------------------------------------------


async def test_every_sampling_field_reaches_llama_cpp(smol: LlamaEngine) -> None:
    async def story(**sampling: float) -> str:
        config = InferenceConfig(
            max_tokens=16,
            raw=True,
            seed=7,
            sampling=Sampling(**sampling),  # type: ignore[arg-type]
        )
        return text_of(await collect(smol.infer(prompt=STORY, config=config)))

    greedy = await story(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0)
    # At a wild temperature each of these filters alone leaves only the top token.
    assert await story(temperature=2.0, top_k=1, top_p=1.0, min_p=0.0) == greedy
    assert await story(temperature=2.0, top_k=0, top_p=1e-6, min_p=0.0) == greedy
    assert await story(temperature=2.0, top_k=0, top_p=1.0, min_p=1.0) == greedy
    # ...and without them it wanders off.
    assert await story(temperature=2.0, top_k=0, top_p=1.0, min_p=0.0) != greedy

    counting = "1, 2, 3, 1, 2, 3, 1, 2,"
    plain = InferenceConfig.greedy(max_tokens=12, raw=True)
    penalized = InferenceConfig(
        max_tokens=12,
        raw=True,
        sampling=Sampling(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.8),
    )
    repeated = text_of(await collect(smol.infer(prompt=counting, config=plain)))
    assert repeated.startswith(" 3, 1, 2")
    assert text_of(await collect(smol.infer(prompt=counting, config=penalized))) != repeated


async def test_seed_makes_sampling_reproducible(smol: LlamaEngine) -> None:
    async def sample(seed: int) -> str:
        config = InferenceConfig(
            max_tokens=24, raw=True, seed=seed, sampling=Sampling(temperature=1.0)
        )
        return text_of(await collect(smol.infer(prompt=STORY, config=config)))

    first = await sample(1)
    assert await sample(1) == first
    assert await sample(2) != first


async def test_max_tokens_and_the_end_of_the_context(smol: LlamaEngine) -> None:
    events = await collect(
        smol.infer(prompt=STORY, config=InferenceConfig.greedy(max_tokens=5, raw=True))
    )
    usage = final(events)
    assert (usage.completion_tokens, usage.finish_reason) == (5, FinishReason.LENGTH)
    # A request's context_size caps prompt + completion below the loaded context.
    capped = InferenceConfig.greedy(max_tokens=100, raw=True, context_size=16)
    usage = final(await collect(smol.infer(prompt=STORY, config=capped)))
    assert usage.prompt_tokens + usage.completion_tokens == 16
    assert usage.finish_reason is FinishReason.LENGTH
    with pytest.raises(EngineError, match="exceeds the context"):
        await collect(
            smol.infer(prompt=STORY, config=InferenceConfig.greedy(raw=True, context_size=4096))
        )


# --- cancellation ----------------------------------------------------------------------------


class CountingStop(StopSignal):
    """Counts the worker's checks: how many came before :meth:`set`, and how many saw it."""

    __slots__ = ("checks", "checks_at_set", "seen")

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0
        self.checks_at_set: int | None = None
        self.seen = 0

    def is_set(self) -> bool:
        self.checks += 1
        answer = super().is_set()
        self.seen += answer
        return answer

    def set(self) -> None:
        self.checks_at_set = self.checks
        super().set()


async def test_stop_signal_ends_with_cancelled_at_the_next_token(smol: LlamaEngine) -> None:
    """The stop reaches the worker between two tokens: no token passes a check after set().

    Counted, not timed: the worker checks the signal once before each token (and once
    per prompt chunk), so the tokens generated can be at most the checks made before
    set() (a check racing with set() is covered by the prompt's check), and the first
    check after set() ends generation.
    """
    stop = CountingStop()
    config = InferenceConfig.greedy(max_tokens=400, raw=True)
    events: list[InferenceEvent] = []
    async for event in smol.infer(prompt=STORY, config=config, stop=stop):
        events.append(event)
        if isinstance(event, Content) and len(events) == 4:
            stop.set()
    usage = final(events)
    assert usage.finish_reason is FinishReason.CANCELLED
    assert usage.completion_tokens < 40
    assert stop.checks_at_set is not None
    assert usage.completion_tokens <= stop.checks_at_set
    assert stop.seen >= 1  # the worker saw the stop: it did not run to max_tokens
    assert not worker_threads()


async def test_cancelling_the_consumer_frees_the_thread_and_the_engine(smol: LlamaEngine) -> None:
    seen: list[InferenceEvent] = []
    with anyio.CancelScope() as scope:
        async for event in smol.infer(
            prompt=STORY, config=InferenceConfig.greedy(max_tokens=400, raw=True)
        ):
            seen.append(event)
            if isinstance(event, Content):
                scope.cancel()
    assert scope.cancelled_caught
    assert not any(isinstance(e, Complete) for e in seen)
    assert not worker_threads()  # the cleanup waited for the worker
    events = await collect(smol.infer(messages=ask(), config=InferenceConfig.greedy(max_tokens=16)))
    assert "Paris" in text_of(events)


async def test_closing_the_stream_early_frees_the_engine(smol: LlamaEngine) -> None:
    stream = smol.infer(prompt=STORY, config=InferenceConfig.greedy(max_tokens=400, raw=True))
    async with contextlib.aclosing(stream):
        async for event in stream:
            if isinstance(event, Content):
                break
    assert not worker_threads()
    usage = final(
        await collect(
            smol.infer(prompt=STORY, config=InferenceConfig.greedy(max_tokens=2, raw=True))
        )
    )
    assert usage.completion_tokens == 2


async def test_with_one_slot_concurrent_requests_take_turns(smol_path: Path) -> None:
    """``LoadOptions(parallel=1)``: one sequence, so requests run one after another."""
    engine = LlamaEngine()
    await engine.load("smollm2", smol_path, LoadOptions(context_size=512, parallel=1))
    assert engine.parallel == 1
    log: list[tuple[int, InferenceEvent]] = []

    async def run(i: int) -> None:
        async for event in engine.infer(
            messages=ask(), config=InferenceConfig.greedy(max_tokens=16)
        ):
            log.append((i, event))

    try:
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(run, i)
    finally:
        await engine.unload()
    order = [i for i, _ in log]
    # Each request's events are contiguous: one request at a time.
    runs = [i for k, i in enumerate(order) if k == 0 or order[k - 1] != i]
    assert len(runs) == 3
    for i in range(3):
        events = [e for j, e in log if j == i]
        assert "Paris" in text_of(events)
        assert final(events).finish_reason is FinishReason.STOP


# --- failures --------------------------------------------------------------------------------


async def test_broken_files_are_engine_errors(smol_path: Path, tmp_path: Path) -> None:
    engine = LlamaEngine()
    data = await anyio.Path(smol_path).read_bytes()
    cases = {
        "truncated-data.gguf": (data[: len(data) // 2], "truncated GGUF: the tensor data"),
        "truncated-last-byte.gguf": (data[:-1], "truncated GGUF: the tensor data"),
        "truncated-meta.gguf": (data[:5000], "truncated GGUF"),
        "notes.gguf": (b"these are not the weights you are looking for\n", "not a GGUF file"),
        "empty.gguf": (b"", "truncated GGUF"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        await anyio.Path(path).write_bytes(content)
        with pytest.raises(EngineError, match=message) as caught:
            await engine.load("broken", path, LoadOptions(context_size=256))
        assert str(path) in caught.value.message
        assert not engine.is_loaded
    with pytest.raises(EngineError, match="not found"):
        await engine.load("missing", tmp_path / "absent.gguf", LoadOptions())
    with pytest.raises(EngineError, match="not a file"):
        await engine.load("dir", tmp_path, LoadOptions())
    with pytest.raises(EngineError, match="needs the path"):
        await engine.load("none", None, LoadOptions())
    with pytest.raises(EngineError, match="no model loaded"):
        await collect(engine.infer(prompt="x", config=InferenceConfig()))
    # After all that, a good file still loads.
    good = tmp_path / "good.gguf"
    await anyio.to_thread.run_sync(shutil.copyfile, smol_path, good)
    await engine.load("good", good, LoadOptions(context_size=256))
    assert engine.is_loaded
    await engine.unload()


async def test_a_prompt_longer_than_the_context_is_a_context_length_error(smol_path: Path) -> None:
    engine = LlamaEngine()
    await engine.load("small-context", smol_path, LoadOptions(context_size=64))
    assert engine.context_size is not None
    assert engine.context_size >= 64  # llama.cpp pads the context (to 256 here)
    try:
        long_prompt = "word " * (engine.context_size + 10)
        # The caller's error (400, OpenAI's context_length_exceeded), not the engine's.
        with pytest.raises(ContextLengthError, match=r"the prompt is \d+ tokens but the context"):
            await collect(engine.infer(prompt=long_prompt, config=InferenceConfig.greedy(raw=True)))
        with pytest.raises(ContextLengthError, match="context"):
            await collect(engine.infer(messages=ask(long_prompt), config=InferenceConfig.greedy()))
        # The engine is fine afterwards.
        usage = final(
            await collect(
                engine.infer(prompt=STORY, config=InferenceConfig.greedy(max_tokens=3, raw=True))
            )
        )
        assert usage.completion_tokens == 3
    finally:
        await engine.unload()


async def test_request_errors(smol: LlamaEngine) -> None:
    with pytest.raises(ConfigError, match="raw=True"):
        await collect(smol.infer(messages=ask(), config=InferenceConfig(raw=True)))
    with pytest.raises(ConfigError, match="exactly one"):
        await collect(smol.infer(config=InferenceConfig()))


# --- memory ----------------------------------------------------------------------------------


def test_load_unload_cycles_do_not_grow_rss(smol_path: Path) -> None:
    """20 load → request → unload cycles; after two warm-up cycles RSS may grow < 30 MiB.

    Unloading must give back the model (SmolLM2's mapped weights and buffers are
    ~90 MiB here), and repeating must not accumulate it: the bound is a third of
    one model. Allocator arenas of new threads settle during the first cycles.
    """
    engine = LlamaEngine()
    samples: list[tuple[float, float]] = []

    async def cycles() -> None:
        for _ in range(20):
            await engine.load("smollm2", smol_path, LoadOptions(context_size=512))
            await collect(
                engine.infer(prompt=STORY, config=InferenceConfig.greedy(max_tokens=2, raw=True))
            )
            loaded = rss_mib()
            await engine.unload()
            samples.append((loaded, rss_mib()))

    anyio.run(cycles)
    loaded, unloaded = zip(*samples, strict=True)
    assert min(loaded[i] - unloaded[i] for i in range(20)) > 40, samples  # unload frees the model
    growth = max(unloaded[2:]) - unloaded[2]
    assert growth < 30, f"RSS grew {growth:.1f} MiB over 18 cycles: {samples}"


# --- prompt evaluation: chunked, cancellable, cached -----------------------------------------


class StopOnCheck(StopSignal):
    """Reads as set from the ``n``-th check on: a stop that lands at a known point."""

    __slots__ = ("_checks", "_n")

    def __init__(self, n: int) -> None:
        super().__init__()
        self._checks = 0
        self._n = n

    def is_set(self) -> bool:
        self._checks += 1
        return self._checks >= self._n or super().is_set()


async def test_prompt_evaluation_is_chunked_cancellable_and_cached(smol_path: Path) -> None:
    engine = LlamaEngine(n_batch=16)
    await engine.load("smollm2", smol_path, LoadOptions(context_size=512))
    model = engine._model
    assert model is not None
    assert model.loop is not None
    ctx, lib, planner = model.ctx.ctx, model.lib, model.loop.planner
    prompt = "The quick brown fox jumps over the lazy dog. " * 5  # 51 tokens: 4 chunks

    async def run(stop: StopSignal | None = None, text: str = prompt) -> tuple[Usage, Any]:
        lib.llama_perf_context_reset(ctx)
        config = InferenceConfig.greedy(max_tokens=4, raw=True)
        usage = final(await collect(engine.infer(prompt=text, config=config, stop=stop)))
        return usage, lib.llama_perf_context(ctx)

    try:
        usage, perf = await run()
        assert perf.n_p_eval == usage.prompt_tokens == 51  # evaluated once, not twice
        usage, perf = await run()
        # The same prompt again: only its last token is redone (llama.cpp counts a one-token
        # batch as a decode, and reports at least 1 prompt token), then 3 decodes for 4 tokens.
        assert perf.n_p_eval <= 1
        assert perf.n_eval == 1 + 3
        assert usage.completion_tokens == 4
        # Stop seen at the third check: two 16-token chunks evaluated, no token generated.
        usage, _ = await run(StopOnCheck(3), text="Zebra " + prompt)
        assert usage.finish_reason is FinishReason.CANCELLED
        assert (usage.prompt_tokens, usage.completion_tokens) == (53, 0)
        # What the KV cache holds for the slot it ran on (the least recently used one).
        assert sorted(len(planner.cached(slot)) for slot in range(planner.n_slots))[-2:] == [
            32,
            51 + 3,
        ]
        assert usage.time_to_first_token is None
    finally:
        await engine.unload()
