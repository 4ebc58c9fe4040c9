"""Pinky's script for agents: tool calls, JSON for a schema, embeddings, context limits."""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema
import pytest

from rusty_genius_core import (
    ChatMessage,
    Complete,
    Content,
    ContextLengthError,
    FinishReason,
    InferenceConfig,
    LoadOptions,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolCallCollector,
    ToolCallDelta,
    ToolChoice,
    UnsupportedError,
)
from rusty_genius_cortex import (
    PINKY_THOUGHT,
    EngineBase,
    EngineRequest,
    PinkyEngine,
    finish_vectors,
    pinky_tokens,
)
from rusty_genius_cortex._schema_instance import schema_instance

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 9}}},
    {
        "type": "object",
        "properties": {"x": {"type": "number", "exclusiveMinimum": 2.5, "multipleOf": 0.5}},
        "required": ["x"],
    },
    {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "string", "minLength": 3, "maxLength": 4},
                "minItems": 2,
                "maxItems": 3,
            }
        },
        "required": ["items"],
    },
    {
        "type": "object",
        "properties": {"level": {"enum": ["low", "high"]}, "ok": {"type": "boolean"}},
        "required": ["level", "ok"],
        "additionalProperties": False,
    },
    {
        "$defs": {
            "Point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
        },
        "type": "object",
        "properties": {
            "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}, "minItems": 1}
        },
        "required": ["points"],
    },
    {
        "type": "object",
        "properties": {"v": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]}},
        "required": ["v"],
    },
    {
        "type": "object",
        "properties": {"when": {"type": "string", "format": "date"}},
        "required": ["when"],
    },
    {"type": "object", "properties": {"k": {"const": "fixed"}}, "required": ["k"]},
    {
        "type": "object",
        "properties": {"n": {"type": "integer", "exclusiveMaximum": -3}},
        "required": ["n"],
    },
    {
        "type": "object",
        "minProperties": 2,
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:50])
def test_schema_instance_is_valid(schema: dict[str, Any]) -> None:
    value = schema_instance(schema, "some words here")
    jsonschema.validate(value, schema)


def test_schema_instance_refuses_what_it_cannot_satisfy() -> None:
    with pytest.raises(UnsupportedError, match="does not match"):
        schema_instance({"type": "string", "pattern": "^[0-9]+$"}, "words")
    with pytest.raises(UnsupportedError, match="invalid"):
        schema_instance({"type": "object", "minProperties": -1})


WEATHER = Tool(
    name="get_weather",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city", "days"],
    },
)
CLOCK = Tool(name="get_time", parameters={"type": "object", "properties": {}})


async def _events(engine: PinkyEngine, **request: Any) -> list[Any]:
    request.setdefault("config", InferenceConfig())
    return [e async for e in engine.infer(**request)]


async def test_pinky_streams_one_call_as_openai_does() -> None:
    engine = PinkyEngine()
    await engine.load("m", None, LoadOptions())
    events = await _events(
        engine, messages=[ChatMessage(role="user", content="Oslo")], tools=[WEATHER, CLOCK]
    )
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].id is not None
    assert (deltas[0].name, deltas[0].arguments) == ("get_weather", "")
    assert all(d.id is None and d.name is None for d in deltas[1:])
    collector = ToolCallCollector()
    collector.extend(deltas)
    (call,) = collector.calls()
    assert call.parsed_arguments() == {"city": "Oslo", "days": 1}
    assert not [e for e in events if isinstance(e, Content)]
    complete = events[-1]
    assert isinstance(complete, Complete)
    assert complete.usage.finish_reason is FinishReason.TOOL_CALLS
    thought = len(pinky_tokens(PINKY_THOUGHT))  # the thought's tokens count too
    assert complete.usage.completion_tokens == len(deltas) - 1 + thought


