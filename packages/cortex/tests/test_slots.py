"""The slot and batch planner of continuous batching, with no model and no event loop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rusty_genius_cortex._slots import BatchEntry, SlotPlanner, common_prefix


def run_prompt(planner: SlotPlanner) -> list[list[BatchEntry]]:
    """Plan and decode steps until no slot is evaluating its prompt; the steps' batches."""
    steps = []
    while any(planner.evaluating(i) for i in planner.busy):
        batch = planner.plan()
        planner.decoded(batch)
        steps.append(batch)
    return steps


def cached(planner: SlotPlanner, prompt: list[int]) -> int:
    """Place ``prompt``, evaluate it and release its slot keeping the cache; the slot."""
    placed = planner.place(prompt, reuse=True)
    run_prompt(planner)
    planner.release(placed.slot, keep_cache=True)
    return placed.slot


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_a_prompt_is_evaluated_in_chunks_and_its_last_token_gets_logits() -> None:
    planner = SlotPlanner(2, 4)
    placed = planner.place([10, 11, 12, 13, 14, 15], reuse=True)
    assert (placed.slot, placed.keep) == (0, 0)
    steps = run_prompt(planner)
    assert [[e.token for e in step] for step in steps] == [[10, 11, 12, 13], [14, 15]]
    assert [e.pos for e in steps[1]] == [4, 5]
    assert [e.logits for step in steps for e in step] == [False] * 5 + [True]
    assert planner.cached(0) == [10, 11, 12, 13, 14, 15]


def test_generated_tokens_go_first_and_prompts_fill_the_rest() -> None:
    planner = SlotPlanner(3, 4)
    planner.place([1, 2], reuse=False)
    run_prompt(planner)
    planner.sampled(0, 99)
    # A long prompt arrives while slot 0 generates: each step carries slot 0's token
    # and at most n_batch - 1 prompt tokens, so slot 0 never waits a whole prefill.
    planner.place(list(range(100, 110)), reuse=False)
    first = planner.plan()
    assert first[0] == BatchEntry(slot=0, token=99, pos=2, logits=True)
    assert [e.token for e in first[1:]] == [100, 101, 102]
    planner.decoded(first)
    planner.sampled(0, 98)
    second = planner.plan()
    assert second[0] == BatchEntry(slot=0, token=98, pos=3, logits=True)
    assert [e.token for e in second[1:]] == [103, 104, 105]


def test_prompts_are_served_in_arrival_order() -> None:
    planner = SlotPlanner(3, 4)
    a = planner.place([1] * 3, reuse=False)
    b = planner.place([2] * 3, reuse=False)
    batch = planner.plan()
    assert [(e.slot, e.token) for e in batch] == [(a.slot, 1)] * 3 + [(b.slot, 2)]


def test_a_returning_conversation_lands_on_the_slot_with_its_prefix() -> None:
    planner = SlotPlanner(3, 64)
    first = planner.place([1, 2, 3, 4], reuse=True)
    other = planner.place([7, 8, 9], reuse=True)
    run_prompt(planner)
    planner.sampled(first.slot, 5)
    planner.decoded(planner.plan())  # token 5 is cached now (and 7, 8, 9's slot samples)
    assert planner.release(first.slot, keep_cache=True) == 5
    assert planner.release(other.slot, keep_cache=True) == 3
    back = planner.place([1, 2, 3, 4, 5, 6], reuse=True)
    assert (back.slot, back.keep) == (first.slot, 5)
    assert planner.plan() == [BatchEntry(slot=first.slot, token=6, pos=5, logits=True)]


def test_an_unrelated_prompt_leaves_a_conversations_slot_alone() -> None:
    planner = SlotPlanner(2, 64)
    talk = cached(planner, [1, 2, 3, 4, 5, 6])
    # Shares only its first token (a BOS) with the cached conversation: below similarity.
    other = planner.place([1, 9, 9, 9], reuse=True)
    assert other.slot != talk
    assert planner.cached(talk) == [1, 2, 3, 4, 5, 6]


