"""Continuous batching: one decoding thread per loaded model, every request in each step.

A :class:`DecodeLoop` owns the model's llama context (``n_slots`` sequences) and
one thread that runs while there is work and exits when there is none. Each step,
as llama.cpp's ``tools/server`` slot loop does it:

1. requests that were stopped (``StopSignal``, consumer gone) end, freeing their slot;
   waiting requests take free slots (:class:`~._slots.SlotPlanner` picks the slot and
   the cached prefix they keep; cells past it are dropped). While no sequence is
   generating, the loop first waits (at most :data:`GATHER_SECONDS`) for the requests
   that are still being prepared (:meth:`DecodeLoop.expect`), so requests that
   arrive together are evaluated in one batch, not the first alone and the others a
   whole step later (llama-server gets the same by an intake in C++ that takes
   microseconds);
2. one ``llama_batch`` gets the next token of every generating sequence plus chunks of
   the prompts being evaluated (``n_batch`` tokens in all), and ``llama_decode`` runs once;
3. every sequence with a logits row samples from it with its own sampler chain
   (``llama_sampler_sample(chain, ctx, row)``; plain greedy decoding takes the row's
   argmax, which is what that chain draws, see ``_sampler.py``), turns the token into text (the model's
   piece cache, its own UTF-8 decoder), runs its own :class:`TokenPipeline` (stop
   strings, think tags, usage) and hands the events to its own :class:`ThreadRelay`
   without waiting for the consumer; the consumers are woken together once the step's
   sampling is done (one :class:`WakeBatch` flush per step, one ``run_sync_soon`` per
   event loop, not one per sequence).

A failure in one sequence (its sampler, its pipeline) ends that request with
``FinishReason.ERROR``; a failed ``llama_decode`` ends the requests in that batch.
"""

from __future__ import annotations

import codecs
import collections
import ctypes
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Final

import attrs

from rusty_genius_core import EngineError, FinishReason, InferenceEvent
from rusty_genius_core._record import FieldsRepr

from ._adapter_groups import next_group
from ._engine import StopSignal
from ._llama_decode import Job
from ._pipeline import TokenPipeline
from ._prompt_cache import PromptCache
from ._relay import ThreadRelay, WakeBatch
from ._sampler import argmax_row, build_sampler, free_sampler, plain_greedy
from ._slots import BatchEntry, SlotPlanner

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

    from ._llama_decode import LoadedModel

__all__ = ["GATHER_SECONDS", "Arrival", "DecodeLoop", "Request"]

log = logging.getLogger("rusty_genius_cortex.llama")

_SETTLE_POLL: Final = 0.01

GATHER_SECONDS: Final = 0.03
"""How long an idle loop (nothing generating) waits for requests still being prepared."""


