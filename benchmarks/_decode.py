"""Measurement 1: decode speed and time to first token, ``Genius.infer`` vs raw llama-cpp-python.

Same process, same GGUF, same prompt, greedy, same ``max_tokens``, same context and
batch size. Raw is ``Llama.create_chat_completion(stream=True)`` for SmolLM2 (chat)
and ``Llama.create_completion(stream=True)`` for Gemma 3 270M (a base model: raw
completion on both sides). Each side has its own ``Llama`` (ours is the one the
brainstem's engine loaded), with the same thread count for decode and for prompts:
half the cores, llama-cpp-python's decode default (1 on a 2-core machine). Its prompt
default, all cores, made the same prompt's evaluation swing by seconds on a 2-core
machine shared with other work.
Both are timed by the consumer:

- decode tokens/s: ``(tokens - 1) / (last text - first text)``, tokens being the
  completion's token count (``max_tokens`` when it stopped for length);
- TTFT, from the call to the first non-empty text, twice: with a new prompt (the
  whole prompt after the shared chat-template prefix is evaluated; info), and with the
  same prompt again right after (three short pairs per round, the median kept), so
  llama-cpp-python's prefix reuse leaves one token to evaluate and the difference is
  the orchestration's own cost (held to +5 ms).

Prompts are chosen so that greedy decoding runs to ``max_tokens`` (neither side can
ignore end-of-sequence); each round checks that both sides produced the same text.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ._report import Row, higher_is_better, paired_delta
from ._setup import MODELS, BenchModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from ._setup import Plan, Workspace

__all__ = ["run_decode"]

DECODE_TARGET = 0.98
TTFT_TARGET_MS = 5.0
N_CTX = 4096
N_BATCH = 512
AGAIN_TOKENS = 4  # the repeated prompt only needs its first token
AGAIN_REPEATS = 3


@attrs.frozen(kw_only=True)
class Sample:
    ttft: float  # seconds
    rate: float  # decode tokens per second
    tokens: int
    text: str
    finish: str


def _greedy_kwargs() -> dict[str, Any]:
    return {"temperature": 0.0, "top_k": 1, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0}


def _sample(
    started: float, first: float, last: float, tokens: int, text: str, finish: str
) -> Sample:
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else float("nan")
    return Sample(ttft=first - started, rate=rate, tokens=tokens, text=text, finish=finish)


def _raw(llm: Any, model: BenchModel, prompt: str, max_tokens: int) -> Sample:
    """The reference: llama-cpp-python's own streaming API, consumed as a user would."""
    pieces: list[str] = []
    first = last = 0.0
    finish = "?"
    started = time.perf_counter()
    if model.chat:
        stream = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            max_tokens=max_tokens,
            **_greedy_kwargs(),
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            text = choice["delta"].get("content")
            if text:
                last = time.perf_counter()
                if not pieces:
                    first = last
                pieces.append(text)
            finish = choice.get("finish_reason") or finish
    else:
        stream = llm.create_completion(
            prompt, stream=True, max_tokens=max_tokens, **_greedy_kwargs()
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            text = choice["text"]
            if text:
                last = time.perf_counter()
                if not pieces:
                    first = last
                pieces.append(text)
            finish = choice.get("finish_reason") or finish
    tokens = max_tokens if finish == "length" else len(pieces)
    return _sample(started, first, last, tokens, "".join(pieces), finish)


async def _ours(genius: Any, model: BenchModel, prompt: str, max_tokens: int) -> Sample:
    from rusty_genius_core import Complete, Content, InferenceConfig

    pieces: list[str] = []
    first = last = 0.0
    usage = None
    started = time.perf_counter()
    if model.chat:
        stream = genius.infer(
            model.alias,
            [{"role": "user", "content": prompt}],
            config=InferenceConfig.greedy(max_tokens=max_tokens),
            keep_alive=-1,
        )
    else:
        stream = genius.infer(
            model.alias,
            prompt,
            config=InferenceConfig.greedy(max_tokens=max_tokens, raw=True),
            keep_alive=-1,
        )
    async with stream:
        async for event in stream:
            if isinstance(event, Content) and event.text:
                last = time.perf_counter()
                if not pieces:
                    first = last
                pieces.append(event.text)
            elif isinstance(event, Complete):
                usage = event.usage
    assert usage is not None
    return _sample(
        started, first, last, usage.completion_tokens, "".join(pieces), usage.finish_reason.value
    )


def default_threads() -> int:
    """llama-cpp-python's own default for decode (half the cores), used for prompts too."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


async def interleaved_pair(
    got: dict[str, list[Sample]],
    genius: Any,
    llm: Any,
    model: BenchModel,
    prompt: str,
    max_tokens: int,
    *,
    ours_first: bool,
) -> None:
    """One sample of each side into ``got["ours"]``/``got["raw"]``, in the order given."""
    for side in ("ours", "raw") if ours_first else ("raw", "ours"):
        if side == "ours":
            got["ours"].append(await _ours(genius, model, prompt, max_tokens))
        else:
            got["raw"].append(_raw(llm, model, prompt, max_tokens))


@contextlib.asynccontextmanager
async def loaded_genius(
    workspace: Workspace, model: BenchModel, threads: int
) -> AsyncIterator[Any]:
    """A llama ``Genius`` on the workspace (offline, kept alive) with ``model`` loaded."""
    from rusty_genius import Genius
    from rusty_genius_core import LoadOptions
    from rusty_genius_stem import KeepAlive

    async with Genius(
        backend="llama",
        home=workspace.home,
        cache=workspace.cache,
        offline=True,
        strategy=KeepAlive(),
    ) as genius:
        await genius.load(model.alias, LoadOptions(context_size=N_CTX, threads=threads))
        yield genius


def raw_llama(path: Path, threads: int, **extra: Any) -> Any:
    """A ``Llama`` built as ``LlamaEngine`` builds its own (same context, batch, offload);
    ``extra`` goes to ``Llama`` as well (e.g. ``lora_path``)."""
    import llama_cpp

    gpu_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
    return llama_cpp.Llama(
        model_path=str(path),
        **extra,
        n_ctx=N_CTX,
        n_batch=N_BATCH,
        n_gpu_layers=gpu_layers,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )


async def _rounds(
    workspace: Workspace, model: BenchModel, llm: Any, rounds: int, max_tokens: int, threads: int
) -> dict[str, list[Sample]]:
    got: dict[str, list[Sample]] = {"ours": [], "raw": [], "ours_again": [], "raw_again": []}
    async with loaded_genius(workspace, model, threads) as genius:
        # Warm-up, not counted: the first request pays one-time costs on both sides.
        await _ours(genius, model, model.prompts[-1], 8)
        _raw(llm, model, model.prompts[-1], 8)
        for i in range(rounds):
            prompt = model.prompts[i % len(model.prompts)]
            await interleaved_pair(
                got, genius, llm, model, prompt, max_tokens, ours_first=i % 2 == 0
            )
            # Both contexts now hold this prompt: each repeat evaluates one token. A few
            # short pairs per round, their median kept, since one token is quickly disturbed.
            again: dict[str, list[Sample]] = {"ours": [], "raw": []}
            for j in range(AGAIN_REPEATS):
                for side in ("ours", "raw") if (i + j) % 2 == 0 else ("raw", "ours"):
                    if side == "ours":
                        again[side].append(await _ours(genius, model, prompt, AGAIN_TOKENS))
                    else:
                        again[side].append(_raw(llm, model, prompt, AGAIN_TOKENS))
            for side, samples in again.items():
                got[f"{side}_again"].append(
                    min(
                        samples,
                        key=lambda s: abs(s.ttft - statistics.median(x.ttft for x in samples)),
                    )
                )
    return got


def _rows(
    model: BenchModel, backend: str, got: dict[str, list[Sample]], max_tokens: int, threads: int
) -> list[Row]:
    ours, raw = got["ours"], got["raw"]
    api = "create_chat_completion" if model.chat else "create_completion"
    mismatches = sum(o.text != r.text for o, r in zip(ours, raw, strict=True))
    short = sum(s.finish != "length" for s in ours + raw)
    notes = []
    if mismatches:
        notes.append(f"{mismatches} of {len(ours)} rounds produced different text")
    if short:
        notes.append(f"{short} runs stopped before max_tokens")
    samples = {
        "max_tokens": max_tokens,
        "threads": threads,
        "backend": backend,
        "reference_api": f"Llama.{api}(stream=True)",
        "tokens": {"ours": [s.tokens for s in ours], "reference": [s.tokens for s in raw]},
        "finish": {"ours": [s.finish for s in ours], "reference": [s.finish for s in raw]},
        "same_text": [o.text == r.text for o, r in zip(ours, raw, strict=True)],
    }
    label = f"{model.key}, {backend}"
    return [
        higher_is_better(
            measurement="decode",
            name=f"decode tok/s, Genius.infer vs {api} ({label})",
            ours=[s.rate for s in ours],
            reference=[s.rate for s in raw],
            unit="tok/s",
            target=DECODE_TARGET,
            note="; ".join(notes),
            samples=samples,
        ),
        paired_delta(
            measurement="decode",
            name=f"TTFT, same prompt again ({label})",
            ours=[s.ttft * 1e3 for s in got["ours_again"]],
            reference=[s.ttft * 1e3 for s in got["raw_again"]],
            unit="ms",
            max_delta=TTFT_TARGET_MS,
            samples={"backend": backend, "what": "prefix reused: one prompt token evaluated"},
        ),
        paired_delta(
            measurement="decode",
            name=f"TTFT, new prompt ({label})",
            ours=[s.ttft * 1e3 for s in ours],
            reference=[s.ttft * 1e3 for s in raw],
            unit="ms",
            max_delta=None,
            samples={"backend": backend, "what": "prompt evaluated after the template prefix"},
        ),
    ]


def run_decode(workspace: Workspace, plan: Plan) -> list[Row]:
    rounds = plan.rounds_or(3, 12)
    max_tokens = plan.pick(64, 128)
    threads = default_threads()
    runs = [("smollm2", "asyncio"), ("gemma3", "asyncio")]
    if not plan.quick:
        runs.insert(1, ("smollm2", "trio"))
    rows: list[Row] = []
    llms: dict[str, Any] = {}
    try:
        for key, backend in runs:
            model = MODELS[key]
            for other in [k for k in llms if k != key]:
                llms.pop(other).close()
            if key not in llms:
                llms[key] = raw_llama(workspace.model_paths[key], threads)
            got = anyio.run(
                _rounds, workspace, model, llms[key], rounds, max_tokens, threads, backend=backend
            )
            rows += _rows(model, backend, got, max_tokens, threads)
    finally:
        for llm in llms.values():
            llm.close()
    return rows
