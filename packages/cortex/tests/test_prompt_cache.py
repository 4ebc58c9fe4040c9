"""The host-memory prompt cache and the planner's side of it, with no llama.cpp."""

from __future__ import annotations

import pytest

from rusty_genius_cortex._prompt_cache import MIN_TOKENS, PromptCache
from rusty_genius_cortex._slots import SlotPlanner

LONG = list(range(100, 100 + MIN_TOKENS + 4))


def test_the_longest_shared_prefix_under_the_same_adapter_set_wins() -> None:
    cache = PromptCache(1000)
    cache.put(LONG, (), b"a" * 10)
    cache.put([*LONG[:5], *range(900, 900 + MIN_TOKENS)], (), b"b" * 10)
    cache.put(LONG, ("lora", 1.0), b"c" * 10)
    found = cache.best([*LONG[:-1], 7], ())
    assert found is not None
    assert (found[0].state, found[1]) == (b"a" * 10, len(LONG) - 1)
    found = cache.best(LONG, ("lora", 1.0))
    assert found is not None
    assert found[0].state == b"c" * 10
    assert cache.best([1, 2, 3], ()) is None  # shares not even the first token
    assert cache.best([], ()) is None


def test_short_prompts_and_a_zero_capacity_keep_nothing() -> None:
    cache = PromptCache(1000)
    cache.put(LONG[: MIN_TOKENS - 1], (), b"x")
    assert len(cache) == 0
    none = PromptCache(0)
    assert not none.wants(LONG)
    none.put(LONG, (), b"x")
    assert len(none) == 0
    with pytest.raises(ValueError, match="capacity"):
        PromptCache(-1)


def test_an_extended_prompt_replaces_its_prefix_and_the_least_recent_go_first() -> None:
    cache = PromptCache(25)
    cache.put(LONG, (), b"1" * 10)
    cache.put([*LONG, 1, 2], (), b"2" * 10)  # extends the first: it replaces it
    assert len(cache) == 1
    assert cache.size == 10
    other = list(range(500, 500 + MIN_TOKENS))
    cache.put(other, (), b"3" * 10)
    assert cache.best(LONG, ()) is not None  # used: now the most recent
    cache.put(list(range(700, 700 + MIN_TOKENS)), (), b"4" * 10)  # over 25: one goes
    assert cache.size == 20
    assert cache.best(other, ()) is None  # the least recently used went
    assert cache.best(LONG, ()) is not None
    cache.put(LONG, (), b"5" * 26)  # larger than the whole cache: not kept
    assert cache.size == 20


def test_placement_reports_the_cells_it_drops_and_a_restore_sets_what_is_kept() -> None:
    planner = SlotPlanner(1, 64)
    first = planner.place(LONG, reuse=True)
    assert (first.keep, first.dropped) == (0, ())
    planner.decoded(planner.plan())
    planner.release(0, keep_cache=True)
    other = list(range(500, 500 + MIN_TOKENS))
    moved = planner.place(other, reuse=True, key=("lora", 1.0))
    assert moved.keep == 0
    assert (moved.dropped, moved.dropped_key) == (tuple(LONG), ())
    planner.release(0, keep_cache=False)
    back = planner.place([*LONG, 5, 6], reuse=True)
    assert back.dropped == ()  # the slot held nothing
    assert planner.restored(0, LONG) == len(LONG)
    assert planner.cached(0) == LONG
    batch = planner.plan()
    assert [e.token for e in batch] == [5, 6]  # only the new tail is evaluated
    planner.decoded(batch)
    with pytest.raises(ValueError, match="yet to start"):
        planner.restored(0, LONG)
