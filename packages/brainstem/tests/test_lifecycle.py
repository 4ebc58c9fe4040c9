"""CortexStrategy timing on a virtual clock: every test here is a timer test, marked
``virtual_time``, so it runs on trio's ``MockClock(autojump_threshold=0)`` alone
(asyncio has no public virtual clock).

Every sleep here is virtual; the clock jumps when all tasks wait, so "five minutes"
takes no real time and the unload instants are exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius_core import (
    Complete,
    ConfigError,
    FinishReason,
    ListModels,
    LoadModel,
    ModelList,
    ModelLoaded,
    ProcessStart,
)
from rusty_genius_stem import (
    DEFAULT_HIBERNATE_AFTER,
    HibernateAfter,
    Immediate,
    KeepAlive,
    Orchestrator,
)
from rusty_genius_testhub.requests import finish, infer

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import FakeAssets, Lab

FIVE_MINUTES = 5 * 60.0
DAY = 24 * 3600.0
BASE = 1_700_000_000.0


@pytest.fixture
def run_lifecycle(lab: Lab, assets: FakeAssets, run_stem) -> Callable[..., Any]:
    """``async with run_lifecycle(strategy, **engine) as h``: run a brainstem with that
    lifecycle strategy, its wall clock ``BASE`` + virtual time, over the lab's engines
    (``engine``: their delays)."""

    def run(strategy: Any, **engine: Any) -> Any:
        return run_stem(
            Orchestrator(
                assets,
                engine_factory=lab.factory(**engine),
                strategy=strategy,
                wall_clock=lambda: BASE + anyio.current_time(),
            )
        )

    return run


async def on_alpha(h, rid: str, *, cold: bool) -> Any:
    """Request ``rid``, one inference on ``alpha``, checking that it started cold or warm;
    its final body."""
    final = await h.request(rid, infer())
    assert h.bodies(rid)[0] == ProcessStart(model="alpha", cold=cold)
    return final


async def expires_at(h, rid: str) -> float | None:
    listing = await h.request(rid, ListModels())
    assert isinstance(listing, ModelList)
    (row,) = [m for m in listing.models if m.name == "alpha"]
    assert row.loaded
    return row.expires_at


def test_default_strategy_is_hibernate_after_five_minutes(assets: FakeAssets) -> None:
    assert Orchestrator(assets).strategy == HibernateAfter(FIVE_MINUTES)
    assert DEFAULT_HIBERNATE_AFTER == FIVE_MINUTES
    for bad in (0, -1, float("inf"), float("nan"), True, "5m"):
        with pytest.raises(ConfigError):
            HibernateAfter(bad)  # type: ignore[arg-type]


@pytest.mark.virtual_time
async def test_hibernate_unloads_exactly_after_five_idle_minutes(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(HibernateAfter(FIVE_MINUTES)) as h:
        await h.request("a", infer())
        idle_since = anyio.current_time()
        assert await expires_at(h, "ls") == pytest.approx(BASE + idle_since + FIVE_MINUTES)
        await anyio.sleep(FIVE_MINUTES - 0.001)
        assert lab.log.loaded == ["alpha"]
        await anyio.sleep(0.002)
        assert lab.log.loaded == []
        assert lab.log.times("unload") == [pytest.approx(idle_since + FIVE_MINUTES, abs=1e-9)]


@pytest.mark.virtual_time
async def test_hibernate_never_unloads_while_a_request_runs(lab: Lab, run_lifecycle) -> None:
    # 20 tokens at 60 virtual seconds each: the request runs 20 minutes.
    async with run_lifecycle(HibernateAfter(FIVE_MINUTES), token_delay=60.0) as h:
        started = anyio.current_time()
        final = await h.request("long", infer(" ".join(["word"] * 14)))
        done = anyio.current_time()
        assert finish(final) is FinishReason.STOP
        assert done - started >= 4 * FIVE_MINUTES
        assert lab.log.times("unload") == []
        await anyio.sleep(DAY)
        assert lab.log.times("unload") == [pytest.approx(done + FIVE_MINUTES, abs=1e-9)]


@pytest.mark.virtual_time
async def test_idle_clock_stops_when_a_request_arrives_and_restarts_after_it(
    lab: Lab, run_lifecycle
) -> None:
    async with run_lifecycle(HibernateAfter(FIVE_MINUTES), token_delay=30.0) as h:
        await h.request("first", infer())
        await anyio.sleep(FIVE_MINUTES - 60)  # idle for 4 minutes …
        await h.request("second", infer())  # … then 5+ minutes of work …
        done = anyio.current_time()
        assert h.bodies("second")[0] == ProcessStart(model="alpha", cold=False)
        await anyio.sleep(DAY)
        # … and the clock counted the full five minutes from the end of the second one.
        assert lab.log.times("load") == [pytest.approx(0.0)]
        assert lab.log.times("unload") == [pytest.approx(done + FIVE_MINUTES, abs=1e-9)]


@pytest.mark.virtual_time
async def test_queued_requests_keep_the_model_loaded(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(HibernateAfter(10.0), token_delay=60.0) as h:
        for rid in ("a", "b", "c"):
            await h.send(rid, infer())
        for rid in ("a", "b", "c"):
            await h.wait_final(rid)
        done = anyio.current_time()
        await anyio.sleep(DAY)
        assert lab.log.times("unload") == [pytest.approx(done + 10.0, abs=1e-9)]


@pytest.mark.virtual_time
async def test_cold_reload_after_hibernation_reports_the_load(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(HibernateAfter(60.0), load_delay=7.0) as h:
        first = await on_alpha(h, "first", cold=True)
        assert isinstance(first, Complete)
        assert first.usage.load_duration == pytest.approx(7.0)
        warm = await on_alpha(h, "warm", cold=False)
        assert isinstance(warm, Complete)
        assert warm.usage.load_duration == 0.0
        await anyio.sleep(61.0)
        assert lab.log.loaded == []
        cold = await on_alpha(h, "cold", cold=True)
        assert isinstance(cold, Complete)
        assert cold.usage.load_duration == pytest.approx(7.0)
        assert len(lab.log.times("load")) == 2


@pytest.mark.virtual_time
async def test_immediate_unloads_after_the_last_request(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(Immediate(), token_delay=1.0) as h:
        await h.send("a", infer())
        await h.send("b", infer())
        await h.wait_final("a")
        assert lab.log.loaded == ["alpha"]  # b is still queued: keep it
        await h.wait_final("b")
        # Unloaded before b's Complete was sent, and not a moment later.
        assert lab.log.loaded == []
        assert lab.log.times("unload") == [pytest.approx(anyio.current_time(), abs=1e-9)]
        await on_alpha(h, "c", cold=True)
        assert lab.log.loaded == []


@pytest.mark.virtual_time
async def test_immediate_does_not_unload_right_after_load_model(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(Immediate()) as h:
        await h.request("load", LoadModel(model="alpha"))
        await anyio.sleep(DAY)
        assert lab.log.loaded == ["alpha"]
        assert await expires_at(h, "ls") is None
        await on_alpha(h, "a", cold=False)
        assert lab.log.loaded == []


@pytest.mark.virtual_time
async def test_keep_alive_never_unloads(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(KeepAlive()) as h:
        await h.request("a", infer())
        await anyio.sleep(30 * DAY)
        assert lab.log.loaded == ["alpha"]
        assert await expires_at(h, "ls") is None
        await on_alpha(h, "b", cold=False)
    assert len(lab.log.times("unload")) == 1  # only at shutdown


@pytest.mark.virtual_time
async def test_per_request_keep_alive_overrides_the_strategy(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(HibernateAfter(FIVE_MINUTES)) as h:
        await h.request("ten", infer(keep_alive=10))
        done = anyio.current_time()
        assert await expires_at(h, "ls") == pytest.approx(BASE + done + 10)
        await anyio.sleep(60)
        assert lab.log.times("unload") == [pytest.approx(done + 10, abs=1e-9)]

        await h.request("zero", infer(keep_alive=0))
        assert lab.log.loaded == []  # 0: unload right after the request

        await h.request("forever", infer(keep_alive=-1))
        await anyio.sleep(30 * DAY)
        assert lab.log.loaded == ["alpha"]
        assert await expires_at(h, "ls2") is None

        await h.request("default", infer())  # no override: back to the strategy
        done = anyio.current_time()
        await anyio.sleep(DAY)
        assert lab.log.times("unload")[-1] == pytest.approx(done + FIVE_MINUTES, abs=1e-9)


@pytest.mark.virtual_time
async def test_immediate_with_keep_alive_forever(lab: Lab, run_lifecycle) -> None:
    async with run_lifecycle(Immediate()) as h:
        await h.request("keep", infer(keep_alive=-1))
        await anyio.sleep(DAY)
        assert lab.log.loaded == ["alpha"]
        await h.request("then", infer())
        assert lab.log.loaded == []


@pytest.mark.virtual_time
async def test_load_model_keep_alive_sets_the_idle_time_like_a_requests(
    lab: Lab, run_lifecycle
) -> None:
    # Ollama's load-only request: {"model": ..., "keep_alive": ...} without a prompt.
    async with run_lifecycle(HibernateAfter(FIVE_MINUTES)) as h:
        loaded = await h.request("ten", LoadModel(model="alpha", keep_alive=10))
        assert isinstance(loaded, ModelLoaded)
        done = anyio.current_time()
        assert await expires_at(h, "ls") == pytest.approx(BASE + done + 10)
        await anyio.sleep(60)
        assert lab.log.times("unload") == [pytest.approx(done + 10, abs=1e-9)]

        zero = await h.request("zero", LoadModel(model="alpha", keep_alive=0))
        assert isinstance(zero, ModelLoaded)
        assert len(lab.log.times("load")) == 2  # it did load...
        assert lab.log.loaded == []  # ...and unloaded as soon as it was idle, as asked

        await h.request("forever", LoadModel(model="alpha", keep_alive=-1))
        await anyio.sleep(30 * DAY)
        assert lab.log.loaded == ["alpha"]
        assert await expires_at(h, "ls2") is None
        await h.request("a", infer())  # the latest request's keep_alive (none: the strategy)
        done = anyio.current_time()
        await anyio.sleep(DAY)
        assert lab.log.times("unload")[-1] == pytest.approx(done + FIVE_MINUTES, abs=1e-9)


@pytest.mark.virtual_time
async def test_load_model_keep_alive_zero_waits_for_what_runs_and_waits(
    lab: Lab, run_lifecycle
) -> None:
    async with run_lifecycle(KeepAlive(), token_delay=1.0) as h:
        await h.request("warm", infer())
        await h.send("a", infer())
        await h.wait_body("a", ProcessStart)
        await h.request("zero", LoadModel(model="alpha", keep_alive=0))
        assert lab.log.loaded == ["alpha"]  # "a" still runs on it
        await h.wait_final("a")
        assert lab.log.loaded == []  # then the latest keep_alive (0) applies
        assert lab.log.times("unload") == [pytest.approx(anyio.current_time(), abs=1e-9)]
