"""Per-model state exists only for models that exist, or is bounded (issue 18, defect 2).

Each request for an unknown model once left its name behind for good (the options of a
load-only request), so distinct names grew the process without end. Here 200 requests
with distinct 1 MB names that fail must leave at most 1 MB behind (``tracemalloc``
counts what is still allocated), and the session's per-model tables end up empty.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import TYPE_CHECKING, Any

import pytest

from rusty_genius_core import (
    AssetError,
    ErrorReport,
    LoadModel,
    LoadOptions,
    ModelLoaded,
    ModelSpec,
    Unload,
)
from rusty_genius_cortex import PinkyEngine
from rusty_genius_stem import _orchestrator as orchestrator_module
from rusty_genius_stem import open_brainstem
from rusty_genius_stem._orchestrator import REMEMBERED_OPTIONS, _Session
from rusty_genius_testhub.requests import infer

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius_core import AssetEvent, Command

NAME_BYTES = 1 << 20
REQUESTS = 200
ONE_NAME = NAME_BYTES + 1024  # "no more than 1 MB of them": the last one may still be in a frame


class NoModels:
    """An asset source that knows no model, and keeps nothing of what it was asked."""

    async def ensure_model(
        self, reference: str, /, *, progress: Callable[[AssetEvent], Any] | None = None
    ) -> Any:
        raise AssetError("model is not in the registry")

    async def resolve(self, reference: str, /, *, network: bool = True) -> ModelSpec:
        raise AssetError("model is not in the registry")

    async def list_models(self) -> list[Any]:
        return []


class KeptSession(_Session):
    """A session that the test can inspect after the brainstem stopped."""

    made: list[_Session] = []  # noqa: RUF012 - one test at a time, cleared by the fixture

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        KeptSession.made.append(self)


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[_Session]:
    KeptSession.made = []
    monkeypatch.setattr(orchestrator_module, "_Session", KeptSession)
    return KeptSession.made


TABLES = (
    "ids",
    "instances",
    "requests",
    "queue",
    "pending",
    "in_service",
    "closing",
    "last_options",
)


def per_model_tables(session: _Session) -> dict[str, int]:
    scheduler = session._scheduler
    return {
        "ids": len(session._ids),
        "instances": len(session._instances),
        **scheduler.table_sizes(),
        "last_options": len(scheduler.last_options),
    }


def big_name(i: int) -> str:
    return f"{i:04d}-" + "x" * NAME_BYTES


async def retained_after(make: Callable[[int], Command], sessions: list[_Session]) -> int:
    """Bytes still allocated after ``REQUESTS`` commands made by ``make`` all failed."""
    async with open_brainstem(NoModels(), engine_factory=PinkyEngine, fetch_assets=True) as client:
        await client.call(infer("warm-up", model="warm"))  # one-time allocations happen here
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for i in range(REQUESTS):
                body = await client.call(make(i))
                assert isinstance(body, ErrorReport)
                assert body.error is AssetError
                del body
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        assert [per_model_tables(s) for s in sessions] == [dict.fromkeys(TABLES, 0)]
    return names_in(after) - names_in(before)


def names_in(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes of live allocations big enough to hold a name (the names, and texts quoting them)."""
    return sum(trace.size for trace in snapshot.traces if trace.size >= NAME_BYTES)


async def test_unknown_model_names_leave_nothing_behind(sessions: list[_Session]) -> None:
    retained = await retained_after(lambda i: infer("hi", model=big_name(i)), sessions)
    assert retained <= ONE_NAME, f"{retained} bytes retained after {REQUESTS} unknown names"


async def test_load_only_requests_with_options_leave_nothing_behind(
    sessions: list[_Session],
) -> None:
    options = LoadOptions(context_size=512)
    retained = await retained_after(
        lambda i: LoadModel(model=big_name(i), options=options), sessions
    )
    assert retained <= ONE_NAME, f"{retained} bytes retained after {REQUESTS} unknown names"


async def test_remembered_load_options_are_bounded_and_still_used(
    sessions: list[_Session],
) -> None:
    small = LoadOptions(context_size=512)
    loads: list[tuple[str, LoadOptions]] = []

    class Recording(PinkyEngine):
        async def load(
            self, name: str, path: Any, options: LoadOptions, spec: ModelSpec | None = None
        ) -> float:
            loads.append((name, options))
            return await super().load(name, path, options, spec)

    async with open_brainstem(NoModels(), engine_factory=Recording) as client:  # any name loads
        for i in range(REMEMBERED_OPTIONS + 10):
            body = await client.call(LoadModel(model=f"m{i}", options=small))
            assert isinstance(body, ModelLoaded)
            assert body.model == f"m{i}"
        remembered = sessions[0]._scheduler.last_options
        assert len(remembered) == REMEMBERED_OPTIONS
        assert "m0" not in remembered  # the least recently loaded went first
        last = f"m{REMEMBERED_OPTIONS + 9}"
        await client.call(Unload(model=last))
        await client.call(infer("reload", model=last))
        assert loads[-1] == (last, small)  # the remembered options loaded it again
