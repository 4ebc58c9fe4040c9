"""Test parts for brainstem: an engine recorder and fault injector, fake asset sources,
a harness that runs the actor and checks its invariants.

Timer tests are marked ``virtual_time`` (the root conftest runs them on trio's
``MockClock`` alone); every other test runs on asyncio and trio."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from facecrab import AssetAuthority
from rusty_genius_core import (
    AssetComplete,
    AssetError,
    AssetEvent,
    AssetProgress,
    AssetStarted,
    BrainstemInput,
    BrainstemOutput,
    ChatMessage,
    Command,
    EngineError,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
    OutputBody,
    Shutdown,
    is_final,
)
from rusty_genius_cortex import PinkyEngine
from rusty_genius_testhub.pytest_plugin import hub

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence

    from rusty_genius_cortex import Engine, StopSignal
    from rusty_genius_stem import Orchestrator
    from rusty_genius_testhub import LoopbackHub

__all__ = ["hub"]  # the loopback hub fixture, re-exported for test_hub.py

# -- engines ------------------------------------------------------------------------------


@attrs.define
class EngineLog:
    """What every engine made by a :class:`Lab` factory did, in order, with loop times."""

    events: list[tuple[float, str, str]] = attrs.Factory(list)
    loaded: list[str] = attrs.Factory(list)
    most_loaded: int = 0
    created: int = 0

    def times(self, what: str, name: str | None = None) -> list[float]:
        return [t for t, w, n in self.events if w == what and (name is None or n == name)]


class RecordingEngine(PinkyEngine):
    """Pinky that records its loads and unloads; optionally a deliberate fault injector.

    ``fault_after`` makes ``infer`` raise ``fault`` after that many events of the
    ``fault_requests`` first requests (the fault injector of the fault-isolation tests).
    """

    def __init__(
        self,
        log: EngineLog,
        *,
        load_delay: float = 0.0,
        token_delay: float = 0.0,
        fault_after: int | None = None,
        fault: Exception | None = None,
        fault_requests: int = 1,
        load_fault: Exception | None = None,
    ) -> None:
        super().__init__(load_delay=load_delay, token_delay=token_delay)
        self.log = log
        self.fault_after = fault_after
        self.fault = fault or EngineError("injected fault: the engine broke mid-stream")
        self.fault_requests = fault_requests
        self.load_fault = load_fault
        self.requests = 0
        self.produced = 0  # events Pinky yielded so far
        self.stops: list[StopSignal | None] = []  # the stop signal of every request
        log.created += 1

    @property
    def inner(self) -> PinkyEngine:
        """The engine doing the work (this one: it was a wrapper around Pinky once)."""
        return self

    async def load(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None = None
    ) -> float:
        if self.load_fault is not None:
            raise self.load_fault
        seconds = await super().load(name, path, options, spec)
        self.log.events.append((anyio.current_time(), "load", name))
        self.log.loaded.append(name)
        self.log.most_loaded = max(self.log.most_loaded, len(self.log.loaded))
        return seconds

    async def unload(self) -> None:
        name = self.model_name
        await super().unload()
        if name is not None:
            self.log.events.append((anyio.current_time(), "unload", name))
            self.log.loaded.remove(name)

    async def _stream(
        self,
        prompt: str | None,
        messages: Sequence[ChatMessage] | None,
        config: InferenceConfig,
        stop: StopSignal | None,
        **agent: Any,
    ) -> AsyncGenerator[InferenceEvent, None]:
        """Pinky's stream for one request (what ``infer`` returns), recorded and faulted.

        ``agent``: the tools, tool choice and response format, passed on as they came."""
        events = super()._stream(prompt, messages, config, stop, **agent)
        self.requests += 1
        self.stops.append(stop)
        faulty = self.fault_after is not None and self.requests <= self.fault_requests
        count = 0
        async with contextlib.aclosing(events):
            async for event in events:
                if faulty and count == self.fault_after:
                    raise self.fault
                count += 1
                self.produced += 1
                yield event


@attrs.define
class Lab:
    """Makes engine factories over Pinky and keeps the :class:`EngineLog`."""

    log: EngineLog = attrs.Factory(EngineLog)
    engines: list[RecordingEngine] = attrs.Factory(list)

    def factory(
        self, *, load_delay: float = 0.0, token_delay: float = 0.0, **faults: Any
    ) -> Callable[[], Engine]:
        def make() -> Engine:
            engine = RecordingEngine(
                self.log, load_delay=load_delay, token_delay=token_delay, **faults
            )
            self.engines.append(engine)
            return engine

        return make


@pytest.fixture
def lab() -> Lab:
    return Lab()


# -- assets -------------------------------------------------------------------------------


async def _no_wait(_seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


@pytest.fixture
def make_authority(hub: LoopbackHub, tmp_path: Path) -> Callable[..., AssetAuthority]:
    """A real :class:`AssetAuthority` on ``tmp_path`` against the loopback hub, isolated from
    the process environment and with no waits between retries."""

    def make(**options: Any) -> AssetAuthority:
        return AssetAuthority(
            home=tmp_path / "home",
            cache=tmp_path / "cache",
            endpoint=hub.url,
            token=False,
            environ={},
            sleep=_no_wait,
            **options,
        )

    return make


@attrs.frozen
class FakeLocalModel:
    spec: ModelSpec
    path: Path
    cached: bool = False


@attrs.frozen
class FakeEntry:
    reference: str
    repo: str
    filename: str
    quantization: str
    size: int | None
    path: Path | None


def spec_for(name: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        repo=f"test-org/{name}-GGUF",
        filename=f"{name}-Q4_K_M.gguf",
        quantization="Q4_K_M",
        size=3000,
    )


class FakeAssets:
    """An in-memory asset source: ``known`` models resolve and "download" in 3 progress steps;
    names in ``broken`` fail with :class:`AssetError` after one progress event. A download
    writes a weights file of ``sizes[name]`` bytes (3000 by default)."""

    def __init__(self, root: Path, known: Sequence[str] = (), broken: Sequence[str] = ()) -> None:
        self.root = root
        self.known = {name: spec_for(name) for name in known}
        self.broken = set(broken)
        self.stalled = {"stalled"}
        self.stalls_open = 0
        self.registry_error: Exception | None = None
        self.downloaded: dict[str, Path] = {}
        self.calls: list[tuple[str, str]] = []
        self.sizes: dict[str, int] = {}

    async def ensure_model(
        self, reference: str, /, *, progress: Callable[[AssetEvent], Any] | None = None
    ) -> FakeLocalModel:
        self.calls.append(("ensure_model", reference))
        emit = progress or _ignore
        if reference in self.broken:
            await emit(AssetStarted(reference=reference, filename="broken.gguf", total=100))
            raise AssetError(f"checksum mismatch for {reference!r} (injected)")
        if reference in self.stalled:
            await emit(AssetStarted(reference=reference, filename="stalled.gguf", total=100))
            self.stalls_open += 1
            try:
                await anyio.sleep_forever()  # a download that never progresses
            finally:
                self.stalls_open -= 1
        spec = self.known.get(reference)
        if spec is None:
            raise AssetError(f"model {reference!r} is not in the registry")
        path = self.root / spec.filename
        cached = reference in self.downloaded
        if not cached:
            await emit(AssetStarted(reference=reference, filename=spec.filename, total=3000))
            for done in (1000, 2000, 3000):
                await emit(AssetProgress(filename=spec.filename, done=done, total=3000))
            path.write_bytes(b"GGUF" + bytes(self.sizes.get(reference, 3000) - 4))
            self.downloaded[reference] = path
        await emit(AssetComplete(reference=reference, path=str(path), cached=cached))
        return FakeLocalModel(spec=spec, path=path, cached=cached)

    async def resolve(self, reference: str, /, *, network: bool = True) -> ModelSpec:
        self.calls.append(("resolve" if network else "resolve-offline", reference))
        spec = self.known.get(reference)
        if spec is None or reference in self.broken:
            raise AssetError(f"model {reference!r} is not in the registry")
        return spec

    async def list_models(self) -> list[FakeEntry]:
        self.calls.append(("list_models", ""))
        if self.registry_error is not None:
            raise self.registry_error
        return [
            FakeEntry(
                reference=self.known[name].reference,
                repo=self.known[name].repo,
                filename=self.known[name].filename,
                quantization=self.known[name].quantization,
                size=self.known[name].size,
                path=path,
            )
            for name, path in self.downloaded.items()
        ]


async def _ignore(_event: AssetEvent) -> None:
    return None


@pytest.fixture
def assets(tmp_path: Path) -> FakeAssets:
    return FakeAssets(tmp_path, known=("alpha", "beta", "gamma"), broken=("broken",))


# -- the harness --------------------------------------------------------------------------


class Harness:
    """Runs one orchestrator; records every output; waits on conditions without sleeping."""

    def __init__(self, send: Any) -> None:
        self.input = send
        self.outputs: list[BrainstemOutput] = []
        self.sent: list[str] = []
        self.ended = False
        self.strict = True  # check one final body per request on exit
        self._changed = anyio.Event()

    async def send(self, request_id: str, command: Command) -> None:
        await self.input.send(BrainstemInput(request_id=request_id, command=command))
        self.sent.append(request_id)  # after: the buffer is large, so this is arrival order

    def bodies(self, request_id: str) -> list[OutputBody]:
        return [o.body for o in self.outputs if o.request_id == request_id]

    def final(self, request_id: str) -> OutputBody | None:
        found = [b for b in self.bodies(request_id) if is_final(b)]
        return found[-1] if found else None

    async def wait(self, condition: Callable[[], object]) -> None:
        while not condition():
            if self.ended:
                raise AssertionError("the brainstem stopped before the condition held")
            await self._changed.wait()

    async def wait_final(self, request_id: str) -> OutputBody:
        await self.wait(lambda: self.final(request_id) is not None)
        body = self.final(request_id)
        assert body is not None
        return body

    async def wait_body(self, request_id: str, kind: type | tuple[type, ...]) -> OutputBody:
        await self.wait(lambda: any(isinstance(b, kind) for b in self.bodies(request_id)))
        return next(b for b in self.bodies(request_id) if isinstance(b, kind))

    async def request(self, request_id: str, command: Command) -> OutputBody:
        await self.send(request_id, command)
        return await self.wait_final(request_id)

    async def collect(self, receive: Any) -> None:
        try:
            async for output in receive:
                self.outputs.append(output)
                self._changed.set()
                self._changed = anyio.Event()
        finally:
            self.ended = True
            self._changed.set()

    def check_invariants(self) -> None:
        """Exactly one final body per request, and nothing after it."""
        finals: dict[str, int] = {}
        for output in self.outputs:
            assert output.request_id not in finals, f"{output} came after the final body"
            if is_final(output.body):
                finals[output.request_id] = 1
        missing = [rid for rid in self.sent if rid not in finals]
        assert not missing, f"requests without a final body: {missing}"


@pytest.fixture
def run_stem(lab: Lab) -> Callable[..., contextlib.AbstractAsyncContextManager[Harness]]:
    """``async with run_stem(orchestrator) as h``: run it, and on exit shut it down and check
    that every request got exactly one final body and no engine is left loaded."""

    @contextlib.asynccontextmanager
    async def run(orchestrator: Orchestrator, *, buffer: int = 1000) -> AsyncIterator[Harness]:
        in_send, in_receive = anyio.create_memory_object_stream[BrainstemInput](buffer)
        out_send, out_receive = anyio.create_memory_object_stream[BrainstemOutput](buffer)
        harness = Harness(in_send)
        async with anyio.create_task_group() as tg, in_send, out_receive:
            tg.start_soon(orchestrator.run, in_receive, out_send)
            tg.start_soon(harness.collect, out_receive)
            yield harness
            if not harness.ended:
                await harness.send("harness-shutdown", Shutdown(drain=False))
                await harness.wait(lambda: harness.ended)
        if harness.strict:
            harness.check_invariants()
        assert lab.log.loaded == [], f"engines left loaded: {lab.log.loaded}"

    return run
