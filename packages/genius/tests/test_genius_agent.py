"""``Genius`` for agents: tools, JSON answers and embeddings, through the brainstem."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import anyio
import jsonschema
import pytest

from rusty_genius import FinishReason, LoadOptions, Tool, ToolCall
from rusty_genius.brainstem import HibernateAfter, KeepAlive
from rusty_genius.engines import EmbedRequest, PinkyEngine, RawEmbeddings
from rusty_genius.errors import (
    ContextLengthError,
    ProtocolError,
    RequestCancelledError,
    UnsupportedError,
)
from rusty_genius.protocol import Embed, ErrorReport, ToolCallDelta

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius import Genius

MODEL = "smollm2-135m-instruct"
LOOKUP = Tool(
    name="lookup",
    description="Look a word up",
    parameters={
        "type": "object",
        "properties": {"word": {"type": "string", "maxLength": 5}},
        "required": ["word"],
    },
)


async def test_chat_with_tools_returns_the_call_and_takes_its_result(
    make_genius: Callable[..., Genius],
) -> None:
    async with make_genius() as genius:
        asked = [{"role": "user", "content": "serendipity"}]
        answer = await genius.chat(MODEL, asked, tools=[LOOKUP], tool_choice="lookup")
        assert answer.finish_reason is FinishReason.TOOL_CALLS
        (call,) = answer.tool_calls
        assert (call.name, call.parsed_arguments()) == ("lookup", {"word": "seren"})
        streamed = [
            e
            async for e in genius.infer(MODEL, asked, tools=[LOOKUP])
            if isinstance(e, ToolCallDelta)
        ]
        assert streamed[0].name == "lookup"
        history = [
            *asked,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "content": "luck", "tool_call_id": call.id, "name": "lookup"},
        ]
        after = await genius.chat(MODEL, history, tools=[LOOKUP])
        assert after.content == "luck"
        assert after.tool_calls == ()


async def test_json_answers_and_bad_arguments(make_genius: Callable[..., Genius]) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 3}, "s": {"enum": ["x", "y"]}},
        "required": ["n", "s"],
    }
    async with make_genius() as genius:
        answer = await genius.complete(MODEL, "numbers", response_format=schema)
        jsonschema.validate(answer.json(), schema)
        assert answer.json() == {"n": 3, "s": "x"}
        assert (await genius.complete(MODEL, "hi", response_format="json")).json() == {"echo": "hi"}
        with pytest.raises(ProtocolError, match="not JSON"):
            (await genius.complete(MODEL, "plain")).json()
        with pytest.raises(ProtocolError, match="not among the tools"):
            genius.infer(MODEL, "x", tools=[LOOKUP], tool_choice="other")
        with pytest.raises(ProtocolError, match=r"tools\[0\] has unknown key"):
            genius.infer(MODEL, "x", tools=[{"name": "f", "colour": "red"}])
        with pytest.raises(UnsupportedError, match="Pinky cannot build a value"):
            await genius.complete(
                MODEL, "x", response_format={"type": "string", "pattern": "^[0-9]+$"}
            )


async def test_embed_loads_like_a_chat_and_keeps_alive_like_one(
    make_genius: Callable[..., Genius],
) -> None:
    async with make_genius(strategy=HibernateAfter(60)) as genius:
        result = await genius.embed(MODEL, ["one fish", "two fish"])
        assert result.model == MODEL
        assert result.token_counts == (2, 2)
        assert all(math.isclose(math.fsum(x * x for x in v), 1.0) for v in result.vectors)
        [status] = await genius.ps()
        assert status.loaded
        assert status.expires_at is not None
        assert 0 < status.expires_at - time.time() <= 60
        assert (await genius.embed(MODEL, "one fish")).vectors[0] == result.vectors[0]
    async with make_genius(strategy=KeepAlive()) as genius:
        await genius.embed(MODEL, "fish", keep_alive=0)  # this request unloads it
        assert await genius.ps() == ()
        await genius.load(MODEL, LoadOptions(context_size=16))
        with pytest.raises(ContextLengthError, match="holds 16"):
            await genius.embed(MODEL, " ".join(["fish"] * 40))
        cut = await genius.embed(MODEL, " ".join(["fish"] * 40), truncate=True, dimensions=8)
        assert (cut.token_counts, cut.dimensions) == ((16,), 8)
        with pytest.raises(ProtocolError, match="must be str"):
            await genius.embed(MODEL, ["fish", 3])  # type: ignore[list-item]


def test_tool_call_values_round_trip_through_messages() -> None:
    call = ToolCall(id="c", name="lookup", arguments='{"word": "x"}')
    assert call.parsed_arguments() == {"word": "x"}


class _SlowEmbedder(PinkyEngine):
    """Pinky whose embeddings never come: only a Cancel ends them."""

    started: anyio.Event | None = None

    async def _embed(self, model: str, request: EmbedRequest) -> RawEmbeddings:
        assert _SlowEmbedder.started is not None
        _SlowEmbedder.started.set()
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover


async def test_an_embed_can_be_cancelled_like_any_request(
    make_genius: Callable[..., Genius],
) -> None:
    _SlowEmbedder.started = anyio.Event()
    async with make_genius(engine_factory=_SlowEmbedder) as genius:
        outcome: list[object] = []

        async def embed() -> None:
            outcome.append(
                await genius.client.call(Embed(model=MODEL, inputs=("x",)), request_id="e1")
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(embed)
            await _SlowEmbedder.started.wait()
            await genius.cancel("e1")
        assert await genius.ps() != ()  # the model stays loaded for the next request
    (report,) = outcome
    assert isinstance(report, ErrorReport)
    assert report.error is RequestCancelledError
