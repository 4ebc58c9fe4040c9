"""The facade over Pinky and a paced engine: answers, concurrency, cancellation, errors."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import pytest

from rusty_genius import (
    Answer,
    AssetComplete,
    AssetError,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    BusyError,
    ChatMessage,
    Complete,
    ConfigError,
    Content,
    EngineError,
    FinishReason,
    Genius,
    GeniusError,
    InferenceConfig,
    ManifestError,
    ModelNotFoundError,
    ProcessStart,
    ProtocolError,
    Role,
    Thought,
    ThoughtDelta,
)
from rusty_genius.brainstem import HibernateAfter, KeepAlive
from rusty_genius.engines import PINKY_THOUGHT
from rusty_genius.errors import RepoNotFoundError
from rusty_genius_testhub import TEST_MODELS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius import RequestEvent
    from rusty_genius_testhub import HubRepo, LoopbackHub

MODEL = "smollm2-135m-instruct"
NARF = PINKY_THOUGHT.split("\n")[1]
SMOLLM2 = TEST_MODELS["smollm2"]
SMOLLM2_REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"


async def test_complete_and_chat_return_whole_answers(make_genius: Callable[..., Genius]) -> None:
    async with make_genius() as genius:
        answer = await genius.complete(MODEL, "The quick brown fox")
        chat = await genius.chat(
            MODEL,
            [
                {"role": "system", "content": "Be brief."},
                ChatMessage(role=Role.USER, content="first question"),
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": "What about the second?"},
            ],
            InferenceConfig.greedy(max_tokens=64),
        )
    assert isinstance(answer, Answer)
    assert (answer.content, answer.thought, answer.model) == ("The quick brown fox", NARF, MODEL)
    assert answer.finish_reason is FinishReason.STOP
    assert answer.usage.completion_tokens > 4
    assert answer.cold  # the first request loaded the model
    assert str(answer) == answer.content
    assert chat.content == "What about the second?"  # Pinky echoes the last user message
    assert chat.thought == NARF
    assert not chat.cold
    assert chat.usage.prompt_tokens > answer.usage.prompt_tokens


async def test_infer_streams_one_requests_events_in_order(
    make_genius: Callable[..., Genius],
) -> None:
    async with make_genius() as genius:
        stream = genius.infer(MODEL, "one two three", config=InferenceConfig(show_thinking=False))
        events = [event async for event in stream]
    assert isinstance(events[0], ProcessStart)
    assert isinstance(events[-1], Complete)
    assert not any(isinstance(e, Thought) for e in events)
    assert "".join(e.text for e in events if isinstance(e, Content)) == "one two three"
    assert stream.request_id
    assert stream.command.prompt == "one two three"


async def test_many_tasks_at_once_each_get_their_own_answer(
    make_genius: Callable[..., Genius],
) -> None:
    answers: dict[int, list[RequestEvent]] = {}

    async def ask(genius: Genius, i: int) -> None:
        prompt = f"task {i} says {'hello ' * (i % 5)}bye"
        async with genius.infer(MODEL, prompt) as stream:
            answers[i] = [event async for event in stream]

    async with make_genius(parallelism=4) as genius, anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(ask, genius, i)
    assert sorted(answers) == list(range(40))
    for i, events in answers.items():
        text = "".join(e.text for e in events if isinstance(e, Content))
        assert text == f"task {i} says {'hello ' * (i % 5)}bye"
        assert sum(isinstance(e, ProcessStart) for e in events) == 1
        assert [type(e) for e in events].count(Complete) == 1
        assert isinstance(events[-1], Complete)
        thought = [
            e.event.text
            for e in events
            if isinstance(e, Thought) and isinstance(e.event, ThoughtDelta)
        ]
        assert thought == [NARF]


async def test_cancel_through_the_stream_ends_it_with_a_cancelled_complete(
    make_genius: Callable[..., Genius], pacer
) -> None:
    async with make_genius(engine_factory=pacer.factory()) as genius:
        async with genius.infer(MODEL, "a b c d e f g h") as stream:
            assert isinstance(await stream.__anext__(), ProcessStart)
            await pacer.grant()
            assert await stream.__anext__() == Content(text="a ")
            ack = await stream.cancel()
            assert "cancelled" in ack
            await pacer.grant()  # the engine's next token sees the stop signal
            rest = [event async for event in stream]
        assert [type(e) for e in rest] == [Complete]
        assert isinstance(rest[0], Complete)
        assert rest[0].usage.finish_reason is FinishReason.CANCELLED
        assert pacer.finished == [FinishReason.CANCELLED]
        # the engine is free again
        await pacer.grant(2)
        assert (await genius.complete(MODEL, "x y")).content == "x y "


async def test_cancel_by_request_id_stops_a_collected_answer(
    make_genius: Callable[..., Genius], pacer
) -> None:
    async with make_genius(engine_factory=pacer.factory()) as genius:
        stream = genius.infer(MODEL, "one two three four")
        result: list[Answer] = []

        async def collect() -> None:
            result.append(await stream.answer())

        async with anyio.create_task_group() as tg:
            tg.start_soon(collect)
            await pacer.wait(lambda: pacer.started == 1)
            await pacer.grant()
            assert "cancelled" in await genius.cancel(stream.request_id)
            await pacer.grant()
        [answer] = result
        assert answer.finish_reason is FinishReason.CANCELLED
        assert answer.content in ("", "one ")
        assert "no request" in await genius.cancel(stream.request_id)


async def test_closing_the_iterator_cancels_the_brainstem_request(
    make_genius: Callable[..., Genius], pacer
) -> None:
    async with make_genius(engine_factory=pacer.factory()) as genius:
        stream = genius.infer(MODEL, "never ending story of words")
        async for event in stream:
            if isinstance(event, ProcessStart):
                break
        await stream.aclose()
        await genius.list_models()  # handled after the Cancel the close sent
        [stop] = pacer.stops
        assert stop is not None
        assert stop.is_set()
        await pacer.grant()
        await pacer.wait(lambda: pacer.finished == [FinishReason.CANCELLED])


async def test_a_cancelled_task_cancels_its_request(
    make_genius: Callable[..., Genius], pacer
) -> None:
    async with make_genius(engine_factory=pacer.factory()) as genius:
        with anyio.CancelScope() as scope:
            async with genius.infer(MODEL, "words that never come") as stream:
                async for event in stream:
                    if isinstance(event, ProcessStart):
                        scope.cancel()
        assert scope.cancelled_caught
        await genius.list_models()
        [stop] = pacer.stops
        assert stop is not None
        assert stop.is_set()
        await pacer.grant()


async def test_reports_come_back_as_the_exception_they_name(
    make_genius: Callable[..., Genius], pacer
) -> None:
    async with make_genius(fetch_assets=True) as genius:
        with pytest.raises(ModelNotFoundError, match="'no-such-model' is not an alias") as found:
            await genius.complete("no-such-model", "hi")
        assert isinstance(found.value, AssetError)
        assert not found.value.message.startswith("ModelNotFoundError")
        with pytest.raises(ManifestError, match="empty quantization"):
            await genius.chat("org/repo:", [{"role": "user", "content": "hi"}])
    async with make_genius(
        engine_factory=pacer.factory(load_fault=EngineError("bad weights"))
    ) as g:
        with pytest.raises(EngineError, match="bad weights"):
            await g.complete(MODEL, "hi")
    async with make_genius(engine_factory=pacer.factory(load_fault=ConfigError("n_ctx=3"))) as g:
        with pytest.raises(ConfigError, match="n_ctx=3"):
            await g.complete(MODEL, "hi")


async def test_a_full_queue_refuses_with_busy_error(
    make_genius: Callable[..., Genius], pacer
) -> None:
    outcomes: list[str] = []
    refused = anyio.Event()

    async def ask(genius: Genius) -> None:
        try:
            answer = await genius.complete(MODEL, "waiting")
        except BusyError as exc:
            outcomes.append(f"busy: {exc}")
            refused.set()
        else:
            outcomes.append(answer.content)

    async with (
        make_genius(engine_factory=pacer.factory(), max_queue=1) as genius,
        genius.infer(MODEL, "first") as running,
    ):
        assert isinstance(await running.__anext__(), ProcessStart)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, genius)
            tg.start_soon(ask, genius)
            await refused.wait()  # one of them waits in the queue, the other is refused
            await pacer.grant(2)
        assert [type(e) for e in [e async for e in running]] == [Content, Complete]
    assert sorted(outcomes)[1] == "waiting "
    assert "max_queue=1" in sorted(outcomes)[0]


async def test_list_ps_and_unload(make_genius: Callable[..., Genius]) -> None:
    async with make_genius(strategy=HibernateAfter(60)) as genius:
        assert await genius.ps() == ()
        await genius.complete(MODEL, "hello")
        [status] = await genius.ps()
        assert (status.name, status.loaded, status.downloaded) == (MODEL, True, False)
        assert status.expires_at is not None
        assert 0 < status.expires_at - time.time() <= 60
        assert [m.name for m in await genius.list_models()] == [MODEL]
        assert "unloaded" in await genius.unload(MODEL)
        assert await genius.ps() == ()
        assert "was not loaded" in await genius.unload(MODEL)
    async with make_genius(strategy=KeepAlive()) as genius:
        await genius.complete(MODEL, "hello", keep_alive=0)  # this request unloads it
        assert await genius.ps() == ()
        await genius.complete(MODEL, "hello")
        [status] = await genius.ps()
        assert status.expires_at is None


async def test_load_with_its_own_keep_alive(make_genius: Callable[..., Genius]) -> None:
    async with make_genius(strategy=HibernateAfter(60)) as genius:
        await genius.load(MODEL, keep_alive=3600)
        [status] = await genius.ps()
        assert status.expires_at is not None
        assert 3000 < status.expires_at - time.time() <= 3600
        await genius.load(MODEL, keep_alive=-1)
        [status] = await genius.ps()
        assert status.expires_at is None
        await genius.load(MODEL)  # no keep_alive of its own: the strategy's 60 s
        [status] = await genius.ps()
        assert status.expires_at is not None
        assert 0 < status.expires_at - time.time() <= 60


async def test_load_ahead_of_requests(make_genius: Callable[..., Genius]) -> None:
    async with make_genius() as genius:
        loaded = await genius.load(MODEL)
        assert loaded.model == MODEL
        answer = await genius.complete(MODEL, "warm")
        assert not answer.cold


async def test_misuse_is_refused_with_clear_errors(make_genius: Callable[..., Genius]) -> None:
    genius = make_genius()
    with pytest.raises(GeniusError, match="not running"):
        genius.infer(MODEL, "hi")
    with pytest.raises(GeniusError, match="not running"):
        await genius.list_models()
    async with genius:
        with pytest.raises(GeniusError, match="already running"):
            await genius.__aenter__()
        with pytest.raises(ProtocolError, match="sequence of messages"):
            await genius.chat(MODEL, "not a list")  # type: ignore[arg-type]
        # ("name" is a tool message's tool name since tools arrived, so another key)
        with pytest.raises(ProtocolError, match=r"messages\[0\] has unknown key\(s\) colour"):
            genius.infer(MODEL, [{"role": "user", "content": "x", "colour": "red"}])
        with pytest.raises(ProtocolError, match=r"'content'\] must be a string"):
            genius.infer(MODEL, [{"role": "user"}])
        with pytest.raises(ProtocolError, match=r"ChatMessage\.role"):
            genius.infer(MODEL, [{"role": "wizard", "content": "x"}])
    assert not genius.running
    with pytest.raises(ConfigError, match="unknown backend 'gpu'"):
        Genius(backend="gpu")  # type: ignore[arg-type]


async def test_an_error_in_the_block_comes_out_as_itself(
    make_genius: Callable[..., Genius],
) -> None:
    genius = make_genius()

    async def fail_inside() -> None:
        async with genius:
            await genius.complete(MODEL, "hi")
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        await fail_inside()
    assert not genius.running
    async with genius:  # it can be used again
        assert (await genius.complete(MODEL, "again")).content == "again"


async def test_pull_streams_asset_events_then_serves_from_the_registry(
    make_genius: Callable[..., Genius], hub: LoopbackHub, smollm2_repo: HubRepo, tmp_path: Path
) -> None:
    async with make_genius(endpoint=hub.url) as genius:
        async with genius.pull(SMOLLM2_REF) as events:
            first = [event async for event in events]
        again = [event async for event in genius.pull(SMOLLM2_REF)]
        [row] = await genius.list_models()
        local = await genius.ensure_model("smollm2-135m-instruct")
        assert await genius.remove_model(SMOLLM2_REF)
        assert not await genius.remove_model(SMOLLM2_REF)
    assert isinstance(first[0], AssetStarted)
    assert first[0].total == SMOLLM2.size
    progress = [e for e in first if isinstance(e, AssetProgress)]
    assert progress
    assert progress[-1].done == SMOLLM2.size
    assert [e.done for e in progress] == sorted(e.done for e in progress)
    assert isinstance(first[-1], AssetComplete)
    assert not first[-1].cached
    assert [type(e) for e in again] == [AssetComplete]
    assert isinstance(again[0], AssetComplete)
    assert again[0].cached
    assert (row.name, row.downloaded, row.size) == (SMOLLM2_REF, True, SMOLLM2.size)
    assert local.cached
    assert local.path == tmp_path / "cache" / SMOLLM2.repo / SMOLLM2.filename
    assert not local.path.exists()
    assert hub.bytes_served(SMOLLM2.filename) == SMOLLM2.size


async def test_a_failed_pull_streams_asset_failed_then_raises(
    make_genius: Callable[..., Genius], hub: LoopbackHub
) -> None:
    seen: list[RequestEvent] = []
    async with make_genius(endpoint=hub.url) as genius:

        async def pull() -> None:
            async for event in genius.pull("nobody/nothing-GGUF:Q4_K_M"):
                seen.append(event)

        with pytest.raises(RepoNotFoundError, match="nobody/nothing-GGUF"):
            await pull()
    assert [type(e) for e in seen] == [AssetFailed]


async def test_closing_a_pull_early_stops_the_download_and_keeps_the_partial(
    make_genius: Callable[..., Genius], hub: LoopbackHub, smollm2_repo: HubRepo, tmp_path: Path
) -> None:
    stall = hub.stall(SMOLLM2.filename, 3_000_000)
    partial = tmp_path / "cache" / SMOLLM2.repo / f"{SMOLLM2.filename}.partial"
    async with make_genius(endpoint=hub.url) as genius:
        async with genius.pull(SMOLLM2_REF) as events:
            async for event in events:
                if isinstance(event, AssetProgress):
                    await stall.wait_reached()  # 3 MB sent, the rest held back
                    break
        hub.clear_faults()  # too late: the download stopped when the stream closed
        assert partial.exists()
        kept = partial.stat().st_size
        assert 0 < kept <= 3_000_000
        hub.reset_stats()
        async with genius.pull(SMOLLM2_REF) as events:
            done = [event async for event in events]
    assert isinstance(done[-1], AssetComplete)
    assert hub.ranges_seen(SMOLLM2.filename) == [f"bytes={kept}-"]
    assert hub.bytes_served(SMOLLM2.filename) == SMOLLM2.size - kept


async def test_max_memory_goes_to_the_brainstem(
    make_genius: Callable[..., Genius], hub: LoopbackHub, smollm2_repo: HubRepo
) -> None:
    budget = SMOLLM2.size - 1  # one byte short of the weights
    async with make_genius(endpoint=hub.url, fetch_assets=True, max_memory=budget) as genius:
        with pytest.raises(EngineError, match=rf"{SMOLLM2.size} bytes.*max_memory={budget} "):
            await genius.complete(SMOLLM2_REF, "too big")
    with pytest.raises(ConfigError, match="max_memory must be a positive number of bytes"):
        async with make_genius(max_memory=0):
            pass  # pragma: no cover
