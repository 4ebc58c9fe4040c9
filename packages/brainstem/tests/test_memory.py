"""``max_memory``: a byte budget for loaded models, over Pinky with real weights files.

``fetch_assets=True`` makes the fake asset source write each model's weights file
(``assets.sizes`` bytes) to ``tmp_path``; its size is the model's estimated footprint.
Tests whose engines sleep per token are timer tests, marked ``virtual_time``: they run on
trio's ``MockClock`` alone; the others run on asyncio and trio.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius_core import (
    Ack,
    AssetComplete,
    AssetError,
    Cancel,
    Complete,
    ConfigError,
    Content,
    EngineError,
    ErrorReport,
    FinishReason,
    LoadModel,
    ModelLoaded,
    is_final,
)
from rusty_genius_stem import Orchestrator, open_brainstem
from rusty_genius_testhub.requests import WORDS, finish, infer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from conftest import FakeAssets, Harness, Lab


def within_budget(assets: FakeAssets, lab: Lab, max_memory: int) -> Orchestrator:
    """Room for three models by count, and ``max_memory`` bytes of them."""
    return Orchestrator(
        assets, engine_factory=lab.factory(), fetch_assets=True, max_loaded=3, max_memory=max_memory
    )


def events(lab: Lab) -> list[tuple[str, str]]:
    return [(what, name) for _, what, name in lab.log.events]


async def test_a_budget_that_fits_two_models_keeps_both_loaded(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = within_budget(assets, lab, 6000)
    async with run_stem(stem) as h:
        assert finish(await h.request("a", infer("x", "alpha"))) is FinishReason.STOP
        assert finish(await h.request("b", infer("x", "beta"))) is FinishReason.STOP  # 6000 bytes
        assert sorted(lab.log.loaded) == ["alpha", "beta"]
        assert events(lab) == [("load", "alpha"), ("load", "beta")]


async def test_a_budget_that_fits_one_model_unloads_it_before_the_switch(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = within_budget(assets, lab, 5999)
    async with run_stem(stem) as h:
        await h.request("a", infer("x", "alpha"))
        await h.request("b", infer("x", "beta"))
        assert lab.log.loaded == ["beta"]
    assert lab.log.most_loaded == 1
    assert events(lab)[:3] == [("load", "alpha"), ("unload", "alpha"), ("load", "beta")]


async def test_a_switch_unloads_least_recently_used_idle_models_until_it_fits(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    assets.sizes = {"alpha": 3000, "beta": 3000, "gamma": 4000}
    stem = within_budget(assets, lab, 7000)
    async with run_stem(stem) as h:
        await h.request("a", infer("x", "alpha"))
        await h.request("b", infer("x", "beta"))
        await h.request("a2", infer("x", "alpha"))  # beta is now the least recently used
        await h.request("c", infer("x", "gamma"))  # 3000 + 4000 fits once beta is gone
        assert sorted(lab.log.loaded) == ["alpha", "gamma"]
        assert events(lab) == [
            ("load", "alpha"),
            ("load", "beta"),
            ("unload", "beta"),
            ("load", "gamma"),
        ]


@pytest.mark.virtual_time
async def test_a_model_larger_than_the_budget_fails_and_the_stem_serves_on(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    assets.sizes = {"gamma": 10_000}
    stem = within_budget(assets, lab, 6000)
    async with run_stem(stem) as h:
        await h.request("a", infer("x", "alpha"))
        for rid, command in (("c", infer("x", "gamma")), ("lc", LoadModel(model="gamma"))):
            with anyio.fail_after(3600):  # virtual seconds: a request that waits forever fails
                report = await h.request(rid, command)
            assert isinstance(report, ErrorReport)
            assert report.error is EngineError
            for part in ("'gamma'", "10000 bytes", "max_memory=6000"):
                assert part in report.message
        assert lab.log.loaded == ["alpha"]  # nothing was unloaded for the hopeless one
        assert finish(await h.request("a2", infer("x", "alpha"))) is FinishReason.STOP
        assert finish(await h.request("b", infer("x", "beta"))) is FinishReason.STOP
        assert sorted(lab.log.loaded) == ["alpha", "beta"]
    assert "gamma" not in [name for _, name in events(lab)]


def _room_for_one(lab: Lab, assets: FakeAssets) -> Orchestrator:
    """max_loaded alone would load alpha and beta together: only the budget keeps them apart."""
    return Orchestrator(
        assets,
        engine_factory=lab.factory(token_delay=1.0),
        fetch_assets=True,
        max_loaded=2,
        max_memory=5000,
    )


@contextlib.asynccontextmanager
async def _beta_waits_for_busy_alpha(
    lab: Lab, assets: FakeAssets, run_stem: Callable[..., Any]
) -> AsyncIterator[Harness]:
    """A brainstem with room for one model: request a runs on alpha, b waits for room."""
    async with run_stem(_room_for_one(lab, assets)) as h:
        await h.send("a", infer(WORDS, "alpha"))
        await h.wait_body("a", Content)
        await h.send("b", infer("x", "beta"))
        await h.wait_body("b", AssetComplete)  # measured: now it waits for room
        assert h.final("a") is None
        yield h


@pytest.mark.virtual_time
async def test_a_busy_model_is_not_unloaded_the_switch_waits_until_it_is_idle(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    async with _beta_waits_for_busy_alpha(lab, assets, run_stem) as h:
        assert lab.log.loaded == ["alpha"]
        assert finish(await h.wait_final("b")) is FinishReason.STOP
        assert finish(h.final("a")) is FinishReason.STOP  # alpha ran to its end first
        words = [b for b in h.bodies("a") if isinstance(b, Content)]
        assert len(words) == 40
        finals = [o.request_id for o in h.outputs if is_final(o.body)]
        assert finals == ["a", "b"]
    assert lab.log.most_loaded == 1
    assert events(lab)[:3] == [("load", "alpha"), ("unload", "alpha"), ("load", "beta")]


async def test_models_without_weights_count_as_nothing(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(), max_loaded=2, max_memory=1)
    async with run_stem(stem) as h:
        await h.request("a", infer("x", "alpha"))
        await h.request("b", infer("x", "beta"))
        assert sorted(lab.log.loaded) == ["alpha", "beta"]


@pytest.mark.virtual_time
async def test_cancel_while_waiting_for_room_ends_the_request(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    async with _beta_waits_for_busy_alpha(lab, assets, run_stem) as h:
        assert await h.request("cb", Cancel(target="b")) == Ack(detail="cancelled 'b'")
        assert finish(await h.wait_final("b")) is FinishReason.CANCELLED
        assert h.final("a") is None
        assert finish(await h.wait_final("a")) is FinishReason.STOP
        loaded = await h.request("lb", LoadModel(model="beta"))
        assert isinstance(loaded, ModelLoaded)
    assert lab.log.most_loaded == 1


def test_max_memory_is_checked(assets: FakeAssets) -> None:
    for bad in (0, -1, 1.5, True, "8GiB"):
        with pytest.raises(ConfigError, match=r"max_memory .*" + repr(bad).replace(".", r"\.")):
            Orchestrator(assets, max_memory=bad)  # type: ignore[arg-type]
    assert Orchestrator(assets, max_memory=1).max_memory == 1
    assert Orchestrator(assets).max_memory is None


@pytest.mark.virtual_time
async def test_open_brainstem_passes_the_budget_on(lab: Lab, assets: FakeAssets) -> None:
    assets.sizes = {"beta": 5000}
    async with open_brainstem(
        assets, engine_factory=lab.factory(), fetch_assets=True, max_memory=4000
    ) as client:
        assert isinstance(await client.call(infer("x", "alpha")), Complete)
        with anyio.fail_after(3600):
            report = await client.call(infer("x", "beta"))
        assert isinstance(report, ErrorReport)
        assert "5000 bytes" in report.message
    with pytest.raises(ConfigError, match="max_memory"):
        async with open_brainstem(assets, max_memory=0):
            pass  # pragma: no cover
    assert lab.log.loaded == []


@pytest.mark.virtual_time
async def test_a_failed_measurement_reports_the_asset_error(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(), fetch_assets=True, max_memory=9000)
    async with run_stem(stem) as h:
        with anyio.fail_after(3600):
            report = await h.request("x", infer("x", "broken"))
        assert isinstance(report, ErrorReport)
        assert issubclass(report.error, AssetError)
        assert finish(await h.request("a", infer("x", "alpha"))) is FinishReason.STOP
