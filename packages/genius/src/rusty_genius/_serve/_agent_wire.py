"""From the HTTP shapes of tools, calls and formats to the protocol's values, and back.

Both APIs end here: a checked request model (``_models_tools``) becomes
:class:`~rusty_genius_core.Tool`, :class:`~rusty_genius_core.ToolChoice`,
:class:`~rusty_genius_core.ResponseFormat` and messages with their
:class:`~rusty_genius_core.ToolCall` s. A schema that is no valid JSON Schema, a tool
choice naming an unknown tool, arguments that are not a JSON object: each is a 400
(:class:`RequestError`) naming the field.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema

from rusty_genius_core import (
    GeniusError,
    ResponseFormat,
    ResponseKind,
    Tool,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
)

from ._errors import RequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._models_tools import (
        NamedToolChoice,
        OllamaToolCall,
        ResponseFormatIn,
        ToolCallIn,
        ToolDef,
    )

__all__ = [
    "built",
    "check_schema",
    "ollama_calls",
    "ollama_format",
    "openai_calls",
    "response_format",
    "tool_choice",
    "tools",
]


def check_schema(schema: dict[str, Any], param: str) -> dict[str, Any]:
    """``schema`` if it is a valid JSON Schema, else a 400 naming ``param``."""
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in exc.path)
        raise RequestError(
            f"'{param}' is not a valid JSON Schema{where}: {exc.message}", param
        ) from None
    return schema


def built(make: Any, param: str) -> Any:
    """``make()``, its protocol error (a value that breaks a rule) a 400 naming ``param``."""
    try:
        return make()
    except GeniusError as exc:
        raise RequestError(f"'{param}': {exc.message}", param) from None


def tools(given: Sequence[ToolDef] | None, param: str = "tools") -> tuple[Tool, ...]:
    out = []
    for i, tool in enumerate(given or ()):
        where = f"{param}[{i}].function"
        parameters = tool.function.parameters
        if parameters is not None:
            check_schema(parameters, f"{where}.parameters")
        out.append(
            built(
                lambda f=tool.function, p=parameters: Tool(
                    name=f.name,
                    description=f.description or "",
                    parameters=p if p is not None else {"type": "object", "properties": {}},
                    strict=bool(f.strict),
                ),
                where,
            )
        )
    names = [t.name for t in out]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise RequestError(f"'{param}' names the function {name!r} twice", f"{param}[{i}]")
    return tuple(out)


def tool_choice(
    given: str | NamedToolChoice | None,
    offered: tuple[Tool, ...],
    param: str = "tool_choice",
    *,
    parallel: bool | None = None,
) -> ToolChoice:
    """OpenAI's ``tool_choice`` and ``parallel_tool_calls`` (None: allowed) as one
    :class:`ToolChoice`."""
    several = parallel is not False
    if given is None:
        return ToolChoice(parallel=several)
    if isinstance(given, str):
        choice = ToolChoice(mode=ToolChoiceMode(given), parallel=several)
        if choice.forces_call and not offered:
            raise RequestError(f"'{param}' is {given!r} but no tools were given", param)
        return choice
    name = given.function.name
    if name not in {t.name for t in offered}:
        known = ", ".join(t.name for t in offered) or "none"
        raise RequestError(
            f"'{param}' names the function {name!r}, which is not among the tools ({known})",
            f"{param}.function.name",
        )
    return ToolChoice.named(name, parallel=several)


def response_format(
    given: ResponseFormatIn | None, param: str = "response_format"
) -> ResponseFormat:
    """OpenAI's ``response_format``; ``json_schema`` needs ``json_schema.schema``."""
    if given is None or given.type == "text":
        return ResponseFormat()
    if given.type == "json_object":
        return ResponseFormat(kind=ResponseKind.JSON_OBJECT)
    spec = given.json_schema
    if spec is None or spec.schema is None:
        raise RequestError(
            f"'{param}.json_schema.schema' is required with type 'json_schema'",
            f"{param}.json_schema.schema",
        )
    schema = check_schema(spec.schema, f"{param}.json_schema.schema")
    made: ResponseFormat = built(
        lambda: ResponseFormat(
            kind=ResponseKind.JSON_SCHEMA,
            schema=schema,
            name=spec.name,
            strict=bool(spec.strict),
        ),
        f"{param}.json_schema",
    )
    return made


def ollama_format(given: str | dict[str, Any] | None, param: str = "format") -> ResponseFormat:
    """Ollama's ``format``: ``"json"`` (any JSON), a JSON Schema, or nothing (``""``)."""
    if given is None or given == "":
        return ResponseFormat()
    if given == "json":
        return ResponseFormat(kind=ResponseKind.JSON_OBJECT)
    if isinstance(given, dict):
        return ResponseFormat(
            kind=ResponseKind.JSON_SCHEMA, schema=check_schema(given, param), strict=True
        )
    raise RequestError(f"'{param}' must be \"json\" or a JSON Schema object, got {given!r}", param)


def openai_calls(given: Sequence[ToolCallIn] | None, param: str) -> tuple[ToolCall, ...]:
    """An assistant message's ``tool_calls`` (arguments as JSON text)."""
    return tuple(
        built(
            lambda c=call, i=i: ToolCall(
                id=c.id or f"call_{i}", name=c.function.name, arguments=c.function.arguments
            ),
            f"{param}[{i}]",
        )
        for i, call in enumerate(given or ())
    )


def ollama_calls(given: Sequence[OllamaToolCall] | None, param: str) -> tuple[ToolCall, ...]:
    """An Ollama assistant message's ``tool_calls`` (arguments as an object; no ids)."""
    return tuple(
        built(
            lambda c=call, i=i: ToolCall(
                id=f"call_{i}",
                name=c.function.name,
                arguments=json.dumps(c.function.arguments, ensure_ascii=False),
            ),
            f"{param}[{i}]",
        )
        for i, call in enumerate(given or ())
    )
