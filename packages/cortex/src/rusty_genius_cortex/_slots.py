"""Slot and batch bookkeeping for continuous batching, with no llama.cpp and no I/O.

A loaded llama model has ``n_slots`` sequences (llama.cpp ``seq_id`` 0..n-1), each
with its own share of the context. :class:`SlotPlanner` decides, for the decoding
thread, which slot a new request lands on, how much of that slot's KV cache it
keeps, and what goes into each step's batch; the thread only carries its
decisions out (``llama_memory_seq_rm``, ``llama_batch``, ``llama_decode``).

The rules, as llama.cpp's ``tools/server`` slot loop has them:

* **Placement.** A request that allows prefix reuse goes to the free slot whose
  cached tokens share the longest prefix with its prompt (a returning
  conversation finds its earlier turns) when that prefix is at least
  ``similarity`` (0.5, llama-server's ``--slot-prompt-similarity``) of the prompt,
  else to the least recently used slot (keeping whatever prefix it shares), so
  an unrelated prompt does not evict a conversation's cache; one that does not
  allow reuse goes to the least recently used slot and keeps nothing. A slot's cells past the kept prefix are dropped before the
  request's first batch, so a request never sees another request's cells.
* **At least one token is evaluated**, so the last prompt token's logits are fresh.
* **One batch per step**: first the next token of every generating sequence, then
  prompt chunks of the sequences still evaluating their prompt, in arrival order,
  up to ``n_batch`` tokens in all. A long prompt therefore delays the others'
  next token by at most one step, never by its whole prefill.
* **Adapter sets.** llama.cpp applies LoRA adapters per context, not per sequence, so
  one step only decodes sequences under the same adapter set (``key``): the caller
  picks the step's group (:func:`~._adapter_groups.next_group` over :meth:`groups`)
  and :meth:`plan` takes only that group's sequences. A cached prefix is reused only
  by a request under the adapter set it was computed with.
* **Release**: a finished, cancelled or failed sequence frees its slot at once;
  its cached tokens stay on record (for reuse) only when the sequence evaluated
  them completely, and are forgotten otherwise.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Final

from rusty_genius_core._record import PlainRecord, PlainRepr

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

__all__ = ["BatchEntry", "Placement", "SlotPlanner", "common_prefix"]

_NO_REUSE: Final = 0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class Placement(PlainRecord):
    """Where a request landed: its slot and how many cached tokens it keeps there.

    ``dropped`` are the tokens the slot held before, when it keeps fewer of them (their
    cells are still there until the caller cuts them: a prompt cache may copy them out),
    computed under the adapter set ``dropped_key``.
    """

    __match_args__ = ("slot", "keep", "dropped", "dropped_key")
    __slots__ = ("dropped", "dropped_key", "keep", "slot")

    def __init__(
        self,
        slot: int,
        keep: int,
        dropped: tuple[int, ...] = (),
        dropped_key: Hashable = (),
    ) -> None:
        self.slot: Final = slot
        self.keep: Final = keep  # tokens [0, keep) of the slot's cache are the prompt's prefix
        self.dropped: Final = dropped
        self.dropped_key: Final = dropped_key


class BatchEntry(PlainRecord):
    """One token of a step's batch; ``logits``: whether llama.cpp computes logits for it
    (the sequence samples after it)."""

    __match_args__ = ("slot", "token", "pos", "logits")
    __slots__ = ("logits", "pos", "slot", "token")

    def __init__(self, slot: int, token: int, pos: int, logits: bool) -> None:
        self.slot: Final = slot
        self.token: Final = token
        self.pos: Final = pos
        self.logits: Final = logits


class _Slot(PlainRepr):
    __slots__ = (
        "arrival",
        "busy",
        "cached",
        "evaluated",
        "key",
        "next_token",
        "prompt",
        "used",
    )

    def __init__(self) -> None:
        self.cached: list[int] = []  # tokens whose KV cells this sequence holds
        self.busy = False
        self.used = 0  # tick of the last placement, for least-recently-used choice
        # While busy:
        self.prompt: list[int] = []
        self.evaluated = 0  # prompt tokens in the cache (kept prefix included)
        self.arrival = 0
        self.next_token: int | None = None  # sampled, to be fed in the next batch
        self.key: Hashable = ()  # the adapter set its cached cells were computed under


class SlotPlanner:
    """The state of ``n_slots`` sequences of one context; see the module docstring."""

    def __init__(self, n_slots: int, n_batch: int, *, similarity: float = 0.5) -> None:
        if n_slots < 1 or n_batch < n_slots:
            raise ValueError(
                f"SlotPlanner needs n_slots >= 1 and n_batch >= n_slots (every generating "
                f"sequence's token fits one batch), got {n_slots}, {n_batch}"
            )
        self.n_slots: Final = n_slots
        self.n_batch: Final = n_batch
        self.similarity: Final = similarity
        self._slots = [_Slot() for _ in range(n_slots)]
        self._ticks = itertools.count(1)

    # -- questions ----------------------------------------------------------------------------

    @property
    def free(self) -> int:
        return sum(not s.busy for s in self._slots)

    @property
    def busy(self) -> list[int]:
        return [i for i, s in enumerate(self._slots) if s.busy]

    def cached(self, slot: int) -> list[int]:
        """The tokens slot ``slot`` holds in the KV cache (a copy)."""
        return list(self._slots[slot].cached)

    def groups(self) -> list[Hashable]:
        """The adapter-set keys of the busy sequences with work to do, each once, in slot order."""
        found: list[Hashable] = []
        for s in self._slots:
            working = s.busy and (s.next_token is not None or s.evaluated < len(s.prompt))
            if working and s.key not in found:
                found.append(s.key)
        return found

    def evaluating(self, slot: int) -> bool:
        """Whether the request on ``slot`` still has prompt tokens to evaluate."""
        s = self._slots[slot]
        return s.busy and s.evaluated < len(s.prompt)

    # -- transitions --------------------------------------------------------------------------

    def place(self, prompt: Sequence[int], *, reuse: bool, key: Hashable = ()) -> Placement:
        """Put a request with ``prompt`` on a free slot; ValueError when none is free.

        ``key`` is the request's adapter set: only a prefix cached under the same key
        is reused. The caller drops the slot's KV cells from ``keep`` on before the
        next batch.
        """
        if not prompt:
            raise ValueError("a request needs at least one prompt token")
        free = [i for i, s in enumerate(self._slots) if not s.busy]
        if not free:
            raise ValueError("no free slot")
        chosen = min(free, key=lambda i: self._slots[i].used)  # least recently used

        def shared(i: int) -> int:
            s = self._slots[i]
            return common_prefix(s.cached, prompt) if s.key == key else _NO_REUSE

        if reuse:
            best = max(free, key=lambda i: (shared(i), -self._slots[i].used))
            if shared(best) >= self.similarity * len(prompt):
                chosen = best
        keep = shared(chosen) if reuse else _NO_REUSE
        keep = min(keep, len(prompt) - 1)  # the last prompt token is evaluated for its logits
        s = self._slots[chosen]
        dropped = tuple(s.cached) if keep < len(s.cached) else ()
        dropped_key = s.key
        tick = next(self._ticks)
        s.busy, s.used, s.arrival = True, tick, tick
        s.prompt = list(prompt)
        s.cached = s.cached[:keep]
        s.evaluated = keep
        s.next_token = None
        s.key = key
        return Placement(slot=chosen, keep=keep, dropped=dropped, dropped_key=dropped_key)

    def restored(self, slot: int, tokens: Sequence[int]) -> int:
        """The not yet started request on ``slot`` got a copy of cells holding ``tokens``
        (under its own adapter set) instead of what the slot held; return how many it
        keeps (the shared prefix, less the last prompt token). The caller cuts the rest."""
        s = self._slots[slot]
        if not s.busy or s.next_token is not None or s.evaluated == len(s.prompt):
            raise ValueError(f"slot {slot} is not a request that has yet to start")
        keep = min(common_prefix(tokens, s.prompt), len(s.prompt) - 1)
        s.cached = list(tokens[:keep])
        s.evaluated = keep
        return keep

    def restart(self, slot: int) -> None:
        """The busy ``slot`` keeps nothing after all (its cache could not be cut): start at 0."""
        s = self._slots[slot]
        if not s.busy or s.next_token is not None:
            raise ValueError(f"slot {slot} is not a request that has yet to start")
        s.cached = []
        s.evaluated = 0

    def plan(self, group: Hashable | None = None) -> list[BatchEntry]:
        """The next step's batch (empty when there is nothing to do); see the module docstring.

        Each generating sequence contributes its pending token; then prompt chunks, in
        arrival order, fill the room left. A sequence's last entry carries ``logits``
        when it completes its prompt (or is a generated token). With ``group``, only the
        sequences under that adapter set take part.
        """
        entries: list[BatchEntry] = []
        for i, s in enumerate(self._slots):
            if group is not None and s.key != group:
                continue
            if s.busy and s.next_token is not None:
                entries.append(
                    BatchEntry(slot=i, token=s.next_token, pos=len(s.cached), logits=True)
                )
        room = self.n_batch - len(entries)
        evaluating = sorted(
            (
                i
                for i, s in enumerate(self._slots)
                if s.busy
                and s.evaluated < len(s.prompt)
                and s.next_token is None
                and (group is None or s.key == group)
            ),
            key=lambda i: self._slots[i].arrival,
        )
        for i in evaluating:
            if room <= 0:
                break
            s = self._slots[i]
            take = min(room, len(s.prompt) - s.evaluated)
            for k in range(take):
                at = s.evaluated + k
                last = at == len(s.prompt) - 1
                entries.append(BatchEntry(slot=i, token=s.prompt[at], pos=at, logits=last))
            room -= take
        return entries

    def decoded(self, entries: Sequence[BatchEntry]) -> None:
        """Record that ``entries`` (a :meth:`plan`) were decoded: their cells are cached now."""
        for e in entries:
            s = self._slots[e.slot]
            if not s.busy:
                continue
            if e.pos != len(s.cached):
                raise ValueError(
                    f"slot {e.slot}: token at position {e.pos}, cache holds {len(s.cached)}"
                )
            s.cached.append(e.token)
            if s.evaluated < len(s.prompt):
                s.evaluated += 1
            else:
                s.next_token = None

    def sampled(self, slot: int, token: int) -> None:
        """The sequence on ``slot`` drew ``token``: it goes into the next batch."""
        s = self._slots[slot]
        if not s.busy:
            raise ValueError(f"slot {slot} is free")
        if s.evaluated < len(s.prompt):
            raise ValueError(f"slot {slot} samples before its prompt is evaluated")
        s.next_token = token

    def release(self, slot: int, *, keep_cache: bool) -> int:
        """Free ``slot``; return the position from which the caller drops its KV cells.

        With ``keep_cache`` (a request that ended normally) the evaluated tokens stay
        on record for reuse and nothing is dropped (returns the cache's length);
        otherwise every cell is dropped (returns 0).
        """
        s = self._slots[slot]
        if not s.busy:
            raise ValueError(f"slot {slot} is free")
        s.busy = False
        s.prompt = []
        s.next_token = None
        if not keep_cache:
            s.cached = []
        return len(s.cached)
