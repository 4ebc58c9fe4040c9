"""The scheduler on its own: no event loop, no engine, every transition.

A pretend shell (:class:`Shell`) feeds events and checks each action against what came
before; the table tests pin one transition each, and a hypothesis state machine plays
arbitrary interleavings against the invariants.
"""

from __future__ import annotations

from collections import Counter

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rusty_genius_core import EngineError, LoadOptions
from rusty_genius_stem import BrainstemConfig, HibernateAfter, Immediate, KeepAlive
from rusty_genius_stem._scheduler import REMEMBERED_OPTIONS, Scheduler
from rusty_genius_stem._scheduler_state import (
    Action,
    EndCancelled,
    Fail,
    Load,
    Measure,
    ModelState,
    Reject,
    RequestKind,
    RequestState,
    Run,
    SetTimer,
    Stop,
    Unload,
)

INFER, LOAD = RequestKind.INFER, RequestKind.LOAD


@attrs.define
class Shell:
    """Feeds events to ``scheduler`` and keeps what is outstanding, as the orchestrator does."""

    scheduler: Scheduler
    now: float = 0.0
    admitted: list[str] = attrs.Factory(list)
    rejected: list[str] = attrs.Factory(list)
    ended: Counter[str] = attrs.Factory(Counter)
    loading: dict[int, str] = attrs.Factory(dict)  # model id -> the request loading it
    load_names: dict[int, str] = attrs.Factory(dict)
    running: dict[str, int] = attrs.Factory(dict)  # request -> model id it runs on
    stopped: set[str] = attrs.Factory(set)
    ending: set[str] = attrs.Factory(set)  # told to end (cancelled or failed), not yet ended
    failures: dict[str, Fail] = attrs.Factory(dict)
    measuring: set[str] = attrs.Factory(set)
    unloading: set[int] = attrs.Factory(set)
    gone: set[int] = attrs.Factory(set)  # unloaded or abandoned
    timers: list[float] = attrs.Factory(list)
    log: list[Action] = attrs.Factory(list)

    def feed(self, actions: list[Action]) -> list[Action]:
        for action in actions:
            self.log.append(action)
            self._check(action)
        return actions

    def _check(self, action: Action) -> None:
        if isinstance(action, Reject):
            self.rejected.append(action.request_id)
        elif isinstance(action, Load):
            assert action.request_id in self.admitted
            assert action.model_id not in self.loading, "two loads of one model instance"
            assert action.name not in {self.load_names[m] for m in self.loading}, (
                "two loads of one model name at once"
            )
            assert action.model_id not in self.unloading | self.gone
            self.loading[action.model_id] = action.request_id
            self.load_names[action.model_id] = action.name
        elif isinstance(action, Run):
            rid = action.request_id
            assert rid in self.admitted
            assert not self.ended[rid], f"{rid} runs after it ended"
            assert rid not in self.running, f"{rid} told to run twice"
            assert action.model_id not in self.unloading | self.gone, "runs on an unloading model"
            self.running[rid] = action.model_id
            request = self.scheduler.requests[rid]
            model = self.scheduler.model(action.model_id)
            assert model is not None
            # An Infer takes one of the model's places, a LoadModel none.
            assert (rid in model.running) == (request.kind is RequestKind.INFER)
            assert (rid in model.loaders) == (request.kind is RequestKind.LOAD)
        elif isinstance(action, Stop):
            assert self.scheduler.requests[action.request_id].cancelled
            self.stopped.add(action.request_id)
        elif isinstance(action, EndCancelled | Fail):
            rid = action.request_id
            assert rid not in self.running
            assert rid not in self.ending
            self.ending.add(rid)
            if isinstance(action, Fail):
                self.failures[rid] = action
        elif isinstance(action, Measure):
            assert action.request_id not in self.measuring
            self.measuring.add(action.request_id)
        elif isinstance(action, Unload):
            assert action.model_id not in self.unloading | self.gone, "unloaded twice"
            assert action.model_id not in self.loading, "unloaded while it loads"
            model = self.scheduler.model(action.model_id)
            assert model is not None
            assert not model.active, "unloaded while requests are on it"
            assert not any(m == action.model_id for m in self.running.values())
            self.unloading.add(action.model_id)
        elif isinstance(action, SetTimer):
            self.timers.append(action.deadline)

    # -- the shell's side of each event -----------------------------------------------------

    def admit(
        self,
        rid: str,
        model: str = "a",
        kind: RequestKind = RequestKind.INFER,
        **kw: object,
    ) -> list[Action]:
        self.admitted.append(rid)
        return self.feed(self.scheduler.admit(rid, model, kind, **kw))  # type: ignore[arg-type]

    def finish_load(self, model_id: int, capacity: int | None = None) -> list[Action]:
        del self.loading[model_id]
        return self.feed(self.scheduler.load_finished(model_id, capacity))

    def fail_load(self, model_id: int) -> list[Action]:
        loader = self.loading.pop(model_id)
        actions = self.feed(self.scheduler.load_failed(model_id))
        self.ending.add(loader)  # the loader ends with the load's error
        return actions

    def finish(self, rid: str, *, loaded: bool = False) -> list[Action]:
        assert not self.ended[rid]
        self.running.pop(rid, None)
        self.ending.discard(rid)
        self.stopped.discard(rid)
        for model_id, loader in list(self.loading.items()):
            if loader == rid:  # ended without reporting its load (cancelled)
                del self.loading[model_id]
        self.ended[rid] += 1
        return self.feed(self.scheduler.request_finished(rid, self.now, loaded=loaded))

    def measured(self, rid: str, size: int) -> list[Action]:
        self.measuring.discard(rid)
        return self.feed(self.scheduler.measured(rid, size))

    def measure_failed(self, rid: str) -> list[Action]:
        self.measuring.discard(rid)
        return self.feed(self.scheduler.measure_failed(rid))

    def unloaded(self, model_id: int) -> list[Action]:
        self.unloading.discard(model_id)
        self.gone.add(model_id)
        return self.feed(self.scheduler.unload_finished(model_id))

    def cancel(self, rid: str) -> list[Action]:
        return self.feed(self.scheduler.cancel(rid))

    def tick(self, now: float) -> list[Action]:
        self.now = now
        return self.feed(self.scheduler.tick(now))

    def abandon(self, model_id: int) -> list[Action]:
        self.gone.add(model_id)
        return self.feed(self.scheduler.abandon(model_id))

    def unload(self, name: str) -> tuple[list[Action], list[int]]:
        actions, waits = self.scheduler.unload(name)
        return self.feed(actions), waits

    def settle(self) -> None:
        """Let everything outstanding succeed, loads with one slot, until nothing is left."""
        for _ in range(10_000):
            if self.loading:
                self.finish_load(min(self.loading))
            elif self.measuring:
                self.measured(min(self.measuring), 1)
            elif self.ending:
                self.finish(min(self.ending))
            elif self.running:
                self.finish(min(self.running))
            elif self.unloading:
                self.unloaded(min(self.unloading))
            else:
                return
        raise AssertionError("the scheduler never settled")


