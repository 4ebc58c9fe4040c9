"""Tools, tool calls, response formats and embeddings: the rules across their fields."""

from __future__ import annotations

import pytest

from rusty_genius_core import (
    ChatMessage,
    Embed,
    Embeddings,
    Infer,
    ProtocolError,
    ResponseFormat,
    ResponseKind,
    Role,
    Tool,
    ToolCall,
    ToolCallCollector,
    ToolCallDelta,
    ToolChoice,
    ToolChoiceMode,
    from_dict,
)

WEATHER = Tool(
    name="get_weather",
    description="The weather in a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


def test_collector_assembles_deltas_by_index() -> None:
    collector = ToolCallCollector()
    assert not collector
    collector.extend(
        [
            ToolCallDelta(index=0, id="call_a", name="get_weather"),
            ToolCallDelta(index=1, id="call_b", name="get_time", arguments=""),
            ToolCallDelta(index=0, arguments='{"city": '),
            ToolCallDelta(index=1, arguments="{}"),
            ToolCallDelta(index=0, arguments='"Paris"}'),
        ]
    )
    assert collector
    a, b = collector.calls()
    assert (a.id, a.name, a.parsed_arguments()) == ("call_a", "get_weather", {"city": "Paris"})
    assert (b.id, b.name, b.parsed_arguments()) == ("call_b", "get_time", {})


def test_collector_refuses_a_call_without_id_or_name() -> None:
    with pytest.raises(ProtocolError, match="call 2 needs an id and a name"):
        ToolCallCollector().add(ToolCallDelta(index=2, arguments="{}"))


def test_collector_refuses_arguments_that_are_not_an_object() -> None:
    collector = ToolCallCollector()
    collector.add(ToolCallDelta(index=0, id="c", name="f", arguments='{"a": '))
    with pytest.raises(ProtocolError, match=r"ToolCall\.arguments must be a JSON object"):
        collector.calls()


def test_tool_choice_named_requires_the_tool() -> None:
    assert ToolChoice.named("get_weather").forces_call
    assert not ToolChoice().forces_call
    with pytest.raises(ProtocolError, match="not among the tools"):
        Infer(model="m", prompt="p", tools=[WEATHER], tool_choice=ToolChoice.named("other"))
    with pytest.raises(ProtocolError, match="needs at least one tool"):
        Infer(model="m", prompt="p", tool_choice=ToolChoice(mode=ToolChoiceMode.REQUIRED))
    with pytest.raises(ProtocolError, match="needs mode 'required'"):
        ToolChoice(mode="auto", function="get_weather")
    with pytest.raises(ProtocolError, match="duplicate names: get_weather"):
        Infer(model="m", prompt="p", tools=[WEATHER, WEATHER])


def test_tool_calls_and_ids_belong_to_their_roles() -> None:
    call = ToolCall(id="c1", name="get_weather", arguments='{"city": "Oslo"}')
    with pytest.raises(ProtocolError, match="belong to an assistant message, not 'user'"):
        ChatMessage(role="user", content="", tool_calls=[call])
    with pytest.raises(ProtocolError, match="belongs to a tool message, not 'assistant'"):
        ChatMessage(role="assistant", content="", tool_call_id="c1")
    ok = ChatMessage(role=Role.TOOL, content="12 C", tool_call_id="c1", name="get_weather")
    assert ok.tool_call_id == "c1"


def test_tool_parameters_must_be_an_object_schema() -> None:
    with pytest.raises(ProtocolError, match="must be an object schema"):
        Tool(name="f", parameters={"type": "string"})
    error = "$.tools[0].parameters: expected an object"
    with pytest.raises(ProtocolError, match=error.replace("$", r"\$").replace("[", r"\[")):
        from_dict({"model": "m", "prompt": "p", "tools": [{"name": "f", "parameters": 3}]}, Infer)


def test_response_format_needs_a_schema_exactly_for_json_schema() -> None:
    assert ResponseFormat().kind is ResponseKind.TEXT
    assert not ResponseFormat().is_json
    assert ResponseFormat.json().effective_schema() == {"type": "object"}
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert ResponseFormat.json(schema).effective_schema() == schema
    with pytest.raises(ProtocolError, match="schema is required with kind 'json_schema'"):
        ResponseFormat(kind="json_schema")
    with pytest.raises(ProtocolError, match="schema is required with kind 'json_schema'"):
        ResponseFormat(kind="json_object", schema={})
    with pytest.raises(ProtocolError, match="'xml' is not one of text, json_object"):
        ResponseFormat(kind="xml")


def test_embed_counts_and_dimensions() -> None:
    assert Embed(model="m", inputs=["a", "b"]).inputs == ("a", "b")
    with pytest.raises(ProtocolError, match=r"Embed\.inputs\[1\] must be str"):
        Embed(model="m", inputs=["a", 3])
    result = Embeddings(model="m", vectors=((0.6, 0.8), (1.0, 0.0)), token_counts=(3, 4))
    assert (result.prompt_tokens, result.dimensions) == (7, 2)
    assert Embeddings(model="m").dimensions == 0
