"""Tools through real chat templates (llama-cpp-python's Jinja2ChatFormatter; no weights).

``real``: it needs llama-cpp-python. Qwen 2.5's template (verbatim) supports tools:
it gets them in OpenAI's shape, renders past calls and results its own way, and
its calls are read as Hermes calls. SmolLM2's template ignores tools, so requests
with tools on it use the generic mode: tool descriptions in the system prompt.
"""

from __future__ import annotations

from typing import Any

import pytest

from rusty_genius_core import ChatMessage, InferenceConfig, Tool, ToolCall
from rusty_genius_cortex import CallStyle, EngineRequest
from rusty_genius_cortex._llama_chat import render_prompt, tool_style_of
from rusty_genius_cortex._tool_mode import plan_output

pytestmark = pytest.mark.real

QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""
SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
ADD = Tool(
    name="add",
    description="Add two integers",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)
HISTORY = (
    ChatMessage(role="user", content="What is 1+2?"),
    ChatMessage(
        role="assistant",
        content="",
        tool_calls=(ToolCall(id="call_1", name="add", arguments='{"a": 1, "b": 2}'),),
    ),
    ChatMessage(role="tool", content="3", tool_call_id="call_1", name="add"),
)


def formatter(template: str, llama_cpp_module: Any) -> Any:
    from llama_cpp import llama_chat_format

    return llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token="<|im_end|>", bos_token=""
    )


def test_a_template_with_tools_is_native_and_renders_them(llama_cpp_module: Any) -> None:
    qwen = formatter(QWEN25, llama_cpp_module)
    style = tool_style_of(qwen, QWEN25)
    assert style is CallStyle.HERMES
    request = EngineRequest.checked(None, HISTORY, InferenceConfig(), tools=[ADD])
    plan = plan_output(request, style)
    assert plan.native
    prompt = render_prompt("qwen", "qwen.gguf", qwen, request, plan, native_history=True).text
    assert '{"type": "function", "function": {"name": "add"' in prompt
    assert '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>' in prompt
    assert "<tool_response>\n3\n</tool_response>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_a_template_without_tools_gets_the_generic_mode(llama_cpp_module: Any) -> None:
    smol = formatter(SMOLLM2, llama_cpp_module)
    assert tool_style_of(smol, SMOLLM2) is None
    request = EngineRequest.checked(None, HISTORY, InferenceConfig(), tools=[ADD])
    plan = plan_output(request, None)
    assert not plan.native
    assert plan.grammar is not None
    prompt = render_prompt("smol", "smol.gguf", smol, request, plan, native_history=False).text
    assert prompt.startswith("<|im_start|>system\nYou can call these tools")
    assert '"name": "add"' in prompt
    call = '{"tool_call": {"name": "add", "arguments": {"a": 1, "b": 2}}}'
    assert f"<|im_start|>assistant\n{call}<|im_end|>" in prompt
    assert "<|im_start|>user\nResult of add: 3<|im_end|>" in prompt
