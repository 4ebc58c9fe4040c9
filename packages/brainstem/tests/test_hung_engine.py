"""An engine that ignores its stop signal is abandoned after ``stop_timeout`` (issue 18, 6).

The double yields one token, then waits in a shielded scope, deaf to its stop signal and
to cancellation, as the llama.cpp engine waits for a worker thread stuck in a call. Past
the deadline the brainstem leaves it behind: its request ends with ``EngineError``, a new
instance serves the next request, and shutdown finishes while it still hangs. The test
releases it at the end (so the event loop can finish) and sees it unload itself.
The deadline is a timer: these tests run on trio's ``MockClock``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from rusty_genius_core import (
    Ack,
    BrainstemInput,
    BrainstemOutput,
    Cancel,
    ConfigError,
    Content,
    EngineError,
    ErrorReport,
    FinishReason,
    OutputBody,
    ProcessStart,
    Shutdown,
    is_final,
)
from rusty_genius_stem import BrainstemClient, Orchestrator, open_brainstem
from rusty_genius_testhub.engines import HungFirst
from rusty_genius_testhub.requests import finish, infer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from conftest import FakeAssets, Lab

pytestmark = pytest.mark.virtual_time

STOP_TIMEOUT = 10.0


@contextlib.asynccontextmanager
async def a_hung_request(
    assets: FakeAssets,
) -> AsyncIterator[tuple[BrainstemClient, HungFirst, list[OutputBody]]]:
    """A brainstem whose request ``"stuck"`` hangs in its engine (``HungFirst``'s first).

    Yields the client, the engine factory and the list the request's bodies go to; the
    bodies after the hang arrive by the time the block has ended.
    """
    engines = HungFirst()
    stuck: list[OutputBody] = []

    async def collect() -> None:
        async with client.stream(infer("hangs"), request_id="stuck") as bodies:
            async for body in bodies:
                stuck.append(body)

    async with (
        open_brainstem(assets, engine_factory=engines, stop_timeout=STOP_TIMEOUT) as client,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(collect)
        await engines.hung.hanging.wait()
        yield client, engines, stuck


def assert_abandoned(body: OutputBody | None) -> None:
    assert isinstance(body, ErrorReport), body
    assert body.error is EngineError
    assert "did not stop within 10 s" in body.message
    assert "abandoned" in body.message


def left_behind(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "leaving behind" in r.getMessage()]


async def test_a_hung_engine_is_abandoned_and_a_new_instance_serves_the_next_request(
    assets: FakeAssets, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rusty_genius_stem")
    async with a_hung_request(assets) as (client, engines, stuck):
        assert await client.call(Cancel(target="stuck")) == Ack(detail="cancelled 'stuck'")
        assert finish(await client.call(infer("next"))) is FinishReason.STOP
        assert len(engines.made) == 2  # the next request got a new instance
        assert finish(await client.call(infer("again"))) is FinishReason.STOP
    assert stuck[1:2] == [Content(text="stuck")]  # after ProcessStart
    assert_abandoned(stuck[-1])
    assert len(left_behind(caplog)) == 1
    assert "'alpha'" in left_behind(caplog)[0]
    assert not engines.hung.unloaded.is_set()  # left behind, never waited for
    engines.hung.release.set()
    await engines.hung.unloaded.wait()  # once it ends, its run releases the engine


async def test_shutdown_finishes_while_an_engine_hangs(assets: FakeAssets) -> None:
    async with a_hung_request(assets) as (client, engines, stuck):
        await client.shutdown()  # drain=False: the request is asked to stop, and abandoned
    assert_abandoned(stuck[-1])
    engines.hung.release.set()
    await engines.hung.unloaded.wait()


async def test_leaving_the_brainstem_block_finishes_while_an_engine_hangs(
    assets: FakeAssets,
) -> None:
    engines = HungFirst()
    started = anyio.Event()
    with anyio.CancelScope() as outer:
        async with (
            open_brainstem(assets, engine_factory=engines, stop_timeout=STOP_TIMEOUT) as client,
            client.stream(infer("hangs")) as bodies,
        ):
            async for body in bodies:
                if isinstance(body, Content):
                    started.set()
                    outer.cancel()  # the caller gives up: everything is cancelled
    assert started.is_set()
    assert outer.cancelled_caught
    engines.hung.release.set()
    await engines.hung.unloaded.wait()


async def test_every_request_on_the_abandoned_instance_ends_with_the_error(
    assets: FakeAssets, run_stem: Any
) -> None:
    engines = HungFirst()
    stem = Orchestrator(assets, engine_factory=engines, parallelism=2, stop_timeout=STOP_TIMEOUT)
    async with run_stem(stem) as h:
        await h.send("a", infer("hangs"))
        await engines.hung.hanging.wait()
        await h.send("b", infer("waits for the engine's turn"))
        await h.request("c", Cancel(target="a"))
        assert_abandoned(await h.wait_final("a"))
        assert_abandoned(await h.wait_final("b"))  # it was on the same instance
        assert finish(await h.request("d", infer("new"))) is FinishReason.STOP
    assert [is_final(b) for b in h.bodies("a")].count(True) == 1
    engines.hung.release.set()
    await engines.hung.unloaded.wait()


def test_stop_timeout_must_be_a_positive_number(assets: FakeAssets) -> None:
    for bad in (0, -1.0, float("inf"), float("nan"), True, "10"):
        with pytest.raises(ConfigError, match="stop_timeout must be a positive number"):
            Orchestrator(assets, stop_timeout=bad)  # type: ignore[arg-type]
    assert Orchestrator(assets, stop_timeout=0.5).stop_timeout == 0.5


async def test_time_spent_waiting_for_the_consumer_does_not_count(
    assets: FakeAssets, lab: Lab
) -> None:
    stem = Orchestrator(assets, engine_factory=lab.factory(), stop_timeout=1.0)
    in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](10)
    out_send, out_receive = anyio.create_memory_object_stream[BrainstemOutput](0)
    async with anyio.create_task_group() as tg, in_send, out_receive:
        tg.start_soon(stem.run, in_receive, out_send)
        await in_send.send(BrainstemInput(request_id="a", command=infer("one two three four")))
        assert isinstance((await out_receive.receive()).body, ProcessStart)
        await in_send.send(BrainstemInput(request_id="c", command=Cancel(target="a")))
        await anyio.sleep(10 * STOP_TIMEOUT)  # nobody reads: the engine waits on us, not we on it
        finals: dict[str, OutputBody] = {}
        while len(finals) < 2:
            output = await out_receive.receive()
            if is_final(output.body):
                finals[output.request_id] = output.body
        await in_send.send(BrainstemInput(request_id="s", command=Shutdown(drain=False)))
        async for _ in out_receive:
            pass
    assert finish(finals["a"]) is FinishReason.CANCELLED  # stopped in time once read
    assert len(lab.engines) == 1
