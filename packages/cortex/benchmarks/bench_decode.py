"""Decode speed of SmolLM2: raw llama-cpp-python vs the LlamaEngine, plus per-token overhead.

    .venv/bin/python packages/cortex/benchmarks/bench_decode.py [MODEL.gguf] [--tokens N]

Rounds are interleaved (raw, engine, raw, ...) so a busy machine slows every
variant alike; the best round of each is reported. "Overhead" runs the engine's
whole per-token path (piece cache, UTF-8 decoder, stop matcher, think parser,
usage meter, relay, consumer) against a fake model that decodes instantly.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from rusty_genius_core import Complete, Content, InferenceConfig, LoadOptions
from rusty_genius_cortex import LlamaEngine, StopSignal
from rusty_genius_cortex._llama_decode import Job, LoadedModel

if TYPE_CHECKING:
    from collections.abc import Iterator

PROMPT = "Once upon a time,"
GREEDY: dict[str, Any] = {
    "temp": 0.0,
    "top_k": 1,
    "top_p": 1.0,
    "min_p": 0.0,
    "repeat_penalty": 1.0,
}


def raw_generate(llm: Any, n: int) -> float:
    """The tightest loop llama-cpp-python allows: generate() and nothing else."""
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    gen = llm.generate(tokens, **GREEDY)
    count, first = 0, 0.0
    for _ in gen:
        count += 1
        if count == 1:
            first = time.perf_counter()
        if count >= n:
            break
    gen.close()
    return (count - 1) / (time.perf_counter() - first)


def raw_stream(llm: Any, n: int) -> float:
    """create_completion(stream=True), what most wrappers use."""
    count, first = 0, 0.0
    for _ in llm.create_completion(
        PROMPT, max_tokens=n, stream=True, temperature=0.0, top_k=1, top_p=1.0, min_p=0.0
    ):
        count += 1
        if count == 1:
            first = time.perf_counter()
    return (count - 1) / (time.perf_counter() - first)


async def engine_rate(engine: LlamaEngine, n: int) -> float:
    config = InferenceConfig.greedy(max_tokens=n, raw=True)
    async for event in engine.infer(prompt=PROMPT, config=config):
        if isinstance(event, Complete):
            return event.usage.decode_tokens_per_second
    raise AssertionError("no Complete")


class _FakeLlama:
    """Yields token ids instantly; the engine's own per-token work is all that is timed."""

    n_batch = 512
    n_tokens = 0

    def __init__(self, real: Any, step: float = 0.0) -> None:
        self._real = real
        self._step = step  # seconds per token, slept with the GIL released as llama.cpp would
        self.model = real.model
        self.input_ids = real.input_ids[:0]
        self.tokens = [t for t in real.tokenize(b" the cat sat on the mat and", add_bos=False)]

    def set_seed(self, seed: int) -> None:
        pass

    def reset(self) -> None:
        pass

    def eval(self, tokens: list[int]) -> None:
        pass

    def generate(self, tokens: list[int], **_: Any) -> Iterator[int]:
        while True:
            for token in self.tokens:
                if self._step:
                    time.sleep(self._step)
                yield token

    def detokenize(self, tokens: list[int]) -> bytes:
        return bytes(self._real.detokenize(tokens))


def fake_loop_rate(model: LoadedModel, n: int, step: float) -> float:
    """The fake model driven by a bare loop: the ceiling for ``engine_fake_rate``."""
    gen = _FakeLlama(model.llm, step).generate([1])
    start = time.perf_counter()
    for _ in range(n):
        next(gen)
    return n / (time.perf_counter() - start)


async def engine_fake_rate(engine: LlamaEngine, model: LoadedModel, n: int, step: float) -> float:
    """Tokens/s through the engine when the model takes ``step`` seconds per token."""
    return 1e6 / await overhead_us(engine, model, n, step)