def shell(**settings: object) -> Shell:
    config = BrainstemConfig(**{"strategy": KeepAlive(), **settings})  # type: ignore[arg-type]
    return Shell(Scheduler(config))


def _load_through(sh: Shell) -> None:
    while sh.loading or sh.unloading:
        if sh.unloading:
            sh.unloaded(min(sh.unloading))
        else:
            sh.finish_load(min(sh.loading))


def state(sh: Shell, rid: str) -> RequestState:
    return sh.scheduler.requests[rid].state


# -- admission ---------------------------------------------------------------------------


def test_a_request_for_an_absent_model_creates_it_and_loads_it() -> None:
    sh = shell()
    assert sh.scheduler.model_state("a") is ModelState.ABSENT
    assert sh.admit("r1") == [Load("r1", 1, "a", LoadOptions(), created_by="r1")]
    assert sh.scheduler.model_state("a") is ModelState.LOADING
    assert state(sh, "r1") is RequestState.WAITING_FOR_LOAD


def test_the_queue_is_bounded_and_shutdown_refuses() -> None:
    sh = shell(max_queue=1)
    sh.admit("r1")
    sh.admit("r2")  # waits: one slot, r1 holds it
    assert sh.admit("r3") == [
        Reject("r3", "1 requests already wait (max_queue=1); request 'r3' refused")
    ]
    assert "r3" not in sh.scheduler.requests
    sh.scheduler.shutdown()
    (reject,) = sh.admit("r4")
    assert reject == Reject("r4", "brainstem is shutting down; request 'r4' refused")


