"""Pinky's script for agents: which tool it calls, the JSON it writes, its embeddings.

Everything is a pure function of the request, so tests can predict every answer:

* **Tools.** When tools are offered and the choice is not ``none``, Pinky calls one: the
  named function, else the first tool, with arguments built from the tool's schema
  (:func:`~rusty_genius_cortex._schema_instance.schema_instance`, strings taken from the
  words it would echo). Under ``auto``, once the last message is a tool's result, Pinky
  answers in words instead (echoing that result), so an agent's loop ends.
* **JSON.** Under a JSON response format it writes the schema's smallest valid instance
  (for ``json_object``: ``{"echo": <the words>}``).
* **Embeddings.** A bag of words: each word a dense pseudo-random vector of
  :data:`PINKY_DIMENSIONS` components seeded by its hash, summed, so texts sharing
  words point the same way (and any prefix of the components still does);
  L2-normalised later.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Final

import attrs

from rusty_genius_core import ResponseKind, Role, Tool
from rusty_genius_core._record import Record

from ._schema_instance import schema_instance

if TYPE_CHECKING:
    from ._base import EngineRequest

__all__ = ["PINKY_DIMENSIONS", "PinkyReply", "pinky_reply", "pinky_vector"]

PINKY_DIMENSIONS: Final = 64
"""The length of Pinky's embeddings."""


@attrs.frozen(repr=False, eq=False)
class PinkyReply(Record):
    """What Pinky answers: ``text`` (echo or JSON), or one call of ``tool``."""

    text: str
    tool: Tool | None = None
    arguments: str = ""
    call_id: str = ""


def _echo(request: EngineRequest) -> str:
    if request.messages is None:
        assert request.prompt is not None
        return request.prompt
    last = request.messages[-1]
    if last.role is Role.TOOL:
        return last.content
    users = [m.content for m in request.messages if m.role is Role.USER]
    return users[-1] if users else ""


def pinky_reply(request: EngineRequest) -> PinkyReply:
    """Pinky's answer to ``request`` (see the module's docstring)."""
    echo = _echo(request)
    answered = request.messages is not None and request.messages[-1].role is Role.TOOL
    if request.offers_tools and (request.tool_choice.forces_call or not answered):
        wanted = request.tool_choice.function
        tool = next((t for t in request.tools if t.name == wanted), request.tools[0])
        arguments = json.dumps(schema_instance(tool.parameters, echo), ensure_ascii=False)
        digest = hashlib.sha256(f"{tool.name}\0{arguments}\0{echo}".encode()).hexdigest()
        return PinkyReply(text="", tool=tool, arguments=arguments, call_id=f"call_{digest[:24]}")
    form = request.response_format
    if form.kind is ResponseKind.JSON_OBJECT:
        return PinkyReply(text=json.dumps({"echo": echo}, ensure_ascii=False))
    if form.kind is ResponseKind.JSON_SCHEMA:
        assert form.schema is not None
        return PinkyReply(text=json.dumps(schema_instance(form.schema, echo), ensure_ascii=False))
    return PinkyReply(text=echo)


def pinky_vector(words: list[str]) -> tuple[float, ...]:
    """The (unnormalised) embedding of ``words``: the sum of each word's hashed vector."""
    vector = [0.0] * PINKY_DIMENSIONS
    for word in words:
        cleaned = word.strip().lower().strip(".,;:!?\"'()[]{}")
        if not cleaned:
            continue
        digest = hashlib.blake2b(cleaned.encode(), digest_size=PINKY_DIMENSIONS).digest()
        for i, byte in enumerate(digest):
            vector[i] += (byte - 127.5) / 127.5
    if not any(vector):  # an empty text still gets a direction of its own
        vector[0] = 1.0
    return tuple(vector)
