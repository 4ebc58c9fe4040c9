"""What :class:`~rusty_genius.Genius` accepts for messages, tools, tool choice and formats.

The facade takes the protocol's own classes, or the plain shapes people write by hand
(OpenAI's, mostly): a message as ``{"role": ..., "content": ...}`` (with ``tool_calls``,
``tool_call_id`` or ``name``), a tool as ``{"name", "description", "parameters"}`` or
OpenAI's ``{"type": "function", "function": {...}}``, a tool choice as ``"none"``,
``"auto"``, ``"required"`` or a tool's name, and a response format as ``"json"`` (any
JSON object) or a JSON Schema ``dict``. Each is checked here, with the index of what
was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from rusty_genius_core import (
    ChatMessage,
    ProtocolError,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
)

__all__ = ["FormatLike", "MessageLike", "ToolChoiceLike", "ToolLike"]

MessageLike: TypeAlias = "ChatMessage | Mapping[str, Any]"
"""A chat message, or a plain ``{"role": ..., "content": ...}`` dict."""
ToolLike: TypeAlias = "Tool | Mapping[str, Any]"
"""A :class:`Tool`, or a dict with its ``name``, ``description`` and ``parameters``."""
ToolChoiceLike: TypeAlias = "ToolChoice | str"
"""A :class:`ToolChoice`, ``"none"``, ``"auto"``, ``"required"`` or a tool's name."""
FormatLike: TypeAlias = "ResponseFormat | Mapping[str, Any] | str"
"""A :class:`ResponseFormat`, ``"json"`` or ``"text"``, or a JSON Schema."""

_MESSAGE_KEYS = {"role", "content", "tool_calls", "tool_call_id", "name"}


def _call(value: object, where: str) -> ToolCall:
    if isinstance(value, ToolCall):
        return value
    if isinstance(value, Mapping):
        inner = value.get("function", value)
        arguments = inner.get("arguments", "{}")
        if isinstance(arguments, Mapping):
            arguments = json.dumps(arguments)
        return ToolCall(id=value.get("id", ""), name=inner.get("name"), arguments=arguments)
    raise ProtocolError(f"{where} must be a ToolCall or a dict, got {value!r}")


def _message(value: object, index: int) -> ChatMessage:
    if isinstance(value, ChatMessage):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - _MESSAGE_KEYS)
        if unknown:
            raise ProtocolError(f"messages[{index}] has unknown key(s) {', '.join(unknown)}")
        content = value.get("content")
        if content is None and value.get("tool_calls"):
            content = ""
        if not isinstance(content, str):
            raise ProtocolError(f"messages[{index}]['content'] must be a string, got {content!r}")
        calls = tuple(
            _call(c, f"messages[{index}]['tool_calls'][{i}]")
            for i, c in enumerate(value.get("tool_calls") or ())
        )
        return ChatMessage(
            role=value.get("role"),
            content=content,
            tool_calls=calls,
            tool_call_id=value.get("tool_call_id"),
            name=value.get("name"),
        )
    raise ProtocolError(f"messages[{index}] must be a ChatMessage or a dict, got {value!r}")


def as_messages(messages: Sequence[MessageLike]) -> tuple[ChatMessage, ...]:
    given: object = messages  # callers without type checking may pass anything
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise ProtocolError(f"messages must be a sequence of messages, got {given!r}")
    return tuple(_message(m, i) for i, m in enumerate(given))


def _tool(value: object, index: int) -> Tool:
    if isinstance(value, Tool):
        return value
    if isinstance(value, Mapping):
        inner = (
            value.get("function", value) if value.get("type", "function") == "function" else None
        )
        if not isinstance(inner, Mapping):
            raise ProtocolError(f"tools[{index}] must be a function tool, got {value!r}")
        unknown = sorted(set(inner) - {"name", "description", "parameters", "strict", "type"})
        if unknown:
            raise ProtocolError(f"tools[{index}] has unknown key(s) {', '.join(unknown)}")
        return Tool(
            name=inner.get("name", ""),
            description=inner.get("description") or "",
            parameters=dict(inner.get("parameters") or {"type": "object", "properties": {}}),
            strict=bool(inner.get("strict") or False),
        )
    raise ProtocolError(f"tools[{index}] must be a Tool or a dict, got {value!r}")


def as_tools(tools: Sequence[ToolLike] | None) -> tuple[Tool, ...]:
    if tools is None:
        return ()
    given: object = tools
    if isinstance(given, str | bytes | Mapping) or not isinstance(given, Sequence):
        raise ProtocolError(f"tools must be a sequence of tools, got {given!r}")
    return tuple(_tool(t, i) for i, t in enumerate(given))


def as_tool_choice(choice: ToolChoiceLike | None) -> ToolChoice:
    if choice is None:
        return ToolChoice()
    if isinstance(choice, ToolChoice):
        return choice
    if isinstance(choice, str):
        if choice in {m.value for m in ToolChoiceMode}:
            return ToolChoice(mode=choice)
        return ToolChoice.named(choice)
    raise ProtocolError(f"tool_choice must be a ToolChoice or a string, got {choice!r}")


def as_response_format(form: FormatLike | None) -> ResponseFormat:
    if form is None or form == "text":
        return ResponseFormat()
    if isinstance(form, ResponseFormat):
        return form
    if form == "json":
        return ResponseFormat.json()
    if isinstance(form, Mapping):
        return ResponseFormat.json(dict(form))
    raise ProtocolError(
        f"response_format must be a ResponseFormat, 'json', 'text' or a JSON schema, got {form!r}"
    )
