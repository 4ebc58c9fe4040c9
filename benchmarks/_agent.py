"""Measurements ``grammar`` and ``embed``: structured output's cost, and embedding throughput.

``grammar`` (info, no target): ``LlamaEngine`` decode tok/s with a JSON-schema
``response_format`` (llama.cpp's grammar sampler in the chain) against the same
engine, model and prompt without one. The schema asks for a string longer than the
budget, so the constrained answer cannot stop early; the unconstrained prompt is one
that runs long. Decode tok/s as in ``decode``: ``(tokens - 1) / (last text - first
text)``, seen by the consumer, with each answer's own token count.

``embed`` (target >= 0.95): ``LlamaEngine.embed`` (its pooling context on the
loaded model, vectors normalised) against llama-cpp-python's own
``Llama(embedding=True, pooling_type=MEAN).create_embedding`` on the same GGUF,
context and threads, for the same batch of sentences; tokens embedded per second.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio

from ._decode import default_threads
from ._report import Row, higher_is_better

if TYPE_CHECKING:
    from ._setup import Plan, Workspace

__all__ = ["run_agent"]

EMBED_TARGET = 0.95
N_CTX = 4096
SENTENCES = tuple(
    f"{subject} {verb} {thing} on a {day} morning."
    for subject in ("The old fisherman", "A young teacher", "My neighbour", "The tired doctor")
    for verb in ("painted", "repaired", "carried")
    for thing in ("a small boat", "the garden fence", "three heavy boxes")
    for day in ("quiet",)
)
PROMPT = "Write a long story about a brave knight who travels across the sea to find a dragon."


async def _decode_rate(engine: Any, max_tokens: int, constrained: bool) -> float:
    """Decode tok/s of one answer: its own token count (``Usage``), not the budget."""
    from rusty_genius_core import ChatMessage, Complete, Content, InferenceConfig, ResponseFormat

    fmt = None
    if constrained:
        # Longer than the budget can write: the answer always runs to max_tokens.
        story = {"type": "string", "minLength": 8 * max_tokens}
        fmt = ResponseFormat.json(
            {"type": "object", "properties": {"story": story}, "required": ["story"]}
        )
    first = last = 0.0
    pieces = tokens = 0
    async for event in engine.infer(
        messages=[ChatMessage(role="user", content=PROMPT)],
        config=InferenceConfig.greedy(max_tokens=max_tokens),
        response_format=fmt,
    ):
        if isinstance(event, Content) and event.text:
            last = time.perf_counter()
            if not pieces:
                first = last
            pieces += 1
        elif isinstance(event, Complete):
            tokens = event.usage.completion_tokens
    return (tokens - 1) / (last - first) if last > first and tokens > 1 else float("nan")


def _grammar_rows(workspace: Workspace, plan: Plan, threads: int) -> list[Row]:
    from rusty_genius_core import LoadOptions
    from rusty_genius_cortex import LlamaEngine

    rounds = plan.rounds_or(3, 10)
    max_tokens = plan.pick(48, 128)

    async def run() -> tuple[list[float], list[float]]:
        engine = LlamaEngine()
        await engine.load(
            "smollm2",
            workspace.model_paths["smollm2"],
            LoadOptions(context_size=N_CTX, threads=threads),
        )
        try:
            await _decode_rate(engine, 8, True)  # warm-up, not counted
            constrained, free = [], []
            for i in range(rounds):
                for side in (True, False) if i % 2 == 0 else (False, True):
                    rate = await _decode_rate(engine, max_tokens, side)
                    (constrained if side else free).append(rate)
            return constrained, free
        finally:
            await engine.unload()

    constrained, free = anyio.run(run)
    return [
        higher_is_better(
            measurement="grammar",
            name="decode tok/s, JSON-schema grammar vs unconstrained (smollm2, LlamaEngine)",
            ours=constrained,
            reference=free,
            unit="tok/s",
            target=None,
            samples={"max_tokens": max_tokens, "threads": threads},
        )
    ]


def _embed_rows(workspace: Workspace, plan: Plan, threads: int) -> list[Row]:
    import llama_cpp

    from rusty_genius_core import LoadOptions
    from rusty_genius_cortex import LlamaEngine

    rounds = plan.rounds_or(3, 10)
    path = workspace.model_paths["smollm2"]
    texts = list(SENTENCES) * plan.pick(1, 4)
    raw = llama_cpp.Llama(
        model_path=str(path),
        embedding=True,
        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
        n_ctx=N_CTX,
        n_batch=N_CTX,
        n_ubatch=N_CTX,
        n_threads=threads,
        n_threads_batch=threads,
        n_gpu_layers=-1 if llama_cpp.llama_supports_gpu_offload() else 0,
        verbose=False,
    )
    tokens = sum(len(raw.tokenize(t.encode("utf-8"))) for t in texts)

    def reference() -> float:
        started = time.perf_counter()
        raw.create_embedding(texts)
        return tokens / (time.perf_counter() - started)

    async def run() -> tuple[list[float], list[float]]:
        engine = LlamaEngine()
        await engine.load("smollm2", path, LoadOptions(context_size=N_CTX, threads=threads))

        async def ours() -> float:
            started = time.perf_counter()
            answer = await engine.embed(texts)
            assert answer.prompt_tokens == tokens
            return tokens / (time.perf_counter() - started)

        try:
            await ours()  # warm-up (makes the pooling context), not counted
            reference()
            got: tuple[list[float], list[float]] = ([], [])
            for i in range(rounds):
                if i % 2 == 0:
                    got[0].append(await ours())
                    got[1].append(reference())
                else:
                    got[1].append(reference())
                    got[0].append(await ours())
            return got
        finally:
            await engine.unload()

    try:
        mine, theirs = anyio.run(run)
    finally:
        raw.close()
    return [
        higher_is_better(
            measurement="embed",
            name="embedding tokens/s, LlamaEngine.embed vs create_embedding (smollm2, mean)",
            ours=mine,
            reference=theirs,
            unit="tok/s",
            target=EMBED_TARGET,
            samples={"texts": len(texts), "tokens": tokens, "threads": threads},
        )
    ]


def run_agent(workspace: Workspace, plan: Plan) -> list[Row]:
    threads = default_threads()
    return _grammar_rows(workspace, plan, threads) + _embed_rows(workspace, plan, threads)
