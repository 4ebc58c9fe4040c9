"""The OpenAI wire shapes: request models (validation and schema) and response models (schema).

Requests are validated by these models when they arrive; the response models describe
what the handlers send (``/openapi.json``, ``/docs``), and the tests check every reply
against them. The server builds its streamed chunks as plain dicts, so that no token
pays for a model's validation.

Unknown fields are ignored: clients send extras freely. Fields this server cannot
honour are refused by name (``n`` other than 1, ``logprobs``, ``functions``, ...).
Tools, tool calls and response formats are declared in ``_models_tools``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, WithJsonSchema, WrapValidator

from rusty_genius_core.limits import MAX_TOOLS, Limit

from ._errors import describe_value
from ._models_tools import (
    NamedToolChoice,
    ResponseFormatIn,
    ToolCallDeltaOut,
    ToolCallIn,
    ToolCallOut,
    ToolDef,
)
from ._wire import (
    Bounded,
    Expect,
    Flag,
    KeepAlive,
    MaxTokens,
    MinP,
    ModelName,
    RepeatPenalty,
    Seed,
    Stop,
    Temperature,
    Text,
    TopK,
    TopP,
    invalid,
    refuse,
    unicode,
)

__all__ = [
    "PENALTY",
    "ROLES",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessageIn",
    "Completion",
    "CompletionChunk",
    "CompletionRequest",
    "ModelCard",
    "ModelList",
    "OpenAIErrorResponse",
    "TextPart",
    "Usage",
]

PENALTY: Final = Limit(-2.0, 2.0)
"""OpenAI's own range of ``frequency_penalty`` and ``presence_penalty`` (additive)."""

ROLES: Final = ("system", "developer", "user", "assistant", "tool")

Penalty = Annotated[float, Bounded(PENALTY)]
_One = Annotated[
    int,
    refuse(1, reason="must be 1; one choice per request is supported"),
    WithJsonSchema({"type": "integer", "enum": [1]}),
]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Loose):
    """A text part of a message's content (``input_text`` is the Responses API's spelling)."""

    type: Literal["text", "input_text"]
    text: Text


def _content(value: object, handler: Any) -> Any:
    if value is None or isinstance(value, str):
        return handler(value if value is None else unicode(value))
    if not isinstance(value, list):
        raise invalid(f"must be a string or an array of text parts, got {describe_value(value)}")
    for j, part in enumerate(value):
        if not isinstance(part, dict):
            raise invalid(f"part {j} must be an object, got {describe_value(part)}")
        if part.get("type") not in ("text", "input_text"):
            raise invalid(
                f"part {j} has type {part.get('type')!r}, which is not supported; "
                "only text parts are"
            )
        if not isinstance(part.get("text"), str):
            raise invalid(f"part {j} must have a 'text' string")
        unicode(part["text"])
    return handler(value)


class ChatMessageIn(_Loose):
    """One message of a chat request; ``developer`` is read as ``system``."""

    role: Annotated[
        Literal["system", "developer", "user", "assistant", "tool"],
        WrapValidator(Expect(f"one of {', '.join(ROLES)}")),
    ]
    content: Annotated[str | list[TextPart] | None, WrapValidator(_content)] = None
    tool_calls: list[ToolCallIn] | None = None
    """The calls an assistant message made (OpenAI's shape: arguments as JSON text)."""
    tool_call_id: Text | None = None
    """Which call a ``tool`` message answers."""
    name: Text | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


def _messages(value: object, handler: Any) -> Any:
    if value is None:
        raise invalid("is required")
    if not isinstance(value, list):
        raise invalid(f"must be an array of messages, got {describe_value(value)}")
    if not value:
        raise invalid("must not be empty")
    return handler(value)


class StreamOptions(_Loose):
    include_usage: Flag | None = None


