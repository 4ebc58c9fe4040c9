"""Prompts kept in host memory after their slot moved on, as llama-server's ``--cache-ram``.

A slot holds the KV cells of one prompt at a time. When a request lands on a slot
whose cells it cannot use, those cells are about to be dropped; the decoding loop
first copies them out (``llama_state_seq_get_data``) into a :class:`PromptCache`,
under the tokens they hold and the adapter set they were computed with. A later
request whose prompt shares a longer prefix with a kept entry than with its slot has
that entry copied back into its slot (``llama_state_seq_set_data``) and evaluates
only the rest. The cells restored are the bytes that were computed, so the text is
what the slot's own reuse would give.

No llama.cpp and no I/O here: token lists and opaque byte strings in, choices out.
Entries are bounded by their total size (least recently used go first); an entry
whose tokens another entry extends is replaced by it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from ._slots import common_prefix

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

__all__ = ["DEFAULT_CACHE_RAM", "CachedPrompt", "PromptCache"]

DEFAULT_CACHE_RAM: Final = 1 << 30
"""Bytes of prompts kept per loaded model by default (llama-server keeps up to 8 GiB)."""

MIN_TOKENS: Final = 16
"""Prompts shorter than this are not worth a copy: their prefill is about one step."""


class CachedPrompt:
    """The KV state of one sequence (``state``) holding ``tokens`` under adapter set ``key``."""

    __slots__ = ("key", "state", "tokens")

    def __init__(self, tokens: tuple[int, ...], key: Hashable, state: bytes) -> None:
        self.tokens: Final = tokens
        self.key: Final = key
        self.state: Final = state

    def __repr__(self) -> str:
        return f"CachedPrompt(tokens={len(self.tokens)}, bytes={len(self.state)})"


class PromptCache:
    """Up to ``capacity`` bytes of :class:`CachedPrompt` s, least recently used first out."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"PromptCache capacity must be >= 0 bytes, got {capacity}")
        self.capacity: Final = capacity
        self._entries: OrderedDict[tuple[Hashable, tuple[int, ...]], CachedPrompt] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def wants(self, tokens: Sequence[int]) -> bool:
        """Whether a sequence holding ``tokens`` is worth copying out."""
        return self.capacity > 0 and len(tokens) >= MIN_TOKENS

    def put(self, tokens: Sequence[int], key: Hashable, state: bytes) -> None:
        """Keep ``state`` (the cells of ``tokens`` under ``key``); an entry it extends goes."""
        if not self.wants(tokens) or len(state) > self.capacity:
            return
        kept = tuple(tokens)
        for name, entry in list(self._entries.items()):
            if entry.key == key and common_prefix(entry.tokens, kept) == len(entry.tokens):
                self._drop(name)  # a prefix of the new one (or the same): the new one serves it
        self._entries[(key, kept)] = CachedPrompt(kept, key, state)
        self._size += len(state)
        while self._size > self.capacity:
            self._drop(next(iter(self._entries)))

    def best(self, prompt: Sequence[int], key: Hashable) -> tuple[CachedPrompt, int] | None:
        """The entry under ``key`` sharing the longest prefix with ``prompt``, and its length;
        None when none shares a token. The entry counts as used."""
        found: tuple[CachedPrompt, int] | None = None
        if not prompt:
            return None
        for entry in self._entries.values():
            if entry.key != key or not entry.tokens or entry.tokens[0] != prompt[0]:
                continue
            shared = common_prefix(entry.tokens, prompt)
            if found is None or shared > found[1]:
                found = (entry, shared)
        if found is not None:
            self._entries.move_to_end((found[0].key, found[0].tokens))
        return found

    def _drop(self, name: tuple[Hashable, tuple[int, ...]]) -> None:
        self._size -= len(self._entries.pop(name).state)
