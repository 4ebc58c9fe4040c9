"""The output plan (native or generic tools, JSON formats) and the call filter, without a model."""

from __future__ import annotations

import json

import pytest

from rusty_genius_core import (
    ChatMessage,
    Complete,
    Content,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolCallCollector,
    ToolCallDelta,
    ToolChoice,
    ToolChoiceMode,
    Usage,
)
from rusty_genius_cortex import EngineRequest
from rusty_genius_cortex._json_grammar import SchemaError
from rusty_genius_cortex._tool_mode import OutputPlan, chat_dicts, plan_output
from rusty_genius_cortex._tool_parse import CallStyle
from rusty_genius_cortex._tool_stream import ToolCallFilter
from rusty_genius_testhub.gbnf import GbnfGrammar

WEATHER = Tool(
    name="get_weather",
    description="Weather for a city",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 20},
            "unit": {"enum": ["c", "f"]},
        },
        "required": ["city"],
    },
)
ADD = Tool(
    name="add",
    description="Add two integers",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "minimum": 0}},
        "required": ["a", "b"],
    },
)


def request(
    *,
    tools: tuple[Tool, ...] = (WEATHER, ADD),
    choice: ToolChoice | None = None,
    fmt: ResponseFormat | None = None,
) -> EngineRequest:
    return EngineRequest.checked(
        None,
        [ChatMessage(role="user", content="hi")],
        InferenceConfig(),
        tools=tools,
        tool_choice=choice,
        response_format=fmt,
    )


def test_auto_on_a_template_with_tools_is_native_and_unconstrained() -> None:
    plan = plan_output(request(), CallStyle.HERMES)
    assert plan.native
    assert plan.grammar is None
    assert plan.style is CallStyle.HERMES
    assert plan.system == ""


@pytest.mark.parametrize(
    "choice", [ToolChoice(mode=ToolChoiceMode.REQUIRED), ToolChoice.named("add")]
)
@pytest.mark.parametrize("native", [CallStyle.HERMES, None])
def test_required_or_named_is_generic_on_any_model(
    choice: ToolChoice, native: CallStyle | None
) -> None:
    plan = plan_output(request(choice=choice), native)
    assert not plan.native
    assert plan.style is CallStyle.GENERIC
    assert plan.grammar is not None
    compiled = GbnfGrammar(
        plan.grammar.text,
    )
    add = '{"name": "add", "arguments": {"a": -3, "b": 4}}'
    weather = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'
    assert compiled.matches(add)
    assert compiled.matches(weather) == (choice.function is None)
    for bad in [
        '{"name": "add", "arguments": {"a": 1, "b": -4}}',  # minimum
        '{"name": "add", "arguments": {"a": 1}}',  # required
        '{"name": "sub", "arguments": {"a": 1, "b": 2}}',  # unknown tool
        '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "k"}}',  # enum
        "Sure, the answer is 7.",  # text is not allowed when a call is required
    ]:
        assert not compiled.matches(bad), bad
    assert "add" in plan.system
    if choice.function:
        assert "must call the tool 'add'" in plan.system


def test_auto_without_template_support_is_a_wrapped_call_or_a_reply() -> None:
    plan = plan_output(request(), None)
    assert plan.grammar is not None
    assert plan.style is CallStyle.GENERIC
    compiled = GbnfGrammar(plan.grammar.text)
    assert compiled.matches('{"tool_call": {"name": "add", "arguments": {"a": 1, "b": 2}}}')
    assert compiled.matches('{"response": "It is sunny in Paris.\\nEnjoy!"}')
    assert not compiled.matches('{"tool_call": {"name": "add", "arguments": {"a": "x", "b": 2}}}')
    assert not compiled.matches('{"response": 7}')
    assert not compiled.matches("It is sunny.")
    assert '{"response": <your reply>}' in plan.system


def test_auto_with_a_response_format_wraps_the_formatted_answer() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    plan = plan_output(request(fmt=ResponseFormat.json(schema)), CallStyle.HERMES)
    assert plan.grammar is not None
    assert not plan.native
    compiled = GbnfGrammar(plan.grammar.text)
    assert compiled.matches('{"response": {"n": 3}}')
    assert not compiled.matches('{"response": {"m": 3}}')
    assert compiled.matches('{"tool_call": {"name": "add", "arguments": {"a": 1, "b": 2}}}')


def test_a_response_format_alone_is_its_schema_grammar() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "maximum": 9}},
        "required": ["n"],
    }
    plan = plan_output(request(tools=(), fmt=ResponseFormat.json(schema)), CallStyle.HERMES)
    assert plan.style is None
    assert plan.grammar is not None
    compiled = GbnfGrammar(plan.grammar.text)
    assert compiled.matches('{"n": 9}')
    assert not compiled.matches('{"n": 10}')
    any_object = plan_output(request(tools=(), fmt=ResponseFormat.json()), None)
    assert any_object.grammar is not None
    assert GbnfGrammar(any_object.grammar.text).matches('{"x": [1, "y"]}')
    assert plan_output(request(tools=()), None) == OutputPlan()


def test_a_tool_schema_that_cannot_be_enforced_is_refused() -> None:
    odd = Tool(
        name="odd",
        parameters={"type": "object", "properties": {"s": {"type": "string", "pattern": "a+"}}},
    )
    with pytest.raises(SchemaError, match="'pattern'"):
        plan_output(request(tools=(odd,), choice=ToolChoice(mode=ToolChoiceMode.REQUIRED)), None)


