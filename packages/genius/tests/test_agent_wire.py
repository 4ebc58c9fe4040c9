"""OpenAI's tool fields as the core vocabulary (no server: the mapping alone)."""

from __future__ import annotations

import pytest

from rusty_genius import Tool
from rusty_genius._serve import _agent_wire
from rusty_genius._serve._models_tools import NamedToolChoice
from rusty_genius_core import ToolChoice, ToolChoiceMode

ADD = Tool(name="add", parameters={"type": "object", "properties": {}})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ToolChoice()),
        ("required", ToolChoice(mode=ToolChoiceMode.REQUIRED)),
        (
            NamedToolChoice.model_validate({"type": "function", "function": {"name": "add"}}),
            ToolChoice.named("add"),
        ),
    ],
)
@pytest.mark.parametrize("parallel", [None, True, False])
def test_parallel_tool_calls_travel_with_every_tool_choice(
    given: str | NamedToolChoice | None, expected: ToolChoice, parallel: bool | None
) -> None:
    choice = _agent_wire.tool_choice(given, (ADD,), parallel=parallel)
    assert choice.mode is expected.mode
    assert choice.function == expected.function
    assert choice.parallel is (parallel is not False)  # absent means allowed, as OpenAI has it