async def overhead_us(engine: LlamaEngine, model: LoadedModel, n: int, step: float = 0.0) -> float:
    """Microseconds per token of the engine's path with a model that costs ``step``."""
    fake = LoadedModel(
        name="fake",
        path=model.path,
        llm=_FakeLlama(model.llm, step),
        lib=model.lib,
        vocab=model.vocab,
        n_ctx=1 << 20,
        formatter=None,
        rng=model.rng,
    )
    saved = engine._model
    engine._model = fake
    original = engine._prepare_sync
    engine._prepare_sync = lambda model, request: Job(  # type: ignore[method-assign]
        model=model,
        config=request.config,
        tokens=[1],
        limit=n,
        start_in_thinking=False,
        extra_stops=(),
        seed=1,
    )
    try:
        start = time.perf_counter()
        count = 0
        async for event in engine.infer(
            prompt="x", config=InferenceConfig.greedy(max_tokens=n), stop=StopSignal()
        ):
            if isinstance(event, Content):
                count += 1
        elapsed = time.perf_counter() - start
        assert count > 0, "the fake model produced nothing"
    finally:
        engine._model = saved
        engine._prepare_sync = original  # type: ignore[method-assign]
    return elapsed / n * 1e6


async def cancel_latency_ms(engine: LlamaEngine) -> float:
    """StopSignal.set() after the fifth content event, to the Complete event."""
    stop = StopSignal()
    seen, signalled = 0, 0.0
    async for event in engine.infer(
        prompt=PROMPT, config=InferenceConfig.greedy(max_tokens=400, raw=True), stop=stop
    ):
        if isinstance(event, Content):
            seen += 1
            if seen == 5:
                signalled = time.perf_counter()
                stop.set()
        elif isinstance(event, Complete):
            assert event.usage.finish_reason.value == "cancelled"
    return (time.perf_counter() - signalled) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "model", nargs="?", default=".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf", type=Path
    )
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gpu-layers", type=int, default=None)
    args = parser.parse_args()
    import llama_cpp

    engine = LlamaEngine()
    options = LoadOptions(context_size=1024, gpu_layers=args.gpu_layers)
    anyio.run(engine.load, "bench", args.model, options)
    model = engine._model
    assert model is not None
    llm = model.llm  # the engine's own Llama: same weights, same context, same threads
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, run in (
            ("raw generate()", lambda: raw_generate(llm, args.tokens)),
            ("raw create_completion(stream)", lambda: raw_stream(llm, args.tokens)),
            ("engine (asyncio)", lambda: anyio.run(engine_rate, engine, args.tokens)),
            (
                "engine (trio)",
                lambda: anyio.run(engine_rate, engine, args.tokens, backend="trio"),
            ),
        ):
            results.setdefault(name, []).append(run())
    print(
        f"{args.model.name}, {args.tokens} tokens, GPU offload: "
        f"{llama_cpp.llama_supports_gpu_offload()}, python {sys.version.split()[0]}"
    )
    for name, rates in results.items():
        print(f"  {name:32s} best {max(rates):7.1f} tok/s  median {statistics.median(rates):7.1f}")
    for backend in ("asyncio", "trio"):
        us = min(anyio.run(overhead_us, engine, model, 20000, backend=backend) for _ in range(3))
        print(f"  engine overhead per token ({backend}): {us:.1f} us")
    step = 1 / 600  # an H100's SmolLM2 decode rate, simulated
    ceiling = max(fake_loop_rate(model, 600, step) for _ in range(3))
    print(f"  simulated 600 tok/s model, bare loop: {ceiling:.1f} tok/s")
    for backend in ("asyncio", "trio"):
        rate = max(
            anyio.run(engine_fake_rate, engine, model, 600, step, backend=backend) for _ in range(3)
        )
        print(f"  simulated 600 tok/s model through the engine ({backend}): {rate:.1f} tok/s")
    for backend in ("asyncio", "trio"):
        ms = [anyio.run(cancel_latency_ms, engine, backend=backend) for _ in range(10)]
        print(
            f"  cancel latency ({backend}, 10 runs): median {statistics.median(ms):.1f} ms, "
            f"max {max(ms):.1f} ms"
        )
    anyio.run(engine.unload)


if __name__ == "__main__":
    main()
