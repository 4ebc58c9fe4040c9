"""llama.cpp's side of a request: the loaded model's record and a prepared request.

The decoding itself is ``_decode_loop.py``'s (one thread per model, every request of
the model in each step's batch); the async side merges what queued up for one
request with :func:`merge_batch`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Hashable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs

from rusty_genius_core import (
    Content,
    InferenceConfig,
    InferenceEvent,
    Thought,
    ThoughtDelta,
)
from rusty_genius_core._record import FieldsRepr, Record

from ._output_plan import Grammar, OutputPlan

if TYPE_CHECKING:  # not at runtime: _decode_loop imports Job from here, and attrs never
    # evaluates these annotations (no resolve_types, no cattrs structuring of this record);
    # _tool_parse loads only for a request with tools
    from ._decode_loop import Arrival, DecodeLoop  # noqa: TC004
    from ._tool_parse import CallStyle  # noqa: TC004

__all__ = ["Job", "LoadedModel", "merge_batch"]


@attrs.define(eq=False, repr=False)
class LoadedModel(FieldsRepr):
    """One loaded model and what every request needs from it.

    ``n_ctx`` is one sequence's context; the llama context holds ``n_slots`` of them.
    """

    name: str
    path: Path
    model: Any  # llama_cpp._internals.LlamaModel
    ctx: Any  # llama_cpp._internals.LlamaContext, n_slots sequences of n_ctx tokens
    lib: ModuleType  # llama_cpp
    vocab: Any
    n_vocab: int
    n_ctx: int
    n_slots: int
    n_batch: int
    can_reuse: bool  # a cached prefix can be kept (not a recurrent or hybrid model)
    n_swa: int  # the sliding window (0: none); reuse needs the cells it looks back on
    formatter: Any | None  # llama_chat_format.Jinja2ChatFormatter, or None: no chat template
    rng: random.Random
    loop: DecodeLoop | None = None
    tool_style: CallStyle | None = None  # how its template writes tool calls; None: no tools
    # Per-token caches: each native call releases and retakes the GIL, which the event loop
    # may hold at that moment; a dict lookup does not.
    pieces: dict[int, bytes] = attrs.field(factory=dict)
    eogs: set[int] = attrs.field(factory=set)
    # LoRA adapters loaded on this model, by file: each once, shared by every request.
    adapters: dict[Path, Any] = attrs.field(factory=dict)  # llama_adapter_lora_p
    adapters_lock: threading.Lock = attrs.field(factory=threading.Lock)


@attrs.frozen(repr=False, eq=False)
class Job(Record):
    """A prepared request: tokens to evaluate and how to generate from them."""

    model: LoadedModel
    config: InferenceConfig
    tokens: list[int]
    limit: int  # at most this many new tokens (max_tokens, capped by the context)
    start_in_thinking: bool
    extra_stops: tuple[str, ...]
    seed: int
    reuse: bool  # may land on a slot's cached prefix (see the README's engine section)
    grammar: Grammar | None = None  # constrains sampling (llama.cpp's grammar sampler)
    plan: OutputPlan = attrs.field(factory=OutputPlan)  # how tools and formats are honoured
    adapters: tuple[tuple[Any, float], ...] = ()  # (llama_adapter_lora_p, scale), in order
    adapter_key: Hashable = ()  # what batches and cached prefixes are grouped by
    arrival: Arrival | None = None  # announced to the model's loop while it was prepared


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