def test_a_duplicate_id_is_a_bug_of_the_caller() -> None:
    sh = shell()
    sh.admit("r1")
    with pytest.raises(ValueError, match="already admitted"):
        sh.scheduler.admit("r1", "a", INFER)


# -- loading -----------------------------------------------------------------------------


def test_load_finished_runs_the_waiting_and_the_engine_sets_the_slots() -> None:
    sh = shell(parallelism=None)
    sh.admit("r1")
    sh.admit("r2")  # one slot until the engine says more
    assert state(sh, "r2") is RequestState.QUEUED
    actions = sh.finish_load(1, capacity=3)
    assert actions == [Run("r1", 1), Run("r2", 1)]
    assert sh.scheduler.model_state("a") is ModelState.READY
    assert sh.scheduler.in_service["a"].capacity == 3


def test_a_set_parallelism_is_the_capacity_whatever_the_engine_says() -> None:
    sh = shell(parallelism=2)
    for rid in ("r1", "r2", "r3"):
        sh.admit(rid)
    assert sh.finish_load(1, capacity=8) == [Run("r1", 1), Run("r2", 1)]
    assert state(sh, "r3") is RequestState.QUEUED
    assert sh.finish("r1") == [Run("r3", 1)]  # the slot r1 freed


def test_while_it_loads_requests_up_to_the_slots_wait_for_the_one_load() -> None:
    sh = shell(parallelism=2)
    assert sh.admit("r1") == [Load("r1", 1, "a", LoadOptions(), created_by="r1")]
    assert sh.admit("r2") == []  # started on the loading model: no second load
    assert state(sh, "r2") is RequestState.WAITING_FOR_LOAD
    assert sh.finish_load(1) == [Run("r1", 1), Run("r2", 1)]


def test_a_failed_load_ends_its_loader_and_the_next_waiting_request_tries_again() -> None:
    sh = shell(parallelism=2)
    sh.admit("r1")
    sh.admit("r2")
    assert sh.fail_load(1) == [Load("r2", 1, "a", LoadOptions(), created_by="r1")]
    assert state(sh, "r1") is RequestState.ENDING
    assert sh.finish("r1") == []
    assert sh.finish_load(1) == [Run("r2", 1)]


def test_a_failed_load_with_nobody_waiting_unloads_the_instance() -> None:
    sh = shell()
    sh.admit("r1")
    sh.fail_load(1)
    assert sh.finish("r1") == [Unload(1, "a")]
    assert sh.unloaded(1) == []
    assert sh.scheduler.model_state("a") is ModelState.ABSENT


def test_a_loader_that_ends_without_reporting_hands_the_load_on() -> None:
    sh = shell(parallelism=2)
    sh.admit("r1")
    sh.admit("r2")
    assert sh.cancel("r1") == [Stop("r1")]
    assert sh.finish("r1") == [Load("r2", 1, "a", LoadOptions(), created_by="r1")]


def test_a_load_request_skips_the_slots_and_ends_at_once_on_a_ready_model() -> None:
    sh = shell(parallelism=1)
    sh.admit("r1")
    sh.finish_load(1)
    assert sh.admit("load", kind=LOAD) == [Run("load", 1)]
    assert sh.admit("r2") == []  # the one slot is r1's


