"""Test parts for genius: a paced engine the test drives token by token, a Genius factory
on ``tmp_path``, and the ``genius`` command line run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import asynccontextmanager, closing, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from rusty_genius import (
    Complete,
    Content,
    FinishReason,
    Genius,
    InferenceEvent,
    LoadOptions,
    Usage,
)
from rusty_genius_cortex import EngineBase, EngineRequest
from rusty_genius_testhub import TEST_MODELS, add_smollm2_repo
from rusty_genius_testhub.pytest_plugin import hub, hub_thread, smollm2_gguf, smollm2_repo

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
    from pathlib import Path

    from rusty_genius.assets import ModelSpec
    from rusty_genius.engines import StopSignal
    from rusty_genius_cortex import UsageMeter
    from rusty_genius_testhub import LoopbackHub

__all__ = [
    "hub",
    "hub_thread",
    "smollm2_gguf",
    "smollm2_repo",
]

SMOLLM2 = TEST_MODELS["smollm2"]
SMOLLM2_REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
CLOSED_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, connect is refused
_Job = TypeVar("_Job")


# -- a paced engine -----------------------------------------------------------------------


class Gate:
    """Tokens granted one permit at a time (from a test's thread, through a portal)."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[None](1000)

    async def grant(self, n: int = 1) -> None:
        for _ in range(n):
            await self._send.send(None)

    async def permit(self) -> None:
        await self._receive.receive()

    def close(self) -> None:
        self._send.close()
        self._receive.close()


class Pacer(Gate):
    """Grants tokens to :class:`PacedEngine` s one permit at a time and records their ends."""

    def __init__(self) -> None:
        super().__init__()
        self.stops: list[StopSignal | None] = []
        self.finished: list[FinishReason] = []
        self.started = 0
        self._changed = anyio.Event()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def begin(self, stop: StopSignal | None) -> None:
        self.stops.append(stop)
        self.started += 1
        self._touch()

    def end(self, reason: FinishReason) -> None:
        self.finished.append(reason)
        self._touch()

    async def wait(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await self._changed.wait()

    def factory(self, *, load_fault: Exception | None = None) -> Callable[[], PacedEngine]:
        """An engine factory for ``Genius(engine_factory=...)``."""
        return lambda: PacedEngine(self, load_fault=load_fault)


class WeightlessEngine(EngineBase[_Job]):
    """A test engine with nothing to load: loading and unloading only do the bookkeeping."""

    _needs_weights = False

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        pass

    async def _unload_model(self) -> None:
        pass


class PacedEngine(WeightlessEngine[str]):
    """Echoes the prompt word by word; each word waits for a permit from the :class:`Pacer`,
    then checks the stop signal, as real engines check it between tokens.

    Requests do not wait for each other's turn (``serialize=False``): the pacer decides.
    """

    _backend = "paced"

    def __init__(self, pacer: Pacer, *, load_fault: Exception | None = None) -> None:
        super().__init__(serialize=False)
        self.pacer = pacer
        self.load_fault = load_fault

    def _check_load(self, name: str, path: Path | None) -> None:
        if self.load_fault is not None:
            raise self.load_fault

    async def _prepare(self, model: str, request: EngineRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        return request.messages[-1].content if request.messages else ""

    async def _generate(
        self, text: str, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        reason = FinishReason.STOP
        produced = 0
        self.pacer.begin(stop)
        try:
            for word in text.split():
                await self.pacer.permit()
                if stop is not None and stop.is_set():
                    reason = FinishReason.CANCELLED
                    break
                produced += 1
                yield Content(text=f"{word} ")
            yield Complete(usage=Usage(completion_tokens=produced, finish_reason=reason))
        finally:
            self.pacer.end(reason)


@pytest.fixture
def pacer() -> Iterator[Pacer]:
    with closing(Pacer()) as made:
        yield made


@pytest.fixture
def make_genius(tmp_path: Path) -> Callable[..., Genius]:
    """A Genius on ``tmp_path`` whose hub is unreachable, unless told otherwise."""

    def make(**options: Any) -> Genius:
        options.setdefault("home", tmp_path / "home")
        options.setdefault("cache", tmp_path / "cache")
        options.setdefault("endpoint", CLOSED_ENDPOINT)
        options.setdefault("backend", "pinky")
        return Genius(**options)

    return make


# -- the command line ---------------------------------------------------------------------


class Cli:
    """Runs ``python -m rusty_genius`` with its own home, cache and hub."""

    def __init__(self, tmp_path: Path, endpoint: str) -> None:
        self.home = tmp_path / "home"
        self.cache = tmp_path / "cache"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("HF_", "GENIUS_", "NO_COLOR"))
        }
        self.env.update(
            GENIUS_HOME=str(self.home),
            GENIUS_CACHE=str(self.cache),
            HF_ENDPOINT=endpoint,
            HF_TOKEN="",
            GENIUS_HOST=CLOSED_ENDPOINT,  # no server: a `genius serve` on this machine is not ours
            PYTHONUNBUFFERED="1",
            PYTHONUTF8="1",
        )

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "rusty_genius", *args]

    def environment(self, **changes: str) -> dict[str, str]:
        return {**self.env, **changes}

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=self.environment(**env),
            timeout=timeout,
            check=False,
        )

    def model_path(self) -> Path:
        return self.cache / SMOLLM2.repo / SMOLLM2.filename

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """``genius ARGS`` started in a process: no stdin, stdout and stderr piped as text."""
        return subprocess.Popen(
            self.command(*args),
            env=self.environment(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @contextmanager
    def json_server(self, *args: str, **env: str) -> Iterator[str]:
        """``genius serve --json --port 0 ARGS`` in a process until the block ends; yields
        the URL its first line names, and checks that SIGINT ends it with status 0."""
        with self.popen("serve", "--json", "--port", "0", *args, **env) as server:
            assert server.stdout is not None
            assert server.stderr is not None
            first = server.stdout.readline()  # the server says where it listens, or ends
            try:
                assert first, server.stderr.read()
                serving_at = json.loads(first)
                assert serving_at["type"] == "serving"
                yield str(serving_at["url"])
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()
                    raise
        assert server.returncode == 0

    @asynccontextmanager
    async def serving(self, *args: str, startup: float, **env: str) -> AsyncIterator[Served]:
        """``genius serve ARGS`` in a process, from its first line on stderr to its exit.

        The block gets the URL the first line names; leaving it sends SIGINT and reads
        stderr to the end (within 60 s), after which :attr:`Served.returncode` is set.
        """
        command = self.command("serve", *args)
        async with await anyio.open_process(
            command,
            env=self.environment(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        ) as process:
            assert process.stderr is not None
            lines = TextReceiveStream(process.stderr)
            served = Served()
            with anyio.fail_after(startup):
                async for text in lines:
                    served.log += text
                    if "\n" in served.log:
                        break
            served.url = served.log.splitlines()[0].split()[3]
            yield served
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(60):
                async for text in lines:
                    served.log += text
                served.returncode = await process.wait()


class Served:
    """A ``genius serve`` process seen from :meth:`Cli.serving`."""

    def __init__(self) -> None:
        self.url = ""
        self.log = ""
        """Its stderr so far; all of it once the block has ended."""
        self.returncode: int | None = None


def json_rows(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The lines of a successful ``--json`` command, parsed."""
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture
def smollm2_hub(hub_thread: LoopbackHub, smollm2_gguf: Path) -> LoopbackHub:
    """A loopback hub on its own thread serving the real SmolLM2 GGUF."""
    add_smollm2_repo(hub_thread, smollm2_gguf)
    return hub_thread


@pytest.fixture
def cli(tmp_path: Path, smollm2_hub: LoopbackHub) -> Cli:
    return Cli(tmp_path, smollm2_hub.url)


@pytest.fixture
def offline_cli(tmp_path: Path) -> Cli:
    """The command line with a hub that refuses connections."""
    return Cli(tmp_path, CLOSED_ENDPOINT)


@pytest.fixture(params=["asyncio", "trio"])
def async_backend(request: pytest.FixtureRequest) -> str:
    """``GENIUS_ASYNC_BACKEND`` for a subprocess test that runs on both event loops."""
    return str(request.param)


def strict_schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``response_format`` asking for JSON valid for ``schema``, strictly."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def run_agent(url: str, model: str, build: Callable[[Any], Any], prompt: str) -> Any:
    """Run the pydantic-ai agent ``build(chat model)`` on ``prompt`` against the server at
    ``url``, serving ``model``, in a loop of its own, in this thread.

    The OpenAI client is ours and closed, and ``asyncio.run`` closes its loop: pydantic-ai's
    ``run_sync`` would leave both open, and their sockets warn later, in another test.
    """
    import asyncio

    import openai
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    async def run() -> Any:
        async with openai.AsyncOpenAI(
            base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=600
        ) as client:
            chat = OpenAIChatModel(model, provider=OpenAIProvider(openai_client=client))
            return await build(chat).run(prompt)

    return asyncio.run(run())
