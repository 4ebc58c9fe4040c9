"""The prompt of one llama.cpp request: chat template, tools and raw prompts.

Chat messages are rendered with the model's own template from its GGUF metadata
(llama-cpp-python's ``Jinja2ChatFormatter``, as its ``create_chat_completion``
does). When the request's :class:`OutputPlan` is native, the template also gets
``tools`` (OpenAI's shape) and the history's calls and results as it expects them;
in the generic mode the tool descriptions go first in the system prompt.
:func:`tool_style_of` tells, once per load, whether a template supports tools: it
renders a probe tool and looks for its name in the prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from rusty_genius_core import ChatMessage, EngineError
from rusty_genius_core._record import PlainRecord

from ._chat_dicts import chat_dicts

if TYPE_CHECKING:
    from ._base import EngineRequest
    from ._output_plan import OutputPlan
    from ._tool_parse import CallStyle

__all__ = ["Rendered", "render_prompt", "tool_style_of", "tools_for_template"]

_PROBE: Final = "rg_probe_tool_7f3a"


class Rendered(PlainRecord):
    """The prompt text, whether a BOS token goes first, and the template's stop strings."""

    __match_args__ = ("text", "add_bos", "stops")
    __slots__ = ("add_bos", "stops", "text")

    def __init__(self, text: str, add_bos: bool, stops: tuple[str, ...] = ()) -> None:
        self.text: Final = text
        self.add_bos: Final = add_bos
        self.stops: Final = stops


def tools_for_template(plan: OutputPlan) -> list[dict[str, Any]]:
    """The plan's tools in OpenAI's request shape, as chat templates read them."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in plan.tools
    ]


def tool_style_of(formatter: Any, template: str) -> CallStyle | None:
    """The call style of a template that renders ``tools``, or None when it ignores them."""
    probe = [
        {
            "type": "function",
            "function": {
                "name": _PROBE,
                "description": "probe",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    try:
        rendered = formatter(messages=[{"role": "user", "content": "hi"}], tools=probe)
    except Exception:  # a template may refuse the probe: then it has no tools for us
        return None
    if _PROBE not in rendered.prompt:
        return None
    from ._tool_parse import detect_style  # only for a template with tools

    return detect_style(template)


def render_prompt(
    name: str,
    file_name: str,
    formatter: Any,
    request: EngineRequest,
    plan: OutputPlan,
    *,
    native_history: bool,
) -> Rendered:
    """The prompt for ``request`` (see the module doc); :class:`EngineError` when the
    template is missing or refuses the messages. ``native_history``: the template
    supports tools, so past calls and results go to it in OpenAI's shapes."""
    prompt, messages = request.prompt, request.messages
    if messages is None and (request.config.raw or formatter is None):
        # Raw completion; a model without a chat template has nothing to wrap it in.
        assert prompt is not None
        return Rendered(prompt, add_bos=True)
    if formatter is None:
        raise EngineError(
            f"model {name!r} ({file_name}) has no chat template "
            "(no tokenizer.chat_template in its GGUF metadata), so chat messages "
            "cannot be formatted for it; send a plain prompt for raw completion "
            "instead: infer(prompt=..., config=InferenceConfig(raw=True))"
        )
    turns = (ChatMessage(role="user", content=prompt or ""),) if messages is None else messages
    chat = chat_dicts(turns, native=native_history, system=plan.system)
    kwargs: dict[str, Any] = {"tools": tools_for_template(plan)} if plan.native else {}
    try:
        rendered = formatter(messages=chat, **kwargs)
    except Exception as exc:  # jinja2 errors, raise_exception() in templates
        raise EngineError(f"the chat template of {name!r} refused the messages: {exc}") from exc
    stops = rendered.stop
    extra = tuple(s for s in ([stops] if isinstance(stops, str) else stops or ()) if s)
    return Rendered(rendered.prompt, add_bos=not rendered.added_special, stops=extra)
