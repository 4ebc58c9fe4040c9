"""Chat messages as chat-template input, for the native and the generic tool modes."""

from __future__ import annotations

import json
from typing import Any

from rusty_genius_core import ChatMessage, Role

__all__ = ["chat_dicts"]


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
