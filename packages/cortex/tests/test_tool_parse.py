"""Tool-call parsers on the shapes real models write, whole and streamed in pieces."""

from __future__ import annotations

import pytest

from rusty_genius_cortex._tool_parse import (
    CallScanner,
    CallStyle,
    ParsedCall,
    detect_style,
    parse_calls,
)

PARIS = {"city": "Paris", "days": 3}
TOKYO = {"city": "Tokyo"}

# (style, model output, text left over, calls); outputs as the models' templates teach them.
CASES: list[tuple[CallStyle, str, str, list[ParsedCall]]] = [
    (
        CallStyle.HERMES,  # Qwen 2.5 / Hermes 2 Pro
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n'
        "</tool_call>",
        "",
        [ParsedCall("get_weather", PARIS)],
    ),
    (
        CallStyle.HERMES,
        'Let me check both.\n<tool_call>\n{"name": "get_weather", "arguments": '
        '{"city": "Paris", "days": 3}}\n</tool_call>\n<tool_call>\n{"name": "get_weather", '
        '"arguments": {"city": "Tokyo"}}\n</tool_call>',
        "Let me check both.",
        [ParsedCall("get_weather", PARIS), ParsedCall("get_weather", TOKYO)],
    ),
    (
        CallStyle.LLAMA3,  # Llama 3.1/3.2 JSON tool calling
        '{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}',
        "",
        [ParsedCall("get_weather", PARIS)],
    ),
    (
        CallStyle.LLAMA3,
        '<|python_tag|>{"type": "function", "name": "get_weather", "parameters": '
        '{"city": "Paris", "days": 3}}; {"name": "get_weather", "parameters": {"city": "Tokyo"}}',
        "",
        [ParsedCall("get_weather", PARIS), ParsedCall("get_weather", TOKYO)],
    ),
    (
        CallStyle.MISTRAL,  # Mistral v3 (7B Instruct v0.3, Nemo)
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}, '
        '"id": "a1b2c3d4e"}]',
        "",
        [ParsedCall("get_weather", PARIS, "a1b2c3d4e")],
    ),
    (
        CallStyle.MISTRAL,  # Mistral Small 3.2 / Devstral: name[ARGS]json
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": 3}'
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Tokyo"}',
        "",
        [ParsedCall("get_weather", PARIS), ParsedCall("get_weather", TOKYO)],
    ),
    (
        CallStyle.MISTRAL,  # Magistral: with a call id
        '[TOOL_CALLS]get_weather[CALL_ID]x9Y8z7W6v[ARGS]{"city": "Tokyo"}',
        "",
        [ParsedCall("get_weather", TOKYO, "x9Y8z7W6v")],
    ),
    (
        CallStyle.FUNCTIONGEMMA,
        "<start_function_call>call:get_weather{city:<escape>Paris<escape>,days:3}"
        "<end_function_call>",
        "",
        [ParsedCall("get_weather", PARIS)],
    ),
    (
        CallStyle.FUNCTIONGEMMA,
        "Sure.<start_function_call>call:plan{stops:[<escape>a, b<escape>,<escape>c<escape>],"
        "opts:{fast:true,note:<escape>x}y<escape>}}<end_function_call>",
        "Sure.",
        [ParsedCall("plan", {"stops": ["a, b", "c"], "opts": {"fast": True, "note": "x}y"}})],
    ),
    (
        CallStyle.GENERIC,
        '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}',
        "",
        [ParsedCall("get_weather", PARIS)],
    ),
    (
        CallStyle.GENERIC,  # under auto, llama.cpp's generic shape
        '{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}',
        "",
        [ParsedCall("get_weather", PARIS)],
    ),
]


@pytest.mark.parametrize(("style", "output", "text", "calls"), CASES)
def test_calls_are_parsed_from_real_output_shapes(
    style: CallStyle, output: str, text: str, calls: list[ParsedCall]
) -> None:
    assert parse_calls(output, style) == (text, calls)


@pytest.mark.parametrize(("style", "output", "text", "calls"), CASES)
@pytest.mark.parametrize("piece", [1, 3, 7])
def test_streamed_in_pieces_the_text_flows_and_the_calls_are_held(
    style: CallStyle, output: str, text: str, calls: list[ParsedCall], piece: int
) -> None:
    scanner = CallScanner(style)
    shown = "".join(scanner.feed(output[i : i + piece]) for i in range(0, len(output), piece))
    rest, parsed = scanner.finish()
    assert parsed == calls
    assert (shown + rest).strip() == text
    assert "{" not in shown  # nothing of a call leaked out as text


@pytest.mark.parametrize(
    ("style", "output"),
    [
        (CallStyle.HERMES, "The weather in Paris is sunny. <tool_ is not a tag."),
        (CallStyle.HERMES, "<tool_call>\n{not json}\n</tool_call>"),
        (CallStyle.LLAMA3, "Paris is in France."),
        (CallStyle.LLAMA3, '{"answer": 42}'),
        (CallStyle.MISTRAL, "No calls [TOOL_CALLS] here {"),
        (CallStyle.FUNCTIONGEMMA, "<start_function_call>call:f{x:<escape>unclosed}"),
        (CallStyle.GENERIC, "Just text, with a { brace."),
    ],
)
def test_text_that_is_not_a_call_stays_text(style: CallStyle, output: str) -> None:
    assert parse_calls(output, style) == (output, [])
    scanner = CallScanner(style)
    shown = "".join(scanner.feed(c) for c in output)
    rest, calls = scanner.finish()
    assert calls == []
    assert shown + rest == output


def test_arguments_written_as_json_text_are_read() -> None:
    output = '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>'
    assert parse_calls(output, CallStyle.HERMES) == ("", [ParsedCall("f", {"a": 1})])


@pytest.mark.parametrize(
    ("template", "style"),
    [
        ("{% if tools %}<tool_call>{{ tools | tojson }}</tool_call>{% endif %}", CallStyle.HERMES),
        ("{{ '[AVAILABLE_TOOLS]' }}{{ '[TOOL_CALLS]' }}", CallStyle.MISTRAL),
        ("<|start_header_id|>ipython<|end_header_id|>{{ parameters }}", CallStyle.LLAMA3),
        ("<|python_tag|>", CallStyle.LLAMA3),
        ("<start_function_declaration>...<start_function_call>", CallStyle.FUNCTIONGEMMA),
    ],
)
def test_the_style_is_read_from_the_template(template: str, style: CallStyle) -> None:
    assert detect_style(template) is style


@pytest.mark.parametrize("piece", [1, 2, 5])
def test_a_generic_reply_is_its_text_streamed_as_it_comes(piece: int) -> None:
    output = '{"response": "Hello \\"world\\" \\u00e9\\ud83d\\ude00 ok\\n"}'
    assert parse_calls(output, CallStyle.GENERIC) == ('Hello "world" \u00e9\U0001f600 ok\n', [])
    scanner = CallScanner(CallStyle.GENERIC)
    shown = [scanner.feed(output[i : i + piece]) for i in range(0, len(output), piece)]
    assert "".join(shown) == 'Hello "world" \u00e9\U0001f600 ok\n'
    assert sum(bool(s) for s in shown) > 1
    assert scanner.finish() == ("", [])