def test_tool_choice_none_means_no_tools() -> None:
    plan = plan_output(request(choice=ToolChoice(mode=ToolChoiceMode.NONE)), CallStyle.HERMES)
    assert plan == OutputPlan()


def test_history_with_calls_and_results_for_both_kinds_of_template() -> None:
    call = ToolCall(id="call_1", name="add", arguments='{"a": 1, "b": 2}')
    history = (
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="1+2?"),
        ChatMessage(role="assistant", content="", tool_calls=(call,)),
        ChatMessage(role="tool", content="3", tool_call_id="call_1", name="add"),
    )
    native = chat_dicts(history, native=True)
    assert native[2]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "add", "arguments": {"a": 1, "b": 2}},
        }
    ]
    assert native[3] == {"role": "tool", "content": "3", "tool_call_id": "call_1", "name": "add"}
    generic = chat_dicts(history, native=False, system="TOOLS")
    assert generic[0] == {"role": "system", "content": "TOOLS\n\nBe brief."}
    assert json.loads(generic[2]["content"]) == {
        "tool_call": {"name": "add", "arguments": {"a": 1, "b": 2}}
    }
    assert generic[3] == {"role": "user", "content": "Result of add: 3"}


def run_filter(plan: OutputPlan, pieces: list[str], reason: FinishReason) -> list[InferenceEvent]:
    f = ToolCallFilter(plan)
    out: list[InferenceEvent] = []
    for piece in pieces:
        out.extend(f.events(Content(text=piece)))
    out.extend(f.events(Complete(usage=Usage(finish_reason=reason))))
    return out


def test_the_filter_turns_valid_calls_into_deltas_and_says_tool_calls() -> None:
    plan = plan_output(request(), CallStyle.HERMES)
    text = 'One moment. <tool_call>{"name": "add", "arguments": {"a": 2, "b": 40}}</tool_call>'
    events = run_filter(plan, [text[i : i + 5] for i in range(0, len(text), 5)], FinishReason.STOP)
    shown = "".join(e.text for e in events if isinstance(e, Content))
    assert shown.strip() == "One moment."
    collector = ToolCallCollector()
    collector.extend(e for e in events if isinstance(e, ToolCallDelta))
    (call,) = collector.calls()
    assert call.name == "add"
    assert call.parsed_arguments() == {"a": 2, "b": 40}
    assert call.id.startswith("call_")
    last = events[-1]
    assert isinstance(last, Complete)
    assert last.usage.finish_reason is FinishReason.TOOL_CALLS


@pytest.mark.parametrize(
    ("parallel", "expected"), [(True, ["add", "get_weather"]), (False, ["add"])]
)
def test_without_parallel_calls_only_the_first_call_is_sent(
    parallel: bool, expected: list[str]
) -> None:
    plan = plan_output(request(choice=ToolChoice(parallel=parallel)), CallStyle.HERMES)
    assert plan.parallel is parallel
    text = (
        '<tool_call>{"name": "add", "arguments": {"a": 2, "b": 40}}</tool_call>\n'
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    )
    events = run_filter(plan, [text[:9], text[9:]], FinishReason.STOP)
    collector = ToolCallCollector()
    collector.extend(e for e in events if isinstance(e, ToolCallDelta))
    assert [c.name for c in collector.calls()] == expected
    assert collector.calls()[0].parsed_arguments() == {"a": 2, "b": 40}
    last = events[-1]
    assert isinstance(last, Complete)
    assert last.usage.finish_reason is FinishReason.TOOL_CALLS


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '<tool_call>{"name": "add", "arguments": {"a": 2, "b": -1}}</tool_call>',
            FinishReason.STOP,
        ),
        ('<tool_call>{"name": "nope", "arguments": {}}</tool_call>', FinishReason.STOP),
        (
            '<tool_call>{"name": "add", "arguments": {"a": 2, "b": 1}}</tool_call>',
            FinishReason.LENGTH,
        ),
        ('<tool_call>{"name": "add", "argum', FinishReason.LENGTH),
    ],
)
def test_invalid_or_cut_calls_come_back_as_text(text: str, reason: FinishReason) -> None:
    plan = plan_output(request(), CallStyle.HERMES)
    events = run_filter(plan, [text[:7], text[7:]], reason)
    assert not any(isinstance(e, ToolCallDelta) for e in events)
    assert "".join(e.text for e in events if isinstance(e, Content)) == text
    last = events[-1]
    assert isinstance(last, Complete)
    assert last.usage.finish_reason is reason


def test_a_generic_reply_streams_as_text() -> None:
    plan = plan_output(request(), None)
    text = '{"response": "Two \\"quoted\\" words\\u00e9"}'
    events = run_filter(plan, [text[i : i + 3] for i in range(0, len(text), 3)], FinishReason.STOP)
    contents = [e.text for e in events if isinstance(e, Content)]
    assert len(contents) > 1  # it came piece by piece, not at the end
    assert "".join(contents) == 'Two "quoted" wordsé'
    assert not any(isinstance(e, ToolCallDelta) for e in events)
    last = events[-1]
    assert isinstance(last, Complete)
    assert last.usage.finish_reason is FinishReason.STOP