class Arrival:
    """A request being prepared for the loop: from :meth:`DecodeLoop.expect` until it is
    submitted or withdrawn (:meth:`DecodeLoop.withdraw`; both idempotent)."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = True


@attrs.define(eq=False, repr=False)
class Request(FieldsRepr):
    """One request inside the loop: its job and its own output path."""

    job: Job
    pipeline: TokenPipeline
    relay: ThreadRelay[InferenceEvent]
    stop: StopSignal | None
    halt: StopSignal  # set when the consumer goes away
    decoder: codecs.IncrementalDecoder = attrs.Factory(
        lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    sampler: Any = None  # its llama_sampler chain; None for plain greedy (argmax_row)
    slot: int = -1
    done: bool = False

    def stopped(self) -> bool:
        return self.halt.is_set() or (self.stop is not None and self.stop.is_set())


class DecodeLoop:
    """The decoding thread of one loaded model; see the module docstring.

    Event-loop side: :meth:`submit` a request, :meth:`wake` after setting its halt
    signal. Blocking (call from a worker thread): :meth:`settle`, :meth:`close`.
    """

    def __init__(
        self, model: LoadedModel, thread_name: str, prompts: PromptCache | None = None
    ) -> None:
        self._model = model
        self._lib = model.lib
        self._planner = SlotPlanner(model.n_slots, model.n_batch)
        self._prompts = PromptCache(0) if prompts is None else prompts
        self._thread_name = thread_name
        self._cond = threading.Condition(threading.Lock())
        self._waiting: collections.deque[Request] = collections.deque()
        self._expected = 0  # Arrivals still pending
        self._wakes = WakeBatch()  # consumers to wake at the end of the step (loop thread)
        self._active: dict[int, Request] = {}
        self._thread: threading.Thread | None = None
        self._exiting: threading.Thread | None = None  # the last thread, once it found no work
        self._closed = False
        self._batch = self._lib.llama_batch_init(model.n_batch, 0, 1)
        self._group: Hashable | None = None  # the adapter set the last step served
        self._applied: Hashable = ()  # the adapter set on the context now
        self.steps = 0  # llama_decode calls so far (for tests and statistics)

    @property
    def planner(self) -> SlotPlanner:
        """The slot bookkeeping (read it only while no request runs)."""
        return self._planner

    # -- event-loop side ------------------------------------------------------------------------

    def expect(self) -> Arrival:
        """A request is being prepared (templating, tokenizing) and will be submitted soon."""
        with self._cond:
            self._expected += 1
        return Arrival()

    def withdraw(self, arrival: Arrival | None) -> None:
        """``arrival`` will not be submitted after all (idempotent; no-op once submitted)."""
        if arrival is None:
            return
        with self._cond:
            self._resolve(arrival)
            self._cond.notify()

    def _resolve(self, arrival: Arrival | None) -> None:
        if arrival is not None and arrival.pending:  # with the condition held
            arrival.pending = False
            self._expected -= 1

    def submit(self, request: Request) -> None:
        with self._cond:
            self._resolve(request.job.arrival)
            if self._closed:
                raise EngineError(f"model {self._model.name!r} was unloaded")
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=self._thread_name, daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def exiting(self) -> bool:
        """Whether the thread found no work and is still on its way out (rarely: it takes
        microseconds): only then does a request's cleanup need :meth:`settle`."""
        with self._cond:
            if self._waiting or self._active:
                return False
            thread = self._thread or self._exiting
        return thread is not None and thread.is_alive()

    # -- blocking side --------------------------------------------------------------------------

    def settle(self) -> None:
        """Wait for an idle thread to exit (it does at once); return while others run."""
        while True:
            with self._cond:
                if self._waiting or self._active:
                    return
                thread = self._thread or self._exiting
                if thread is None:
                    return
            thread.join(_SETTLE_POLL)
            if not thread.is_alive():
                return

    def close(self) -> None:
        """End every request (cancelled), stop the thread and free the batch (idempotent)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._cond.notify()
        if thread is not None:
            thread.join()
        with self._cond:
            left = list(self._waiting)
            self._waiting.clear()
        for request in left:
            self._end(request, FinishReason.CANCELLED)
        self._wakes.flush()
        self._lib.llama_batch_free(self._batch)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._closed:
                        break
                    self._gather()
                    arrived: list[Request] = []
                    free = self._planner.free
                    while self._waiting and len(arrived) < free:
                        arrived.append(self._waiting.popleft())
                    if not arrived and not self._active:
                        self._thread, self._exiting = None, self._thread
                        return
                for request in arrived:
                    self._place(request)
                self._step()
                self._wakes.flush()
        except BaseException:
            log.exception("the decoding loop of %r failed", self._model.name)
            with self._cond:
                left = list(self._waiting)
                self._waiting.clear()
            for request in [*self._active.values(), *left]:
                self._end(request, FinishReason.ERROR)
        for request in list(self._active.values()):
            self._end(request, FinishReason.CANCELLED)
        self._wakes.flush()
        with self._cond:
            self._thread, self._exiting = None, self._thread

    def _gather(self) -> None:
        """With the condition held: while there is work but no sequence generates, wait
        (at most :data:`GATHER_SECONDS`) for the requests being prepared to be submitted,
        so that they join this step's batch; a stopped request ends the wait at once."""
        if not self._expected or (not self._waiting and not self._active):
            return
        if any(not self._planner.evaluating(slot) for slot in self._active):
            return  # a sequence generates: never hold its next token back
        deadline = time.monotonic() + GATHER_SECONDS
        while self._expected and not self._closed and not self._any_stopped():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)  # submit, withdraw, wake (a stop) and close notify

    def _any_stopped(self) -> bool:
        return any(r.stopped() for r in self._waiting) or any(
            r.stopped() for r in self._active.values()
        )

    def _place(self, request: Request) -> None:
        lib, model, job = self._lib, self._model, request.job
        try:
            placed = self._planner.place(job.tokens, reuse=job.reuse, key=job.adapter_key)
            request.slot = placed.slot
            with self._cond:
                self._active[placed.slot] = request
            keep = placed.keep
            if self._prompts.wants(placed.dropped):
                self._save(placed.slot, placed.dropped, placed.dropped_key)
            if job.reuse:
                keep = self._restore(placed.slot, job, keep)
            memory = model.ctx.memory
            if keep and not self._window_holds(placed.slot, keep):
                keep = 0
                self._planner.restart(placed.slot)
            if not lib.llama_memory_seq_rm(memory, placed.slot, keep, -1):
                lib.llama_memory_seq_rm(memory, placed.slot, -1, -1)
                self._planner.restart(placed.slot)
            if not plain_greedy(job.config, job.grammar):  # else argmax_row, no chain
                request.sampler = build_sampler(
                    lib, model.vocab, model.n_vocab, job.config, job.seed, job.grammar
                )
            request.pipeline.meter.prompt_started(len(job.tokens))
        except Exception:
            log.exception("a request on %r could not start", model.name)
            self._end(request, FinishReason.ERROR)

    def _window_holds(self, slot: int, keep: int) -> bool:
        """Whether ``slot`` still has the cells that the token after its first ``keep`` looks
        back on. A sliding-window model drops the cells that fall out of its window as it
        decodes: a prefix that outgrew the window is evaluated again (llama-server's test)."""
        n_swa = self._model.n_swa
        if n_swa <= 0:
            return True
        pos_min = int(self._lib.llama_memory_seq_pos_min(self._model.ctx.memory, slot))
        return 0 <= pos_min <= max(0, keep - n_swa)

    def _save(self, slot: int, tokens: tuple[int, ...], key: Hashable) -> None:
        """Copy the cells of ``slot`` (holding ``tokens``) into the prompt cache."""
        lib, ctx = self._lib, self._model.ctx.ctx
        size = int(lib.llama_state_seq_get_size(ctx, slot))
        if size <= 0 or size > self._prompts.capacity:
            return
        buffer = (ctypes.c_uint8 * size)()
        written = int(lib.llama_state_seq_get_data(ctx, buffer, size, slot))
        if written > 0:
            self._prompts.put(tokens, key, ctypes.string_at(buffer, written))  # one copy

    def _restore(self, slot: int, job: Job, keep: int) -> int:
        """Put the cached prompt sharing the longest prefix with ``job``'s on ``slot`` when
        it shares more than the slot keeps; return the tokens kept now."""
        found = self._prompts.best(job.tokens, job.adapter_key)
        if found is None or min(found[1], len(job.tokens) - 1) <= keep:
            return keep
        entry = found[0]
        lib, model = self._lib, self._model
        lib.llama_memory_seq_rm(model.ctx.memory, slot, -1, -1)
        # llama.cpp only reads the state: pass the kept bytes themselves, not a copy.
        state = ctypes.cast(ctypes.c_char_p(entry.state), ctypes.POINTER(ctypes.c_uint8))
        if lib.llama_state_seq_set_data(model.ctx.ctx, state, len(entry.state), slot) == 0:
            log.warning("a cached prompt could not be restored on %r", model.name)
            lib.llama_memory_seq_rm(model.ctx.memory, slot, -1, -1)
            self._planner.restart(slot)
            return 0
        return self._planner.restored(slot, entry.tokens)

    def _step(self) -> None:
        for request in list(self._active.values()):
            if request.stopped():
                self._end(request, FinishReason.CANCELLED)
        self._group = group = next_group(self._planner.groups(), self._group)
        entries = self._planner.plan(group)
        if not entries:
            return
        self._fill(entries)
        # Held while llama.cpp may read the model's adapter list: a request's preparation
        # loads new adapters onto the model (llama_adapter_lora_init) under the same lock.
        with self._model.adapters_lock:
            if group != self._applied:
                self._apply(entries[0].slot)
            status = self._lib.llama_decode(self._model.ctx.ctx, self._batch)
        self.steps += 1
        if status != 0:
            log.error("llama_decode failed (%d) on %r", status, self._model.name)
            for slot in {e.slot for e in entries}:
                failed = self._active.get(slot)
                if failed is not None:
                    self._end(failed, FinishReason.ERROR)
            return
        self._planner.decoded(entries)
        for row, entry in enumerate(entries):
            if entry.logits:
                sampling = self._active.get(entry.slot)
                if sampling is not None:
                    self._sample(sampling, row)

    def _apply(self, slot: int) -> None:
        """Put the adapter set of the request on ``slot`` on the context (this step's group)."""
        job = self._active[slot].job
        lib, n = self._lib, len(job.adapters)
        adapters = (lib.llama_adapter_lora_p_ctypes * n)(*(a for a, _ in job.adapters))
        scales = (ctypes.c_float * n)(*(scale for _, scale in job.adapters))
        if lib.llama_set_adapters_lora(self._model.ctx.ctx, adapters, n, scales) != 0:
            raise EngineError(f"llama.cpp could not set the LoRA adapters on {self._model.name!r}")
        self._applied = job.adapter_key

    def _fill(self, entries: Sequence[BatchEntry]) -> None:
        batch = self._batch
        batch.n_tokens = len(entries)
        for i, e in enumerate(entries):
            batch.token[i] = e.token
            batch.pos[i] = e.pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = e.slot
            batch.logits[i] = e.logits

    def _sample(self, request: Request, row: int) -> None:
        lib, model, pipeline = self._lib, self._model, request.pipeline
        try:
            if request.sampler is None:
                token = argmax_row(lib, model.ctx.ctx, row, model.n_vocab)
            else:
                token = int(lib.llama_sampler_sample(request.sampler, model.ctx.ctx, row))
            pipeline.meter.prompt_done()
            piece = model.pieces.get(token)
            if piece is None:  # first sight of this token: native calls, then cached
                if lib.llama_vocab_is_eog(model.vocab, token):
                    model.eogs.add(token)
                    piece = b""
                else:
                    piece = bytes(model.model.detokenize([token]))
                model.pieces[token] = piece
            if token in model.eogs:
                self._end(request, FinishReason.STOP)
                return
            events, hit = pipeline.token(request.decoder.decode(piece))
            if events and not request.relay.put_nowait(events, self._wakes):
                self._end(request, FinishReason.CANCELLED)
            elif hit:
                self._end(request, FinishReason.STOP)
            elif pipeline.meter.completion_tokens >= request.job.limit:
                self._end(request, FinishReason.LENGTH)
            else:
                self._planner.sampled(request.slot, token)
        except Exception:
            log.exception("sampling failed for a request on %r", model.name)
            self._end(request, FinishReason.ERROR)

    def _end(self, request: Request, reason: FinishReason) -> None:
        """Finish ``request``: flush, ``Complete``, free its sampler and its slot."""
        if request.done:
            return
        request.done = True
        lib = self._lib
        try:
            tail = request.decoder.decode(b"", final=True)  # an incomplete UTF-8 sequence
            if tail:
                request.relay.put_nowait(request.pipeline.text(tail), self._wakes)
            request.relay.put_nowait(request.pipeline.complete(reason), self._wakes)
        except Exception:
            log.exception("ending a request on %r failed", self._model.name)
        finally:
            if request.sampler is not None:
                free_sampler(lib, request.sampler)
                request.sampler = None
            if request.slot >= 0 and self._active.get(request.slot) is request:
                with self._cond:  # settle() reads it: gone before the consumer hears of the end
                    del self._active[request.slot]
                # Cells a request evaluated stay as that slot's cache (a stopped prompt's
                # chunks too): they are exactly its tokens. After an error, nothing stays.
                keep = self._planner.release(
                    request.slot, keep_cache=reason is not FinishReason.ERROR
                )
                if keep == 0:
                    lib.llama_memory_seq_rm(self._model.ctx.memory, request.slot, -1, -1)
            request.relay.finish(self._wakes)  # last: the consumer may settle() from here on
