"""The brainstem actor over the Pinky engine.

Tests that rely on timers (``token_delay``, ``load_delay``, sleeps) are marked
``virtual_time`` and run on trio's ``MockClock(autojump_threshold=0)`` alone; every other
test runs on asyncio and trio.

Pinky echoes the prompt after a "Narf!" thought, one word per token, sleeping
``token_delay`` (virtual) seconds per token, so requests overlap as real ones do
without any real waiting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest

from rusty_genius_core import (
    Ack,
    AssetComplete,
    AssetError,
    AssetProgress,
    AssetStarted,
    BrainstemInput,
    BrainstemOutput,
    BusyError,
    Cancel,
    Complete,
    ConfigError,
    Content,
    EngineError,
    ErrorReport,
    FinishReason,
    GeniusError,
    InferenceConfig,
    InferenceEvent,
    ListModels,
    LoadModel,
    LoadOptions,
    ModelList,
    ModelLoaded,
    ProcessStart,
    ProtocolError,
    RequestCancelledError,
    Shutdown,
    Thought,
    Unload,
    Usage,
    is_final,
)
from rusty_genius_stem import KeepAlive, Orchestrator
from rusty_genius_testhub.requests import WORDS, finish, infer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from conftest import FakeAssets, Lab


async def reference(prompt: str) -> list[InferenceEvent]:
    """What Pinky alone streams for ``prompt`` between ProcessStart and Complete."""
    from rusty_genius_cortex import PinkyEngine

    engine = PinkyEngine()
    await engine.load("alpha", None, LoadOptions())
    events = [e async for e in engine.infer(prompt=prompt, config=InferenceConfig.greedy())]
    await engine.unload()
    assert isinstance(events[0], ProcessStart)
    assert isinstance(events[-1], Complete)
    return events[1:-1]


def contents(bodies: list[object]) -> str:
    return "".join(b.text for b in bodies if isinstance(b, Content))


# -- concurrency and ordering -------------------------------------------------------------


@pytest.mark.virtual_time
async def test_hundred_concurrent_requests_each_get_their_own_ordered_events(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(token_delay=0.01))
    prompts = {f"r{i:03d}": f"request {i} says hello number {i * 7}" for i in range(100)}
    expected = {rid: await reference(p) for rid, p in prompts.items()}
    async with run_stem(stem) as h:
        async with anyio.create_task_group() as tg:
            for rid, prompt in prompts.items():
                tg.start_soon(h.send, rid, infer(prompt))
        for rid in prompts:
            await h.wait_final(rid)
    submitted = [rid for rid in h.sent if rid in prompts]
    finals = [o.request_id for o in h.outputs if is_final(o.body) and o.request_id in prompts]
    assert finals == submitted  # FIFO: one engine, served in arrival order
    for rid in prompts:
        bodies = h.bodies(rid)
        assert bodies[0] == ProcessStart(model="alpha", cold=rid == submitted[0])
        assert bodies[1:-1] == expected[rid]  # exactly its own events, in order
        assert finish(bodies[-1]) is FinishReason.STOP
    assert lab.log.created == 1
    assert len(lab.log.times("load")) == 1


@pytest.mark.virtual_time
async def test_parallelism_above_one_keeps_streams_apart(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(token_delay=0.5), parallelism=4)
    prompts = {f"p{i}": f"parallel {i} " + "x " * i for i in range(12)}
    async with run_stem(stem) as h:
        for rid, prompt in prompts.items():
            await h.send(rid, infer(prompt))
        for rid, prompt in prompts.items():
            await h.wait_final(rid)
            assert h.bodies(rid)[1:-1] == await reference(prompt)


@pytest.fixture
def run_paced(lab: Lab, assets: FakeAssets, run_stem) -> Callable[..., Any]:
    """``async with run_paced(**config) as h``: run a brainstem with ``config`` over the lab's
    Pinky engines, each token taking one virtual second."""
    return lambda **config: run_stem(
        Orchestrator(assets, engine_factory=lab.factory(token_delay=1.0), **config)
    )


# -- cancellation -------------------------------------------------------------------------


@pytest.mark.virtual_time
async def test_cancel_a_queued_request(run_paced) -> None:
    async with run_paced() as h:
        await h.send("a", infer(WORDS))
        await h.send("b", infer("queued and cancelled"))
        await h.send("c", infer("queued and served"))
        await h.wait_body("a", Content)
        assert await h.request("cancel-b", Cancel(target="b")) == Ack(detail="cancelled 'b'")
        assert finish(await h.wait_final("b")) is FinishReason.CANCELLED
        assert len(h.bodies("b")) == 1  # it never started: no ProcessStart, no tokens
        assert h.final("a") is None  # the running one is untouched
        assert finish(await h.wait_final("a")) is FinishReason.STOP
        assert finish(await h.wait_final("c")) is FinishReason.STOP
        assert h.bodies("a")[1:-1] == await reference(WORDS)


@pytest.mark.virtual_time
async def test_cancel_a_running_request(run_paced) -> None:
    async with run_paced() as h:
        await h.send("a", infer(WORDS))
        await h.send("b", infer("after the cancel"))
        await h.wait(lambda: contents(h.bodies("a")).count("w") >= 3)
        assert await h.request("stop-a", Cancel(target="a")) == Ack(detail="cancelled 'a'")
        final = await h.wait_final("a")
        assert finish(final) is FinishReason.CANCELLED
        assert isinstance(final, Complete)
        assert 3 <= final.usage.completion_tokens < len(await reference(WORDS))
        assert "w39" not in contents(h.bodies("a"))
        assert finish(await h.wait_final("b")) is FinishReason.STOP
        assert contents(h.bodies("b")) == contents(await reference("after the cancel"))


async def test_cancel_of_unknown_or_finished_request_is_acknowledged(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    async with run_stem(Orchestrator(assets, engine_factory=lab.factory())) as h:
        await h.request("a", infer("quick"))
        assert await h.request("c1", Cancel(target="a")) == Ack(detail="no request 'a' in flight")
        assert await h.request("c2", Cancel(target="nobody")) == Ack(
            detail="no request 'nobody' in flight"
        )


@pytest.mark.virtual_time
async def test_cancel_a_slow_load_model(lab: Lab, assets: FakeAssets, run_stem) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(load_delay=100.0))
    async with run_stem(stem) as h:
        await h.send("load", LoadModel(model="alpha"))
        await anyio.sleep(10)  # virtual: the load is under way
        await h.request("cancel", Cancel(target="load"))
        report = await h.wait_final("load")
        assert report == ErrorReport(
            error=RequestCancelledError, message="request 'load' was cancelled"
        )
        assert lab.log.loaded == []
        t0 = anyio.current_time()
        first = await h.request("after", infer("works"))
        assert finish(first) is FinishReason.STOP
        start = h.bodies("after")[0]
        assert start == ProcessStart(model="alpha", cold=True)
        assert isinstance(first, Complete)
        assert first.usage.load_duration == pytest.approx(100.0)
        assert anyio.current_time() - t0 == pytest.approx(100.0)


async def test_cancel_during_a_download(lab: Lab, assets: FakeAssets, run_stem) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(), fetch_assets=True, max_loaded=2)
    async with run_stem(stem) as h:
        await h.send("load", LoadModel(model="stalled"))
        await h.send("other", infer("unaffected", model="alpha"))
        await h.wait_body("load", AssetStarted)
        assert assets.stalls_open == 1
        await h.request("cancel", Cancel(target="load"))
        assert await h.wait_final("load") == ErrorReport(
            error=RequestCancelledError, message="request 'load' was cancelled"
        )
        assert assets.stalls_open == 0  # the download task was really stopped
        assert finish(await h.wait_final("other")) is FinishReason.STOP
        assert "stalled" not in lab.log.loaded


# -- faults -------------------------------------------------------------------------------


@pytest.mark.virtual_time
@pytest.mark.parametrize(
    ("fault", "kind", "prefix"),
    [
        (None, EngineError, "injected fault"),
        (RuntimeError("kaboom"), EngineError, "RuntimeError: kaboom"),
    ],
)
async def test_engine_fault_mid_stream_fails_only_that_request(
    lab: Lab,
    assets: FakeAssets,
    run_stem,
    fault: Exception | None,
    kind: type[GeniusError],
    prefix: str,
) -> None:
    # The factory's engines are deliberate fault injectors: the first request breaks
    # after three events; later ones run normally.
    factory = lab.factory(token_delay=1.0, fault_after=3, fault=fault)
    async with run_stem(Orchestrator(assets, engine_factory=factory)) as h:
        await h.send("broken", infer(WORDS))
        await h.send("next", infer("still serving"))
        report = await h.wait_final("broken")
        assert isinstance(report, ErrorReport)
        assert report.error is kind
        assert report.message.startswith(prefix)
        partial = h.bodies("broken")
        assert isinstance(partial[0], ProcessStart)
        assert partial[1:-1] == (await reference(WORDS))[:2]  # what came before the fault
        assert finish(await h.wait_final("next")) is FinishReason.STOP
        assert contents(h.bodies("next")) == contents(await reference("still serving"))


async def test_engine_factory_failure_is_reported_and_retried(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    pinky = lab.factory()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise ConfigError("no engine today (injected)")
        return pinky()

    async with run_stem(Orchestrator(assets, engine_factory=flaky)) as h:
        assert await h.request("a", infer("one")) == ErrorReport(
            error=ConfigError, message="no engine today (injected)"
        )
        assert finish(await h.request("b", infer("two"))) is FinishReason.STOP


@pytest.mark.virtual_time
async def test_asset_error_fails_only_that_request(lab: Lab, run_paced) -> None:
    async with run_paced(fetch_assets=True) as h:
        await h.send("good", infer("fine", model="alpha"))
        await h.send("bad", infer("never", model="broken"))
        await h.send("good2", infer("fine again", model="alpha"))
        report = await h.wait_final("bad")
        assert isinstance(report, ErrorReport)
        assert issubclass(report.error, AssetError)
        assert "checksum mismatch for 'broken'" in report.message
        assert h.bodies("bad")[:-1] == [
            AssetStarted(reference="broken", filename="broken.gguf", total=100)
        ]
        for rid in ("good", "good2"):
            assert finish(await h.wait_final(rid)) is FinishReason.STOP
        assert "broken" not in [n for _, w, n in lab.log.events if w == "load"]


async def test_unknown_model_with_weights_is_an_asset_error(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(), fetch_assets=True)
    async with run_stem(stem) as h:
        report = await h.request("x", infer("hi", model="org/unknown"))
        assert report == ErrorReport(
            error=AssetError, message="model 'org/unknown' is not in the registry"
        )


# -- assets -------------------------------------------------------------------------------


async def test_pinky_needs_no_download_by_default(lab: Lab, assets: FakeAssets, run_stem) -> None:
    async with run_stem(Orchestrator(assets, engine_factory=lab.factory())) as h:
        assert finish(await h.request("a", infer("hi", model="alpha"))) is FinishReason.STOP
        assert finish(await h.request("b", infer("hi", model="never-heard-of-it"))) is (
            FinishReason.STOP
        )
    assert assets.calls == [("resolve-offline", "alpha"), ("resolve-offline", "never-heard-of-it")]
    assert not assets.downloaded
    assert h.bodies("b")[0] == ProcessStart(model="never-heard-of-it", cold=True)


@pytest.mark.virtual_time
async def test_load_model_forwards_asset_events_then_loads(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    factory = lab.factory(load_delay=2.0)
    stem = Orchestrator(assets, engine_factory=factory, fetch_assets=True)
    async with run_stem(stem) as h:
        loaded = await h.request("load", LoadModel(model="alpha"))
        assert isinstance(loaded, ModelLoaded)
        assert loaded.model == "alpha"
        assert loaded.load_duration == pytest.approx(2.0)
        spec = assets.known["alpha"]
        assert h.bodies("load")[:-1] == [
            AssetStarted(reference="alpha", filename=spec.filename, total=3000),
            AssetProgress(filename=spec.filename, done=1000, total=3000),
            AssetProgress(filename=spec.filename, done=2000, total=3000),
            AssetProgress(filename=spec.filename, done=3000, total=3000),
            AssetComplete(reference="alpha", path=str(assets.downloaded["alpha"]), cached=False),
        ]
        warm = await h.request("warm", infer("now warm"))
        assert h.bodies("warm")[0] == ProcessStart(model="alpha", cold=False)
        assert isinstance(warm, Complete)
        assert warm.usage.load_duration == 0.0
        again = await h.request("again", LoadModel(model="alpha"))
        assert again == ModelLoaded(model="alpha", load_duration=0.0)
    assert lab.log.times("load") == [pytest.approx(2.0)]  # loaded once, by the LoadModel


# -- model switches -----------------------------------------------------------------------


@pytest.mark.virtual_time
async def test_model_switch_unloads_the_old_engine_first(lab: Lab, run_paced) -> None:
    async with run_paced() as h:
        await h.send("a1", infer("first alpha", model="alpha"))
        await h.send("b1", infer("then beta", model="beta"))
        await h.send("a2", infer("alpha again", model="alpha"))  # must not overtake b1
        for rid in ("a1", "b1", "a2"):
            assert finish(await h.wait_final(rid)) is FinishReason.STOP
        finals = [o.request_id for o in h.outputs if is_final(o.body)]
        assert finals == ["a1", "b1", "a2"]
    assert lab.log.most_loaded == 1
    assert [(w, n) for _, w, n in lab.log.events] == [
        ("load", "alpha"),
        ("unload", "alpha"),
        ("load", "beta"),
        ("unload", "beta"),
        ("load", "alpha"),
        ("unload", "alpha"),
    ]


async def test_max_loaded_two_keeps_both_and_evicts_least_recently_used(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(), max_loaded=2)
    async with run_stem(stem) as h:
        await h.request("a", infer("x", model="alpha"))
        await h.request("b", infer("x", model="beta"))
        await h.request("a2", infer("x", model="alpha"))
        assert h.bodies("a2")[0] == ProcessStart(model="alpha", cold=False)
        await h.request("c", infer("x", model="gamma"))  # beta is the least recently used
        assert sorted(lab.log.loaded) == ["alpha", "gamma"]
        assert lab.log.most_loaded == 2
        events = [(w, n) for _, w, n in lab.log.events]
        assert events == [
            ("load", "alpha"),
            ("load", "beta"),
            ("unload", "beta"),
            ("load", "gamma"),
        ]


async def test_other_load_options_reload_the_model(lab: Lab, assets: FakeAssets, run_stem) -> None:
    async with run_stem(Orchestrator(assets, engine_factory=lab.factory())) as h:
        small, large = LoadOptions(context_size=512), LoadOptions(context_size=4096)
        await h.request("l1", LoadModel(model="alpha", options=small))
        await h.request("l2", LoadModel(model="alpha", options=small))
        await h.request("l3", LoadModel(model="alpha", options=large))
        await h.request("i", infer("uses the large one"))
        assert [(w, n) for _, w, n in lab.log.events] == [
            ("load", "alpha"),
            ("unload", "alpha"),
            ("load", "alpha"),
        ]
        assert lab.engines[-1].inner.is_loaded
        assert h.bodies("i")[0] == ProcessStart(model="alpha", cold=False)


# -- unload, list, shutdown ---------------------------------------------------------------


@pytest.mark.virtual_time
async def test_unload_waits_for_the_running_request(lab: Lab, run_paced) -> None:
    async with run_paced(strategy=KeepAlive()) as h:
        await h.send("a", infer("running while unloading"))
        await h.wait_body("a", Content)
        assert await h.request("u", Unload(model="alpha")) == Ack(detail="unloaded 'alpha'")
        assert finish(h.final("a")) is FinishReason.STOP  # it finished before the Ack
        assert lab.log.loaded == []
        assert await h.request("u2", Unload(model="alpha")) == Ack(detail="'alpha' was not loaded")
        await h.request("b", infer("reloads"))
        assert h.bodies("b")[0] == ProcessStart(model="alpha", cold=True)


@pytest.mark.virtual_time
async def test_list_models_shows_registry_loaded_state_and_expiry(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    base = 1_700_000_000.0
    stem = Orchestrator(
        assets,
        engine_factory=lab.factory(),
        max_loaded=2,
        fetch_assets=True,
        wall_clock=lambda: base + anyio.current_time(),
    )
    async with run_stem(stem) as h:
        await h.request("fetch-beta", LoadModel(model="beta"))
        await h.request("unload-beta", Unload(model="beta"))
        await h.request("a", infer("x", model="alpha"))
        done = anyio.current_time()
        await anyio.sleep(100)
        listing = await h.request("ls", ListModels())
        assert isinstance(listing, ModelList)
        rows = {m.name: m for m in listing.models}
        alpha, beta = assets.known["alpha"], assets.known["beta"]
        assert set(rows) == {alpha.reference, beta.reference}
        assert rows[alpha.reference].loaded
        assert rows[alpha.reference].downloaded
        assert rows[alpha.reference].path == str(assets.downloaded["alpha"])
        assert rows[alpha.reference].size == 3000
        assert rows[alpha.reference].expires_at == pytest.approx(base + done + 300)
        assert not rows[beta.reference].loaded
        assert rows[beta.reference].expires_at is None


async def test_list_models_reports_a_registry_failure(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    assets.registry_error = AssetError("registry.toml line 3: expected '=' (injected)")
    async with run_stem(Orchestrator(assets, engine_factory=lab.factory())) as h:
        assert await h.request("ls", ListModels()) == ErrorReport(
            error=AssetError, message="registry.toml line 3: expected '=' (injected)"
        )
        assert finish(await h.request("a", infer("still serving"))) is FinishReason.STOP


async def test_list_models_shows_loaded_models_outside_the_registry(
    lab: Lab, assets: FakeAssets, run_stem
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(), strategy=KeepAlive())
    async with run_stem(stem) as h:
        await h.request("a", infer("x", model="pinky-brain"))
        listing = await h.request("ls", ListModels())
        assert isinstance(listing, ModelList)
        (row,) = listing.models
        assert (row.name, row.loaded, row.downloaded, row.expires_at) == (
            "pinky-brain",
            True,
            False,
            None,
        )


@pytest.mark.virtual_time
async def test_shutdown_cancels_everything_in_flight(lab: Lab, run_paced) -> None:
    async with run_paced() as h:
        for rid in ("a", "b", "c"):
            await h.send(rid, infer(WORDS))
        await h.wait_body("a", Content)
        await h.send("bye", Shutdown(drain=False))
        await h.wait(lambda: h.ended)
    for rid in ("a", "b", "c"):
        assert finish(h.final(rid)) is FinishReason.CANCELLED
    assert h.outputs[-1] == BrainstemOutput(request_id="bye", body=Ack(detail="brainstem stopped"))
    assert lab.log.loaded == []


@pytest.mark.virtual_time
async def test_shutdown_drain_finishes_in_flight_and_refuses_new_work(run_paced) -> None:
    async with run_paced() as h:
        await h.send("a", infer("first one"))
        await h.send("b", infer("second one"))
        await h.send("bye", Shutdown(drain=True))
        late = await h.request("late", infer("too late"))
        assert isinstance(late, ErrorReport)
        assert late.error is BusyError
        assert "shutting down" in late.message
        await h.wait(lambda: h.ended)
    assert [finish(h.final(r)) for r in ("a", "b")] == [FinishReason.STOP, FinishReason.STOP]
    assert h.outputs[-1].request_id == "bye"
    assert isinstance(h.outputs[-1].body, Ack)


@pytest.mark.virtual_time
async def test_end_of_input_drains_and_returns(run_paced) -> None:
    async with run_paced() as h:
        await h.send("a", infer("finish me"))
        await h.input.aclose()
        await h.wait(lambda: h.ended)
    assert finish(h.final("a")) is FinishReason.STOP


@pytest.mark.virtual_time
async def test_consumer_gone_stops_the_loop_and_unloads(lab: Lab, assets: FakeAssets) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(token_delay=1.0))
    in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](10)
    out_send, out_receive = anyio.create_memory_object_stream[BrainstemOutput](0)
    async with anyio.create_task_group() as tg, in_send:
        tg.start_soon(stem.run, in_receive, out_send)
        await in_send.send(BrainstemInput(request_id="a", command=infer(WORDS)))
        await out_receive.receive()
        await out_receive.aclose()  # the client went away mid-stream
    assert lab.log.loaded == []
    assert lab.log.times("unload")


# -- limits and protocol errors -----------------------------------------------------------


@pytest.mark.virtual_time
async def test_full_queue_answers_busy(run_paced) -> None:
    async with run_paced(max_queue=2) as h:
        await h.send("run", infer("running"))
        await h.wait_body("run", ProcessStart)
        await h.send("q1", infer("waits"))
        await h.send("q2", infer("waits too"))
        busy = await h.request("q3", infer("one too many"))
        assert isinstance(busy, ErrorReport)
        assert busy.error is BusyError
        assert "max_queue=2" in busy.message
        assert h.final("run") is None
        for rid in ("run", "q1", "q2"):
            assert finish(await h.wait_final(rid)) is FinishReason.STOP
        assert finish(await h.request("q4", infer("room again"))) is FinishReason.STOP


@pytest.mark.virtual_time
async def test_duplicate_request_id_is_refused(run_paced) -> None:
    async with run_paced() as h:
        h.strict = False  # "dup" legitimately gets two final bodies: one per submission
        await h.send("dup", infer("the original"))
        await h.wait_body("dup", ProcessStart)
        await h.send("dup", ListModels())
        await h.wait(lambda: any(isinstance(b, ErrorReport) for b in h.bodies("dup")))
        await h.wait(lambda: any(isinstance(b, Complete) for b in h.bodies("dup")))
        bodies = h.bodies("dup")
        refusal = next(b for b in bodies if isinstance(b, ErrorReport))
        assert refusal.error is ProtocolError
        assert "'dup' is already in flight" in refusal.message
        original = [b for b in bodies if b is not refusal]
        assert original[1:-1] == await reference("the original")
        assert finish(original[-1]) is FinishReason.STOP
        assert finish(await h.request("reuse", infer("ids free up after the final"))) is (
            FinishReason.STOP
        )
        again = await h.request("dup-2", infer("x"))
        assert isinstance(again, Complete)


async def test_slow_consumer_applies_backpressure(lab: Lab, assets: FakeAssets) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory())
    in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](10)
    out_send, out_receive = anyio.create_memory_object_stream[BrainstemOutput](0)
    received: list[BrainstemOutput] = []
    async with anyio.create_task_group() as tg, in_send, out_receive:
        tg.start_soon(stem.run, in_receive, out_send)
        await in_send.send(BrainstemInput(request_id="a", command=infer(WORDS)))
        received.append(await out_receive.receive())
        await anyio.wait_all_tasks_blocked()
        engine = lab.engines[0]
        assert engine.produced <= 2  # Pinky waits for us instead of running ahead
        while not is_final(received[-1].body):
            received.append(await out_receive.receive())
            assert engine.produced <= len(received) + 1
        await in_send.send(BrainstemInput(request_id="bye", command=Shutdown()))
        assert (await out_receive.receive()).body == Ack(detail="brainstem stopped")
    assert [o.body for o in received[1:-1]] == await reference(WORDS)
    assert any(isinstance(o.body, Thought) for o in received)


def test_configuration_is_checked(assets: FakeAssets) -> None:
    for bad in ({"parallelism": 0}, {"max_queue": 0}, {"max_loaded": 0}, {"strategy": "never"}):
        with pytest.raises(ConfigError):
            Orchestrator(assets, **bad)  # type: ignore[arg-type]


# -- the event hot path -----------------------------------------------------------------------


class _GreedyEngine:
    """Pinky's load and unload, with an ``infer`` that never yields to the loop on its own."""

    def __init__(self, count: int) -> None:
        from rusty_genius_cortex import PinkyEngine

        self.inner = PinkyEngine()
        self.count = count
        self.backend = "greedy"
        self.needs_weights = False

    @property
    def is_loaded(self) -> bool:
        return self.inner.is_loaded

    @property
    def model_name(self) -> str | None:
        return self.inner.model_name

    async def load(self, *args: Any) -> float:
        return await self.inner.load(*args)

    async def unload(self) -> None:
        await self.inner.unload()

    def infer(self, **_: object) -> AsyncIterator[InferenceEvent]:
        return self._burst()

    async def _burst(self) -> AsyncIterator[InferenceEvent]:
        yield ProcessStart(model=self.model_name or "")
        for i in range(self.count):
            yield Content(text=f" w{i}")
        yield Complete(usage=Usage(completion_tokens=self.count))