# -- keep-alive --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Immediate(), [Unload(1, "a")]),
        (HibernateAfter(30.0), [SetTimer(130.0)]),
        (KeepAlive(), []),
    ],
)
def test_an_idle_model_follows_the_strategy(strategy: object, expected: list[Action]) -> None:
    sh = shell(strategy=strategy)
    sh.admit("r1")
    sh.finish_load(1)
    sh.now = 100.0
    assert sh.finish("r1") == expected


def test_the_idle_clock_unloads_at_its_deadline_and_a_new_request_stops_it() -> None:
    sh = shell(strategy=HibernateAfter(30.0))
    sh.admit("r1")
    sh.finish_load(1)
    sh.finish("r1")
    assert sh.scheduler.next_deadline() == 30.0
    assert sh.tick(29.0) == []
    sh.admit("r2")
    assert sh.scheduler.next_deadline() is None
    assert sh.tick(31.0) == []  # busy again: the old deadline is void
    sh.finish("r2")
    assert sh.tick(61.0) == [Unload(1, "a")]


def test_a_requests_keep_alive_overrides_the_strategy() -> None:
    sh = shell(strategy=HibernateAfter(30.0))
    sh.admit("r1", keep_alive=0)
    sh.finish_load(1)
    assert sh.finish("r1") == [Unload(1, "a")]
    sh.unloaded(1)
    sh.admit("r2", keep_alive=-1)
    sh.finish_load(2)
    assert sh.finish("r2") == []
    assert sh.scheduler.expires_after(sh.scheduler.in_service["a"], 0.0) is None


def test_immediate_keeps_a_bare_load_until_its_first_request() -> None:
    sh = shell(strategy=Immediate())
    sh.admit("load", kind=LOAD, options=LoadOptions())
    sh.finish_load(1)
    assert sh.finish("load", loaded=True) == []
    sh.admit("r1")
    assert sh.finish("r1") == [Unload(1, "a")]


def test_expiry_counts_from_now_for_a_busy_model() -> None:
    sh = shell(strategy=HibernateAfter(30.0))
    sh.admit("r1")
    sh.finish_load(1)
    model = sh.scheduler.in_service["a"]
    assert sh.scheduler.expires_after(model, 5.0) == 30.0
    sh.now = 10.0
    sh.finish("r1")
    assert sh.scheduler.expires_after(model, 15.0) == 25.0


# -- switching, eviction, memory ---------------------------------------------------------


def test_a_switch_evicts_the_least_recently_used_idle_model() -> None:
    sh = shell(max_loaded=2)
    for rid, name in (("r1", "a"), ("r2", "b")):
        sh.admit(rid, name)
    sh.finish_load(1)
    sh.finish_load(2)
    sh.finish("r2")
    sh.finish("r1")  # a used last: b is the LRU
    assert sh.admit("r3", "c") == [Unload(2, "b")]
    assert state(sh, "r3") is RequestState.QUEUED
    assert sh.unloaded(2) == [Load("r3", 3, "c", LoadOptions(), created_by="r3")]


def test_a_busy_model_is_waited_for_and_nothing_overtakes_the_switch() -> None:
    sh = shell(parallelism=4)
    sh.admit("r1", "a")
    sh.finish_load(1)
    assert sh.admit("r2", "b") == []  # a is busy: b waits
    assert sh.admit("r3", "a") == []  # a has room, but must not starve the switch
    assert state(sh, "r3") is RequestState.QUEUED
    assert sh.finish("r1") == [Unload(1, "a")]
    assert sh.unloaded(1) == [Load("r2", 2, "b", LoadOptions(), created_by="r2")]


