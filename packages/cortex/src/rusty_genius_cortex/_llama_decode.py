"""llama.cpp's side of a request: the model record and the worker thread's decoding loop.

:func:`run_decode` runs in one dedicated thread per request (see ``_llama.py``):
it evaluates the prompt in ``n_batch`` chunks, drives ``Llama.generate`` token
by token, turns each token into text through the model's piece cache and an
incremental UTF-8 decoder, runs the shared :class:`TokenPipeline` and hands the
events to the event loop through a :class:`ThreadRelay`. The async side merges
what queued up with :func:`merge_batch`.
"""

from __future__ import annotations

import codecs
import logging
import random
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs

from rusty_genius_core import (
    Content,
    EngineError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    Thought,
    ThoughtDelta,
)

from ._llama_grammar import llama_grammar
from ._tool_mode import Grammar, OutputPlan
from ._tool_parse import CallStyle

if TYPE_CHECKING:
    import threading

    from ._engine import StopSignal
    from ._pipeline import TokenPipeline
    from ._relay import ThreadRelay

__all__ = ["Job", "LoadedModel", "merge_batch", "run_decode"]

log = logging.getLogger("rusty_genius_cortex.llama")


@attrs.define(eq=False)
class LoadedModel:
    """One loaded model and what every request needs from it."""

    name: str
    path: Path
    llm: Any  # llama_cpp.Llama
    lib: ModuleType  # llama_cpp
    vocab: Any
    n_ctx: int
    formatter: Any | None  # llama_chat_format.Jinja2ChatFormatter, or None: no chat template
    rng: random.Random
    tool_style: CallStyle | None = None  # how its template writes tool calls; None: no tools
    # Per-token caches: each native call releases and retakes the GIL, which the event loop
    # may hold at that moment; a dict lookup does not.
    pieces: dict[int, bytes] = attrs.field(factory=dict)
    eogs: set[int] = attrs.field(factory=set)


@attrs.frozen
class Job:
    """A prepared request: tokens to evaluate and how to generate from them."""

    model: LoadedModel
    config: InferenceConfig
    tokens: list[int]
    limit: int  # at most this many new tokens (max_tokens, capped by the context)
    start_in_thinking: bool
    extra_stops: tuple[str, ...]
    seed: int
    grammar: Grammar | None = None  # constrains sampling (llama.cpp's grammar sampler)
    plan: OutputPlan = attrs.field(factory=OutputPlan)  # how tools and formats are honoured


def merge_batch(batch: list[InferenceEvent]) -> list[InferenceEvent]:
    """Join adjacent content (and adjacent thought text) that queued up while the consumer was busy."""
    if len(batch) < 2:
        return batch
    out: list[InferenceEvent] = []
    for event in batch:
        last = out[-1] if out else None
        if isinstance(event, Content) and isinstance(last, Content):
            out[-1] = Content(text=last.text + event.text)
        elif (
            isinstance(event, Thought)
            and isinstance(event.event, ThoughtDelta)
            and isinstance(last, Thought)
            and isinstance(last.event, ThoughtDelta)
        ):
            out[-1] = Thought(event=ThoughtDelta(text=last.event.text + event.event.text))
        else:
            out.append(event)
    return out


def _sampling_kwargs(config: InferenceConfig) -> dict[str, Any]:
    s = config.sampling
    return {
        "temp": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
    }


def _evaluate_prompt(llm: Any, lib: ModuleType, tokens: list[int], stopped: Any) -> bool:
    """Evaluate ``tokens`` in ``n_batch`` chunks, checking the stop flags in between.

    Keeps the KV cache of the longest prefix shared with the previous request
    (a chat's earlier turns), as ``Llama.generate()`` would; at least the last
    token is evaluated again so its logits are fresh. Recurrent and hybrid
    models cannot drop a cache suffix, so they start over. False when stopped.
    """
    common = 0
    recurrent = lib.llama_model_is_recurrent(llm.model) or lib.llama_model_is_hybrid(llm.model)
    if not recurrent:
        for cached, token in zip(llm.input_ids[: llm.n_tokens].tolist(), tokens, strict=False):
            if cached != token:
                break
            common += 1
        common = min(common, len(tokens) - 1)
    if common == 0:
        llm.reset()
    else:
        llm.n_tokens = common  # eval() drops the cache past this point
    step = max(1, int(llm.n_batch))
    for start in range(common, len(tokens), step):
        if stopped():
            return False
        llm.eval(tokens[start : start + step])
    return True


def run_decode(
    job: Job,
    lock: threading.Lock,
    pipeline: TokenPipeline,
    relay: ThreadRelay[InferenceEvent],
    stop: StopSignal | None,
    halt: StopSignal,
) -> None:
    """The worker thread: decode, relay events, always end with Complete and finish().

    ``lock`` guards the ``Llama`` object; ``halt`` is set when the consumer goes away.
    """
    model = job.model
    reason = FinishReason.ERROR
    try:
        with lock:
            reason = _decode(job, pipeline, relay, stop, halt)
    except Exception:
        log.exception("generation failed for model %r", model.name)
        reason = FinishReason.ERROR
    finally:
        try:
            relay.put_many(pipeline.complete(reason))
        finally:
            relay.finish()


def _decode(
    job: Job,
    pipeline: TokenPipeline,
    relay: ThreadRelay[InferenceEvent],
    stop: StopSignal | None,
    halt: StopSignal,
) -> FinishReason:
    model = job.model
    llm = model.llm
    if llm is None:
        raise EngineError(f"model {model.name!r} was unloaded")
    lib = model.lib
    is_eog = lib.llama_vocab_is_eog
    vocab = model.vocab
    pieces = model.pieces
    eogs = model.eogs
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    meter = pipeline.meter

    def stopped() -> bool:
        return halt.is_set() or (stop is not None and stop.is_set())

    meter.prompt_started(len(job.tokens))
    if not _evaluate_prompt(llm, lib, job.tokens, stopped):
        return FinishReason.CANCELLED
    meter.prompt_done()
    llm.set_seed(job.seed)
    # The prompt is in the KV cache now: generate() finds it there and samples at once.
    generator = llm.generate(
        job.tokens, grammar=llama_grammar(job.grammar), **_sampling_kwargs(job.config)
    )
    reason = FinishReason.LENGTH
    try:
        for token in generator:
            meter.prompt_done()
            if stopped():
                reason = FinishReason.CANCELLED
                break
            piece = pieces.get(token)
            if piece is None:  # first sight of this token: native calls, then cached
                if is_eog(vocab, token):
                    eogs.add(token)
                    piece = b""
                else:
                    piece = bytes(llm.detokenize([token]))
                pieces[token] = piece
            if token in eogs:
                reason = FinishReason.STOP
                break
            events, hit = pipeline.token(decoder.decode(piece))
            if events and not relay.put_many(events, stopped):
                reason = FinishReason.CANCELLED
                break
            if hit:
                reason = FinishReason.STOP
                break
            if meter.completion_tokens >= job.limit:
                break
    finally:
        generator.close()  # llama-cpp-python's generator has no cleanup of its own
    tail = decoder.decode(b"", final=True)  # an incomplete UTF-8 sequence at the end
    if tail:
        relay.put_many(pipeline.text(tail))
    return reason