async def test_pinky_answers_a_tool_result_in_words_unless_a_call_is_required() -> None:
    engine = PinkyEngine()
    await engine.load("m", None, LoadOptions())
    call = ToolCall(id="c1", name="get_time")
    history = [
        ChatMessage(role="user", content="time?"),
        ChatMessage(role="assistant", content="", tool_calls=[call]),
        ChatMessage(role="tool", content="12:00", tool_call_id="c1"),
    ]
    events = await _events(engine, messages=history, tools=[WEATHER, CLOCK])
    assert "".join(e.text for e in events if isinstance(e, Content)) == "12:00"
    forced = await _events(
        engine, messages=history, tools=[WEATHER, CLOCK], tool_choice=ToolChoice.named("get_time")
    )
    names = [e.name for e in forced if isinstance(e, ToolCallDelta) and e.name]
    assert names == ["get_time"]
    none = await _events(
        engine, messages=history[:1], tools=[WEATHER], tool_choice=ToolChoice(mode="none")
    )
    assert not [e for e in none if isinstance(e, ToolCallDelta)]


async def test_pinky_writes_json_for_the_schema_and_max_tokens_cuts_it() -> None:
    engine = PinkyEngine()
    await engine.load("m", None, LoadOptions())
    schema = SCHEMAS[2]
    events = await _events(engine, prompt="abc", response_format=ResponseFormat.json(schema))
    text = "".join(e.text for e in events if isinstance(e, Content))
    jsonschema.validate(json.loads(text), schema)
    cut = await _events(
        engine,
        prompt="abc",
        response_format=ResponseFormat.json(schema),
        config=InferenceConfig(max_tokens=6),
    )
    assert cut[-1].usage.finish_reason is FinishReason.LENGTH


async def test_pinky_embeds_deterministically_and_knows_its_context() -> None:
    engine = PinkyEngine()
    await engine.load("m", None, LoadOptions(context_size=16))
    result = await engine.embed(["red apple", "apple red", "a tax form"], dimensions=32)
    a, b, c = result.vectors
    assert a == b
    assert len(a) == 32
    assert math.isclose(math.fsum(x * x for x in a), 1.0)
    assert math.fsum(x * y for x, y in zip(a, c, strict=True)) < 0.9
    assert result.token_counts == (2, 2, 3)
    assert (await engine.embed(["red apple"])).vectors[0] != a  # 64 components, renormalised
    long = " ".join(["word"] * 20)
    with pytest.raises(ContextLengthError, match="input 0 is 20 tokens"):
        await engine.embed([long])
    assert (await engine.embed([long], truncate=True)).token_counts == (16,)
    with pytest.raises(ContextLengthError, match="the prompt is 20 tokens"):
        await _events(engine, prompt=long)


def test_vectors_are_normalised_and_cut() -> None:
    assert finish_vectors([(3.0, 4.0)], None) == ((0.6, 0.8),)
    assert finish_vectors([(3.0, 4.0, 12.0)], 1) == ((1.0,),)
    assert finish_vectors([(0.0, 0.0)], None) == ((0.0, 0.0),)


async def test_an_engine_without_the_features_refuses_them() -> None:
    class Plain(PinkyEngine):
        _supports_tools = False
        _supports_json = False

    engine = Plain()
    await engine.load("m", None, LoadOptions())
    with pytest.raises(UnsupportedError, match="cannot call tools"):
        await _events(engine, prompt="x", tools=[WEATHER])
    with pytest.raises(UnsupportedError, match="cannot constrain the answer to JSON"):
        await _events(engine, prompt="x", response_format=ResponseFormat.json())
    assert await _events(engine, prompt="x", tools=[WEATHER], tool_choice=ToolChoice(mode="none"))

    class Mute(EngineBase[EngineRequest]):
        _backend = "mute"

        async def _load_model(self, *args: object) -> None: ...
        async def _unload_model(self) -> None: ...
        async def _prepare(self, model: str, request: EngineRequest) -> EngineRequest:
            return request

        def _generate(self, *args: object) -> Any:
            raise AssertionError

    with pytest.raises(UnsupportedError, match="the mute engine cannot make embeddings"):
        await Mute().embed(["x"])