def test_without_reuse_the_least_recently_used_slot_keeps_nothing() -> None:
    planner = SlotPlanner(2, 64)
    a = cached(planner, [1, 2, 3])
    fresh = planner.place([1, 2, 3], reuse=False)
    assert fresh.keep == 0
    assert fresh.slot != a  # the slot never used is the least recently used
    assert planner.cached(fresh.slot) == []


def test_the_last_prompt_token_is_always_evaluated_again() -> None:
    planner = SlotPlanner(1, 64)
    cached(planner, [1, 2, 3])
    again = planner.place([1, 2, 3], reuse=True)
    assert again.keep == 2
    assert planner.plan() == [BatchEntry(slot=0, token=3, pos=2, logits=True)]


def test_release_without_cache_forgets_and_reports_zero() -> None:
    planner = SlotPlanner(1, 64)
    planner.place([1, 2, 3], reuse=True)
    run_prompt(planner)
    assert planner.release(0, keep_cache=False) == 0
    assert planner.cached(0) == []
    assert planner.place([1, 2, 3], reuse=True).keep == 0


def test_restart_drops_a_kept_prefix() -> None:
    planner = SlotPlanner(1, 64)
    assert cached(planner, [1, 2, 3]) == 0
    planner.place([1, 2, 9], reuse=True)
    planner.restart(0)
    assert [e.pos for e in planner.plan()] == [0, 1, 2]


def test_misuse_is_refused() -> None:
    planner = SlotPlanner(1, 4)
    with pytest.raises(ValueError, match="at least one prompt token"):
        planner.place([], reuse=True)
    planner.place([1], reuse=True)
    with pytest.raises(ValueError, match="no free slot"):
        planner.place([2], reuse=True)
    with pytest.raises(ValueError, match="before its prompt"):
        planner.sampled(0, 5)
    planner.release(0, keep_cache=False)
    with pytest.raises(ValueError, match="is free"):
        planner.release(0, keep_cache=False)
    with pytest.raises(ValueError, match="n_slots >= 1"):
        SlotPlanner(0, 4)
    with pytest.raises(ValueError, match="n_batch >= n_slots"):
        SlotPlanner(4, 2)


@settings(max_examples=200, deadline=None)
@given(
    n_slots=st.integers(1, 4),
    n_batch=st.integers(1, 8),
    script=st.lists(
        st.tuples(
            st.sampled_from(["place", "step", "release"]),
            st.lists(st.integers(0, 3), min_size=1, max_size=12),
            st.booleans(),
        ),
        max_size=40,
    ),
)
def test_invariants_under_any_schedule(
    n_slots: int, n_batch: int, script: list[tuple[str, list[int], bool]]
) -> None:
    """Whatever arrives, steps and leaves: batches fit, positions are contiguous per slot,
    every busy slot makes progress each step it is in, and a cache is only its own tokens."""
    n_batch = max(n_batch, n_slots)
    planner = SlotPlanner(n_slots, n_batch)
    owner: dict[int, list[int]] = {}  # slot -> what its current request put into the cache
    generated = 1000
    for op, tokens, flag in script:
        if op == "place" and planner.free:
            placed = planner.place(tokens, reuse=flag)
            assert 0 <= placed.keep < len(tokens)
            assert (
                placed.keep == 0
                or planner.cached(placed.slot)[: placed.keep] == tokens[: placed.keep]
            )
            owner[placed.slot] = tokens[: placed.keep]
        elif op == "step":
            batch = planner.plan()
            assert len(batch) <= n_batch
            seen: dict[int, int] = {}
            for e in batch:
                expected = seen.get(e.slot, len(planner.cached(e.slot)))
                assert e.pos == expected
                seen[e.slot] = e.pos + 1
            planner.decoded(batch)
            for e in batch:
                owner[e.slot].append(e.token)
                if e.logits:
                    generated += 1
                    planner.sampled(e.slot, generated)
            for slot in planner.busy:
                assert planner.cached(slot) == owner[slot]
            if planner.busy:
                generating = [s for s in planner.busy if not planner.evaluating(s)]
                assert len({e.slot for e in batch}) >= 1
                assert all(s in {e.slot for e in batch} for s in generating)
        elif op == "release" and planner.busy:
            slot = planner.busy[tokens[0] % len(planner.busy)]
            planner.release(slot, keep_cache=flag)
            owner.pop(slot)