def test_other_options_wait_for_the_running_requests_then_reload() -> None:
    sh = shell(parallelism=4)
    sh.admit("r1")
    sh.finish_load(1)
    small = LoadOptions(context_size=256)
    assert sh.admit("load", kind=LOAD, options=small) == []
    assert sh.admit("r2") == []  # behind the reload, not on the old instance
    assert sh.finish("r1") == [Unload(1, "a")]
    assert sh.unloaded(1) == [Load("load", 2, "a", small, created_by="load")]
    assert sh.finish_load(2) == [Run("load", 2), Run("r2", 2)]


def test_remembered_options_load_the_model_next_time_and_are_bounded() -> None:
    sh = shell(max_loaded=1)
    small = LoadOptions(context_size=512)
    for i in range(REMEMBERED_OPTIONS + 1):
        sh.admit(f"l{i}", f"m{i}", LOAD, options=small)
        _load_through(sh)
        sh.finish(f"l{i}", loaded=True)
    assert len(sh.scheduler.last_options) == REMEMBERED_OPTIONS
    assert "m0" not in sh.scheduler.last_options
    last = f"m{REMEMBERED_OPTIONS}"
    sh.unload(last)
    sh.settle()
    (load,) = sh.admit("r", last)
    assert isinstance(load, Load)
    assert load.options == small


def test_under_a_memory_budget_the_weights_are_measured_first() -> None:
    sh = shell(max_memory=100, max_loaded=4)
    assert sh.admit("r1", "a") == [Measure("r1", "a")]
    assert state(sh, "r1") is RequestState.MEASURING
    assert sh.admit("r2", "b") == []  # one measurement at a time, in order
    assert sh.measured("r1", 60) == [
        Load("r1", 1, "a", LoadOptions(), created_by="r1"),
        Measure("r2", "b"),
    ]
    sh.finish_load(1)
    assert sh.measured("r2", 50) == []  # 60 + 50 > 100, and a is busy
    assert sh.finish("r1") == [Unload(1, "a")]
    assert sh.unloaded(1) == [Load("r2", 2, "b", LoadOptions(), created_by="r2")]


def test_a_model_bigger_than_the_budget_fails_and_a_failed_fetch_fails() -> None:
    sh = shell(max_memory=100)
    sh.admit("r1")
    (fail,) = sh.measured("r1", 101)
    assert isinstance(fail, Fail)
    assert isinstance(fail.error, EngineError)
    assert "101 bytes" in str(fail.error)
    assert "max_memory=100" in str(fail.error)
    assert sh.finish("r1") == []
    sh.admit("r2")
    assert sh.measure_failed("r2") == [Fail("r2")]


# -- cancel, abandon, unload, shutdown ---------------------------------------------------


def test_cancel_ends_a_queued_request_and_stops_a_started_one() -> None:
    sh = shell()
    sh.admit("r1")
    sh.admit("r2")
    assert sh.cancel("r2") == [EndCancelled("r2")]
    assert sh.cancel("r2") == []  # once
    assert sh.cancel("r1") == [Stop("r1")]
    assert sh.cancel("nobody") == []
    sh.finish("r2")
    sh.finish("r1")
    assert not sh.scheduler.requests


def test_cancel_while_measuring_ends_it_and_its_measurement_is_ignored() -> None:
    sh = shell(max_memory=100)
    sh.admit("r1")
    assert sh.cancel("r1") == [EndCancelled("r1")]
    assert sh.measured("r1", 10) == []
    assert sh.finish("r1") == []


def test_a_cancelled_request_frees_its_slot() -> None:
    sh = shell(parallelism=1)
    sh.admit("r1")
    sh.finish_load(1)
    sh.admit("r2")
    sh.cancel("r1")
    assert sh.finish("r1") == [Run("r2", 1)]
    assert sh.scheduler.in_service["a"].running == {"r2"}


def test_an_abandoned_engine_is_gone_and_the_next_request_gets_a_new_one() -> None:
    sh = shell(parallelism=2)
    sh.admit("r1")
    sh.finish_load(1)
    assert sh.abandon(1) == []
    assert sh.scheduler.model_state("a") is ModelState.ABSENT
    assert sh.admit("r2") == [Load("r2", 2, "a", LoadOptions(), created_by="r2")]
    assert sh.finish("r1") == []  # its end touches nothing of the new instance