async def test_an_engine_that_never_yields_still_lets_the_loop_run(assets: FakeAssets) -> None:
    # The orchestrator skips anyio's per-send yield while the buffer has room, and makes up
    # for it every few sends: a task beside it sees the outputs arrive in small steps, in
    # order, none lost, and an outside cancellation would get in just as often.
    count = 400
    stem = Orchestrator(assets, engine_factory=lambda: _GreedyEngine(count))
    in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](10)
    out_send, out_receive = anyio.create_memory_object_stream[BrainstemOutput](count + 10)
    steps: list[int] = []
    async with anyio.create_task_group() as tg, in_send, out_receive:
        tg.start_soon(stem.run, in_receive, out_send)
        await in_send.send(BrainstemInput(request_id="a", command=infer("x")))
        seen = 0
        while seen < count + 2 and len(steps) < 10_000:
            await anyio.lowlevel.checkpoint()
            now = out_receive.statistics().current_buffer_used
            steps.append(now - seen)
            seen = now
        bodies = [out_receive.receive_nowait().body for _ in range(seen)]
        await in_send.send(BrainstemInput(request_id="bye", command=Shutdown()))
    assert max(steps) <= 32, steps
    assert bodies[1:-1] == [Content(text=f" w{i}") for i in range(count)]
    assert isinstance(bodies[-1], Complete)