class OpenAIRequestBase(_Loose):
    """The fields chat and completions share (in the order they are checked)."""

    n: _One | None = None
    best_of: _One | None = None
    logprobs: Annotated[Any, refuse(None, False, 0)] = None
    echo: Annotated[Any, refuse(None, False)] = None
    suffix: Annotated[Any, refuse(None, "")] = None
    tools: Annotated[Any, refuse(None, [], reason="is supported on /v1/chat/completions only")] = (
        None
    )
    functions: Annotated[
        Any, refuse(None, [], reason="(the legacy function calling) is not supported; use tools")
    ] = None
    logit_bias: Annotated[Any, refuse(None, {})] = None
    tool_choice: Annotated[Any, refuse(None, "none", "auto")] = None
    response_format: ResponseFormatIn | None = None
    model: ModelName
    temperature: Temperature | None = None
    top_p: TopP | None = None
    top_k: TopK | None = None
    min_p: MinP | None = None
    repeat_penalty: RepeatPenalty | None = None
    repetition_penalty: RepeatPenalty | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    max_completion_tokens: MaxTokens | None = None
    max_tokens: MaxTokens | None = None
    seed: Seed | None = None
    cache_prompt: Flag | None = None  # llama-server's: reuse a slot's cached prefix
    stop: Stop | None = None
    include_reasoning: Flag | None = None
    keep_alive: KeepAlive | None = None
    stream: Flag | None = None
    stream_options: StreamOptions | None = None


ToolChoiceIn = Annotated[
    Literal["none", "auto", "required"] | NamedToolChoice,
    WrapValidator(Expect("'none', 'auto', 'required' or {\"type\": \"function\", ...}")),
]


class ChatCompletionRequest(OpenAIRequestBase):
    """``POST /v1/chat/completions``."""

    messages: Annotated[list[ChatMessageIn], annotated_types.MinLen(1), WrapValidator(_messages)]
    tools: Annotated[list[ToolDef], annotated_types.MaxLen(MAX_TOOLS)] | None = None
    tool_choice: ToolChoiceIn | None = None
    parallel_tool_calls: Flag | None = None


def _prompt(value: object, handler: Any) -> Any:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]
    if value is None:
        raise invalid("is required")
    if not isinstance(value, str):
        raise invalid(
            "must be a string (or a list of exactly one string); "
            "batches and token arrays are not supported"
        )
    if not value:
        raise invalid("must not be empty")
    return handler(unicode(value))


class CompletionRequest(OpenAIRequestBase):
    """``POST /v1/completions``: the prompt goes to the model as-is (no chat template)."""

    prompt: Annotated[
        str,
        WrapValidator(_prompt),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "minItems": 1,
                        "maxItems": 1,
                    },
                ]
            }
        ),
    ]


# -- responses ------------------------------------------------------------------------------

FinishReason = Literal["stop", "length", "tool_calls", "cancelled"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str | None
    """The answer; ``null`` when the answer is tool calls only."""
    reasoning_content: str | None
    """The model's ``<think>`` text, never inside ``content``; ``null`` when there was none."""
    tool_calls: list[ToolCallOut] | None = None


class ChatChoice(BaseModel):
    index: int
    message: ChatMessageOut
    logprobs: None
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    """A whole chat answer (``stream`` false)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    system_fingerprint: None
    choices: list[ChatChoice]
    usage: Usage


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDeltaOut] | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    logprobs: None
    finish_reason: FinishReason | None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed chat answer; the stream ends with ``[DONE]``.

    With ``stream_options.include_usage`` every chunk has ``usage: null`` and a last
    chunk has empty ``choices`` and the usage, as OpenAI sends it.
    """

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    system_fingerprint: None
    choices: list[ChunkChoice]
    usage: Usage | None = None


class CompletionChoice(BaseModel):
    index: int
    text: str
    reasoning_content: str | None = None
    logprobs: None
    finish_reason: FinishReason | None


class Completion(BaseModel):
    """A whole text completion (``stream`` false)."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    system_fingerprint: None
    choices: list[CompletionChoice]
    usage: Usage


class CompletionChunk(BaseModel):
    """One server-sent event of a streamed completion; the stream ends with ``[DONE]``."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    system_fingerprint: None
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class OpenAIError(BaseModel):
    message: str
    type: str
    param: str | None
    """The offending field's path (``messages[0].content``), when one is to blame."""
    code: str | None


class OpenAIErrorResponse(BaseModel):
    """Every error under ``/v1``, with ``type`` ``invalid_request_error`` or ``server_error``."""

    error: OpenAIError
