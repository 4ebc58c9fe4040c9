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

The grammar is one :class:`Grammar` (GBNF text and its start rule), applied as
one sampler of the chain (llama.cpp's grammar sampler). :meth:`OutputPlan.call_of`
turns each parsed call into a :class:`ToolCall` whose arguments parse as JSON and
validate (jsonschema) against the tool's parameters, or refuses it.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any, Final

import attrs

from rusty_genius_core import ChatMessage, Role, Tool, ToolCall, ToolChoiceMode
from rusty_genius_core._record import Record

from ._gbnf import json_literal
from ._json_grammar import GrammarBuilder, schema_to_grammar
from ._tool_parse import CallStyle, ParsedCall

if TYPE_CHECKING:
    from ._base import EngineRequest

__all__ = ["Grammar", "OutputPlan", "chat_dicts", "plan_output"]


@attrs.frozen(repr=False, eq=False)
class Grammar(Record):
    """A llama.cpp grammar: GBNF text and the rule generation starts from."""

    text: str
    root: str = "root"


@attrs.frozen(repr=False, eq=False)
class OutputPlan(Record):
    """How one request's output is constrained and read back.

    ``grammar`` (or None) goes to the sampler; ``style`` is how calls are parsed
    (None: no tools); ``system`` is text to put before the system prompt (the
    generic mode's tool descriptions); ``native`` says the template gets ``tools``;
    ``parallel`` False keeps only an answer's first call (the generic grammar allows
    only one anyway).
    """

    grammar: Grammar | None = None
    style: CallStyle | None = None
    native: bool = False
    system: str = ""
    tools: tuple[Tool, ...] = ()
    parallel: bool = True

    def call_of(self, parsed: ParsedCall) -> ToolCall | None:
        """The call as a :class:`ToolCall`, or None when its tool is unknown or its
        arguments are not a JSON object valid against the tool's parameters."""
        import jsonschema  # only when a call is checked: it costs import time

        tool = next((t for t in self.tools if t.name == parsed.name), None)
        if tool is None or not isinstance(parsed.arguments, dict):
            return None
        try:
            jsonschema.validate(parsed.arguments, tool.parameters)
        except (jsonschema.ValidationError, jsonschema.SchemaError):
            return None
        call_id = parsed.id or f"call_{secrets.token_hex(12)}"
        arguments = json.dumps(parsed.arguments, ensure_ascii=False)
        return ToolCall(id=call_id, name=tool.name, arguments=arguments)


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


def chat_dicts(
    messages: tuple[ChatMessage, ...], *, native: bool, system: str = ""
) -> list[dict[str, Any]]:
    """The messages as chat-template input.

    Native: OpenAI's shapes (``tool_calls`` with arguments as objects, ``tool``
    messages with ``tool_call_id`` and ``name``). Generic: a template that knows
    no tools sees each call as the JSON the model wrote and each result as a user
    message naming its tool. ``system`` goes first in the system prompt.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if native:
            item: dict[str, Any] = {"role": m.role.value, "content": m.content}
            if m.tool_calls:
                item["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.parsed_arguments()},
                    }
                    for c in m.tool_calls
                ]
            if m.tool_call_id is not None:
                item["tool_call_id"] = m.tool_call_id
            if m.name is not None:
                item["name"] = m.name
            out.append(item)
        elif m.role is Role.TOOL:
            who = m.name or m.tool_call_id or "the tool"
            out.append({"role": "user", "content": f"Result of {who}: {m.content}"})
        elif m.tool_calls:
            calls = "\n".join(
                json.dumps(
                    {"tool_call": {"name": c.name, "arguments": c.parsed_arguments()}},
                    ensure_ascii=False,
                )
                for c in m.tool_calls
            )
            out.append({"role": "assistant", "content": (m.content + "\n" + calls).strip()})
        else:
            out.append({"role": m.role.value, "content": m.content})
    if system:
        if out and out[0]["role"] == "system":
            out[0] = {**out[0], "content": f"{system}\n\n{out[0]['content']}"}
        else:
            out.insert(0, {"role": "system", "content": system})
    return out