def test_unload_of_a_busy_model_drains_it_first() -> None:
    sh = shell()
    sh.admit("r1")
    sh.finish_load(1)
    actions, waits = sh.unload("a")
    assert (actions, waits) == ([], [1])
    assert sh.scheduler.model(1) is not None
    assert sh.scheduler.model(1).state is ModelState.DRAINING  # type: ignore[union-attr]
    assert sh.admit("r2") == []  # a new instance waits for room
    assert sh.finish("r1") == [Unload(1, "a")]
    assert sh.unloaded(1) == [Load("r2", 2, "a", LoadOptions(), created_by="r2")]
    assert sh.unload("nothing") == ([], [])


def test_retire_all_unloads_every_idle_model() -> None:
    sh = shell(max_loaded=2)
    sh.admit("r1", "a")
    sh.admit("r2", "b")
    sh.settle()
    assert sh.scheduler.retire_all() == [Unload(1, "a"), Unload(2, "b")]
    assert sh.scheduler.table_sizes() == dict.fromkeys(sh.scheduler.table_sizes(), 0) | {
        "closing": 2
    }


# -- every interleaving ------------------------------------------------------------------

NAMES = ("a", "b", "c")
OPTIONS = (None, LoadOptions(), LoadOptions(context_size=256))


class SchedulerMachine(RuleBasedStateMachine):
    """Arbitrary events in arbitrary order, the shell checking each action as it comes."""

    def __init__(self) -> None:
        super().__init__()
        self.sh: Shell | None = None
        self.count = 0

    @precondition(lambda self: self.sh is None)
    @rule(
        parallelism=st.one_of(st.none(), st.integers(1, 3)),
        max_loaded=st.integers(1, 3),
        max_memory=st.one_of(st.none(), st.integers(50, 200)),
        max_queue=st.integers(1, 6),
        strategy=st.sampled_from([Immediate(), HibernateAfter(10.0), KeepAlive()]),
    )
    def configure(self, **settings: object) -> None:
        self.sh = Shell(Scheduler(BrainstemConfig(**settings)))  # type: ignore[arg-type]

    def _shell(self) -> Shell:
        assert self.sh is not None
        return self.sh

    @precondition(lambda self: self.sh is not None)
    @rule(
        name=st.sampled_from(NAMES),
        load=st.booleans(),
        options=st.sampled_from(OPTIONS),
        keep_alive=st.sampled_from([None, None, 0, -1, 5.0]),
    )
    def admit(
        self, name: str, load: bool, options: LoadOptions | None, keep_alive: float | None
    ) -> None:
        self.count += 1
        kind = LOAD if load else INFER
        self._shell().admit(
            f"r{self.count}",
            name,
            kind,
            options=(options or LoadOptions()) if load else None,
            keep_alive=keep_alive,
        )

    @precondition(lambda self: self.sh is not None and self.sh.loading)
    @rule(data=st.data(), capacity=st.one_of(st.none(), st.integers(1, 4)), ok=st.booleans())
    def end_load(self, data: st.DataObject, capacity: int | None, ok: bool) -> None:
        sh = self._shell()
        model_id = data.draw(st.sampled_from(sorted(sh.loading)))
        if ok:
            sh.finish_load(model_id, capacity)
        else:
            sh.fail_load(model_id)

    @precondition(
        lambda self: self.sh is not None and (self.sh.running or self.sh.ending or self.sh.stopped)
    )
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        """A request ends: it ran, was told to end, or was stopped (perhaps mid-load)."""
        sh = self._shell()
        rid = data.draw(st.sampled_from(sorted({*sh.running, *sh.ending, *sh.stopped})))
        request = sh.scheduler.requests[rid]
        sh.finish(rid, loaded=request.kind is LOAD and rid in sh.running)

    @precondition(lambda self: self.sh is not None and self.sh.measuring)
    @rule(data=st.data(), size=st.integers(0, 250), ok=st.booleans())
    def measure(self, data: st.DataObject, size: int, ok: bool) -> None:
        sh = self._shell()
        rid = data.draw(st.sampled_from(sorted(sh.measuring)))
        if ok:
            sh.measured(rid, size)
        else:
            sh.measure_failed(rid)

    @precondition(lambda self: self.sh is not None and self.sh.unloading)
    @rule(data=st.data())
    def unloaded(self, data: st.DataObject) -> None:
        sh = self._shell()
        sh.unloaded(data.draw(st.sampled_from(sorted(sh.unloading))))

    @precondition(lambda self: self.sh is not None)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        sh = self._shell()
        live = sorted(sh.scheduler.requests)
        if live:
            sh.cancel(data.draw(st.sampled_from(live)))

    @precondition(lambda self: self.sh is not None)
    @rule(seconds=st.floats(0.0, 20.0))
    def tick(self, seconds: float) -> None:
        sh = self._shell()
        sh.tick(sh.now + seconds)

    @precondition(lambda self: self.sh is not None and self.sh.running)
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        """An engine that does not stop: its running requests will still end."""
        sh = self._shell()
        model_id = data.draw(st.sampled_from(sorted(set(sh.running.values()))))
        if sh.scheduler.model(model_id) is not None and model_id not in sh.loading:
            sh.abandon(model_id)

    @precondition(lambda self: self.sh is not None)
    @rule(name=st.sampled_from(NAMES))
    def unload(self, name: str) -> None:
        self._shell().unload(name)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def never_more_running_than_slots(self) -> None:
        if self.sh is None:
            return
        s = self.sh.scheduler
        for model in (*s.in_service.values(), *s.closing.values()):
            assert len(model.running) <= model.capacity
            assert not model.running & model.loaders, "a request in two roles"
            # An ended request (a cancelled one included) holds no place and no load.
            assert model.running | model.loaders <= set(s.requests)
            assert model.loader is None or model.loader in s.requests

    @invariant()
    def every_request_is_accounted_for(self) -> None:
        if self.sh is None:
            return
        sh = self.sh
        for rid, request in sh.scheduler.requests.items():
            assert not sh.ended[rid]
            if request.state is RequestState.RUNNING:
                assert rid in sh.running
            if rid in sh.running:
                model = sh.scheduler.model(sh.running[rid])
                assert model is None or rid in model.running | model.loaders
        assert all(n == 1 for n in sh.ended.values()), "a request ended twice"

    @invariant()
    def in_service_models_are_one_per_name(self) -> None:
        if self.sh is None:
            return
        s = self.sh.scheduler
        assert all(m.name == name for name, m in s.in_service.items())
        assert not any(m.retired for m in s.in_service.values())
        assert len(s.in_service) + len(s.closing) <= s._cfg.max_loaded

    def teardown(self) -> None:
        """Once everything outstanding succeeds, every admitted request has ended once."""
        if self.sh is None:
            return
        sh = self.sh
        sh.settle()
        admitted = [r for r in sh.admitted if r not in sh.rejected]
        assert sorted(sh.ended) == sorted(admitted)
        assert set(sh.ended.values()) <= {1}
        assert not sh.scheduler.requests
        assert not sh.scheduler.queue
        assert not sh.scheduler.pending
        for model in (*sh.scheduler.in_service.values(), *sh.scheduler.closing.values()):
            assert not model.active


TestSchedulerMachine = SchedulerMachine.TestCase
TestSchedulerMachine.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)


def test_rejected_requests_are_never_admitted() -> None:
    sh = shell(max_queue=1)
    for i in range(4):
        sh.admit(f"r{i}")
    assert sh.rejected == ["r2", "r3"]
    sh.settle()
    assert sorted(sh.ended) == ["r0", "r1"]
