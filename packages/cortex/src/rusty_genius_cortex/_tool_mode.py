"""Tools and response formats as grammars and prompts: engine-agnostic, no I/O.

:func:`plan_output` decides, for one request, how a local engine honours its
``tools``, ``tool_choice`` and ``response_format``:

* **native** tools: the model's chat template supports tools (it receives
  ``tools``), ``tool_choice`` is ``auto`` and the model writes calls in its own
  format (:class:`CallStyle`), parsed afterwards;
* **generic** tools: a template without tool support, or ``tool_choice``
  ``required`` / a named function on any model. The tools are described in the
  system prompt and a grammar allows only ``{"name": ..., "arguments": {...}}``
  with a listed name and arguments valid for its schema, or, under ``auto``, a
  plain answer (or one valid for the response format);
* a JSON ``response_format`` alone: the grammar of its schema.

The plan (:mod:`._output_plan`) keeps its grammar as one :class:`Grammar` (GBNF text and
its start rule), applied as one sampler of the chain (llama.cpp's grammar sampler). :meth:`OutputPlan.call_of`
turns each parsed call into a :class:`ToolCall` whose arguments parse as JSON and
validate (jsonschema) against the tool's parameters, or refuses it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import Tool, ToolChoiceMode

from ._chat_dicts import chat_dicts
from ._gbnf import json_literal
from ._json_grammar import GrammarBuilder, schema_to_grammar
from ._output_plan import Grammar, OutputPlan
from ._tool_parse import CallStyle

if TYPE_CHECKING:
    from ._base import EngineRequest

__all__ = ["Grammar", "OutputPlan", "chat_dicts", "plan_output"]


_GENERIC_CALL_SHAPE: Final = '{"name": <tool name>, "arguments": <JSON object of arguments>}'


def plan_output(request: EngineRequest, native_style: CallStyle | None) -> OutputPlan:
    """The plan for ``request`` on a model whose template writes calls as
    ``native_style`` (None: its template has no tool support).

    :class:`~rusty_genius_core.UnsupportedError` (via :class:`SchemaError`) when a
    schema uses a keyword the grammar cannot enforce.
    """
    answer = request.response_format.effective_schema()
    if not request.offers_tools:
        if answer is None:
            return OutputPlan()
        return OutputPlan(grammar=Grammar(schema_to_grammar(answer)))
    tools = request.tools
    choice = request.tool_choice
    if choice.function is not None:
        tools = tuple(t for t in tools if t.name == choice.function)
    if native_style is not None and choice.mode is ToolChoiceMode.AUTO and answer is None:
        return OutputPlan(style=native_style, native=True, tools=tools, parallel=choice.parallel)
    return OutputPlan(
        grammar=_generic_grammar(tools, forced=choice.forces_call, answer=answer),
        style=CallStyle.GENERIC,
        system=_generic_system(tools, forced=choice.forces_call, named=choice.function),
        tools=tools,
    )


def _generic_grammar(tools: tuple[Tool, ...], *, forced: bool, answer: Any) -> Grammar:
    builder = GrammarBuilder()
    alts = []
    for i, tool in enumerate(tools):
        params = builder.schema(tool.parameters, f"tool{i}-arguments", f"tools[{i}].parameters")
        alts.append(
            builder.rule(
                f"tool{i}",
                f'{json_literal(tool.name)} space "," space "\\"arguments\\"" space ":" space '
                + params,
            )
        )
    call = builder.rule(
        "call", '"{" space "\\"name\\"" space ":" space (' + " | ".join(alts) + ') space "}"'
    )
    if forced:
        return Grammar(builder.grammar(call))
    # Under auto the answer is JSON either way, as llama.cpp's generic format has it:
    # {"tool_call": {...}} or {"response": ...}; a small model picks between the two
    # keys far more reliably than between a call and free text.
    if answer is None:
        reply = builder.schema({"type": "string"}, "reply")
    else:
        reply = builder.schema(answer, "reply", "response_format.schema")
    wrapped_call = f'"{{" space "\\"tool_call\\"" space ":" space {call} space "}}"'
    wrapped_reply = f'"{{" space "\\"response\\"" space ":" space {reply} space "}}"'
    return Grammar(builder.grammar(builder.rule("root", f"{wrapped_call} | {wrapped_reply}")))


def _generic_system(tools: tuple[Tool, ...], *, forced: bool, named: str | None) -> str:
    listing = json.dumps(
        [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools],
        ensure_ascii=False,
        indent=1,
    )
    lines = ["You can call these tools (functions), described as JSON:", listing]
    if named is not None or forced:
        lines.append(
            f"To call a tool, answer with only this JSON object: {_GENERIC_CALL_SHAPE}. "
            "The result will be given back to you in the next message."
        )
        must = f"the tool {named!r}" if named is not None else "one of these tools"
        lines.append(f"You must call {must} now.")
    else:
        lines.append(
            "Respond in JSON, either with tool_call (a request to call a tool) or with "
            'response (your reply to the user): {"tool_call": '
            f'{_GENERIC_CALL_SHAPE}}} or {{"response": <your reply>}}. '
            "Call a tool when it can help answer; its result will be given back to you "
            "in the next message."
        )
    return "\n\n".join(lines)
