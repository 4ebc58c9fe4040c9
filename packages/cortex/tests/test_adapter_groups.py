"""Adapter sets and batching, without llama.cpp: which group a step serves, and the
slot planner keeping sets apart (batches and cached prefixes)."""

from __future__ import annotations

import collections

from hypothesis import given
from hypothesis import strategies as st

from rusty_genius_cortex._adapter_groups import next_group
from rusty_genius_cortex._slots import SlotPlanner

A = (("/a.gguf", 1.0),)
B = (("/b.gguf", 0.5),)


def test_one_group_or_none() -> None:
    assert next_group([], None) is None
    assert next_group([], A) is None
    assert next_group([()], None) == ()
    assert next_group([A], B) == A  # the only group with work, whatever came before


def test_groups_take_turns_in_order() -> None:
    groups = [(), A, B]
    served = []
    last = None
    for _ in range(6):
        last = next_group(groups, last)
        served.append(last)
    assert served == [(), A, B, (), A, B]
    assert next_group([(), B], A) == ()  # the last group has no work left: the first is next


@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True),
    st.integers(1, 12),
)
def test_every_group_with_work_is_served_once_every_k_steps(keys: list[int], rounds: int) -> None:
    served: collections.Counter[int] = collections.Counter()
    last: int | None = None
    for _ in range(rounds * len(keys)):
        last = next_group(keys, last)
        assert last is not None
        served[last] += 1
    assert served == dict.fromkeys(keys, rounds)


def test_a_step_batches_only_one_adapter_set() -> None:
    planner = SlotPlanner(3, 16)
    base = planner.place([1, 2, 3], reuse=False)
    tuned = planner.place([4, 5], reuse=False, key=A)
    also_base = planner.place([6], reuse=False)
    assert planner.groups() == [(), A]
    first = planner.plan(())
    assert {e.slot for e in first} == {base.slot, also_base.slot}
    planner.decoded(first)
    assert planner.groups() == [A]  # the base sequences wait to sample; only A has work
    second = planner.plan(A)
    assert [(e.slot, e.token) for e in second] == [(tuned.slot, 4), (tuned.slot, 5)]
    planner.decoded(second)
    planner.sampled(base.slot, 7)
    planner.sampled(tuned.slot, 8)
    assert planner.groups() == [(), A]
    assert [e.slot for e in planner.plan(())] == [base.slot]
    assert [e.slot for e in planner.plan(A)] == [tuned.slot]
    assert len(planner.plan()) == 2  # no group: everything, as before adapters


def test_a_prefix_cached_under_another_adapter_set_is_never_reused() -> None:
    planner = SlotPlanner(2, 64)
    talk = planner.place([1, 2, 3, 4, 5, 6], reuse=True, key=A)
    planner.decoded(planner.plan(A))
    planner.release(talk.slot, keep_cache=True)
    same_prompt_base = planner.place([1, 2, 3, 4, 5, 6, 7], reuse=True)
    assert same_prompt_base.keep == 0
    assert same_prompt_base.slot != talk.slot  # A's cache stays for A
    planner.release(same_prompt_base.slot, keep_cache=False)
    back = planner.place([1, 2, 3, 4, 5, 6, 7], reuse=True, key=A)
    assert (back.slot, back.keep) == (talk.slot, 6)
    planner.release(back.slot, keep_cache=True)
    other = planner.place([1, 2, 3, 4, 5, 6, 7], reuse=True, key=B)
    assert other.keep == 0


def test_a_slot_taken_under_another_set_keeps_nothing_of_its_cache() -> None:
    planner = SlotPlanner(1, 64)
    first = planner.place([1, 2, 3], reuse=True)
    planner.decoded(planner.plan())
    planner.release(first.slot, keep_cache=True)
    again = planner.place([1, 2, 3, 4], reuse=True, key=B)
    assert (again.slot, again.keep) == (first.slot, 0)
    assert planner.cached(first.slot) == []
    assert [e.pos for e in planner.plan(B)] == [0, 1, 2, 3]
