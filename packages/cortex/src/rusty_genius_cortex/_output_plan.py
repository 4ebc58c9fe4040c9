"""How one request's output is constrained and read back: the plan's record, no I/O.

:class:`OutputPlan` and its :class:`Grammar` are all that a prepared request and the
decoding loop keep of the request's tools and response format. :func:`output_plan`
answers a plain request (no tools, no JSON format) with the empty plan and imports the
planner (:mod:`._tool_mode`: tool-call parsing, the JSON Schema grammar) only for a
request that needs it, so a chat that uses neither never loads them.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Final

from rusty_genius_core import ToolCall
from rusty_genius_core._record import PlainRecord

if TYPE_CHECKING:
    from rusty_genius_core import Tool

    from ._base import EngineRequest
    from ._tool_parse import CallStyle, ParsedCall

__all__ = ["Grammar", "OutputPlan", "output_plan"]


class Grammar(PlainRecord):
    """A llama.cpp grammar: GBNF text and the rule generation starts from."""

    __match_args__ = ("text", "root")
    __slots__ = ("root", "text")

    def __init__(self, text: str, root: str = "root") -> None:
        self.text: Final = text
        self.root: Final = root


class OutputPlan(PlainRecord):
    """How one request's output is constrained and read back.

    ``grammar`` (or None) goes to the sampler; ``style`` is how calls are parsed
    (None: no tools); ``system`` is text to put before the system prompt (the
    generic mode's tool descriptions); ``native`` says the template gets ``tools``;
    ``parallel`` False keeps only an answer's first call (the generic grammar allows
    only one anyway).
    """

    __match_args__ = ("grammar", "style", "native", "system", "tools", "parallel")
    __slots__ = ("grammar", "native", "parallel", "style", "system", "tools")

    def __init__(
        self,
        grammar: Grammar | None = None,
        style: CallStyle | None = None,
        native: bool = False,
        system: str = "",
        tools: tuple[Tool, ...] = (),
        parallel: bool = True,
    ) -> None:
        self.grammar: Final = grammar
        self.style: Final = style
        self.native: Final = native
        self.system: Final = system
        self.tools: Final = tools
        self.parallel: Final = parallel

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


def output_plan(request: EngineRequest, native_style: CallStyle | None) -> OutputPlan:
    """:func:`~._tool_mode.plan_output`, without importing it for a request that offers
    no tools and asks for no JSON format (the empty plan)."""
    if not request.offers_tools and request.response_format.effective_schema() is None:
        return OutputPlan()
    from ._tool_mode import plan_output  # tools and grammars: on first use

    return plan_output(request, native_style)
