"""Wire shapes of tools, tool calls, response formats and embeddings, for both APIs.

OpenAI's: ``tools`` (function tools), ``tool_choice``, an assistant message's
``tool_calls`` (arguments as JSON text), ``response_format`` (``text``,
``json_object``, ``json_schema``), and ``POST /v1/embeddings``. Ollama's: the same tools,
``message.tool_calls`` with arguments as an object, ``format`` (``"json"`` or a schema),
``POST /api/embed`` and the legacy ``POST /api/embeddings``. A schema must be a JSON
object; whether it is a valid JSON Schema is checked when the request is turned into
the protocol's values (``_agent_wire``), with the field named.
"""

from __future__ import annotations

import json
import warnings
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Strict,
    StringConstraints,
    WithJsonSchema,
    WrapValidator,
)

from rusty_genius_core import limits

from ._errors import describe_value
from ._wire import Bounded, Expect, Flag, KeepAlive, ModelName, Text, invalid, unicode

__all__ = [
    "EmbeddingData",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "FunctionCall",
    "FunctionDef",
    "JsonSchemaFormat",
    "NamedFunction",
    "NamedToolChoice",
    "OllamaEmbedResponse",
    "OllamaEmbeddingsResponse",
    "OllamaFunctionCall",
    "OllamaToolCall",
    "ResponseFormatIn",
    "ToolCallDeltaOut",
    "ToolCallIn",
    "ToolCallOut",
    "ToolDef",
]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _json_object(value: object, handler: Any) -> Any:
    if not isinstance(value, dict):
        raise invalid(f"must be a JSON object (a JSON Schema), got {describe_value(value)}")
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise invalid("must be valid Unicode text throughout, got a lone surrogate") from None
    except (ValueError, TypeError) as exc:  # a float too large for JSON, as an infinity
        raise invalid(f"must hold only finite JSON values ({exc})") from None
    return handler(value)


JsonObject = Annotated[
    dict[str, Any], WrapValidator(_json_object), WithJsonSchema({"type": "object"})
]
ToolName = Annotated[
    str,
    Strict(),
    WrapValidator(Expect("a string")),
    StringConstraints(
        min_length=1, max_length=limits.TOOL_NAME_MAX_LENGTH, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
"""A function's name: letters, digits, ``_``, ``.`` and ``-``, as OpenAI allows."""


class FunctionDef(_Loose):
    name: ToolName
    description: Text | None = None
    parameters: JsonObject | None = None
    strict: Flag | None = None


class ToolDef(_Loose):
    """``{"type": "function", "function": {...}}``, as OpenAI and Ollama both take tools."""

    type: Annotated[Literal["function"], WrapValidator(Expect("'function'"))] = "function"
    function: FunctionDef


class NamedFunction(_Loose):
    name: ToolName


class NamedToolChoice(_Loose):
    type: Annotated[Literal["function"], WrapValidator(Expect("'function'"))] = "function"
    function: NamedFunction


class FunctionCall(_Loose):
    name: ToolName
    arguments: Text = "{}"


class ToolCallIn(_Loose):
    """A call an assistant message made earlier in the conversation (OpenAI's shape)."""

    id: Text | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


with warnings.catch_warnings():  # OpenAI's field is called "schema", as BaseModel's method
    warnings.filterwarnings("ignore", 'Field name "schema"', UserWarning)

    class JsonSchemaFormat(_Loose):
        name: ToolName = "response"
        description: Text | None = None
        schema: JsonObject | None = None  # type: ignore[assignment]
        strict: Flag | None = None


class ResponseFormatIn(_Loose):
    type: Annotated[
        Literal["text", "json_object", "json_schema"],
        WrapValidator(Expect("one of 'text', 'json_object', 'json_schema'")),
    ]
    json_schema: JsonSchemaFormat | None = None


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"]
    function: FunctionCall


class _DeltaFunction(BaseModel):
    name: str | None = None
    arguments: str


class ToolCallDeltaOut(BaseModel):
    """One streamed piece of a call: the first has ``id``, ``type`` and ``function.name``
    (and empty ``arguments``), the rest only argument fragments, as OpenAI streams them."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: _DeltaFunction


# -- Ollama's tool calls ----------------------------------------------------------------------


class OllamaFunctionCall(_Loose):
    name: ToolName
    arguments: JsonObject = {}


class OllamaToolCall(_Loose):
    function: OllamaFunctionCall


# -- embeddings -------------------------------------------------------------------------------


def _inputs(value: object, handler: Any) -> Any:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise invalid(
            f"must be a string or a non-empty array of strings, got {describe_value(value)}"
        )
    if len(items) > limits.MAX_EMBED_INPUTS:
        raise invalid(f"allows at most {limits.MAX_EMBED_INPUTS} texts, got {len(items)}")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise invalid(
                f"item {i} must be a string, got {describe_value(item)}"
                + ("; token arrays are not supported" if isinstance(item, int | list) else "")
            )
        unicode(item)
    return handler(items)


EmbedInputs = Annotated[
    list[str],
    WrapValidator(_inputs),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        }
    ),
]
Dimensions = Annotated[int, Bounded(limits.EMBED_DIMENSIONS)]


class EmbeddingRequest(_Loose):
    """``POST /v1/embeddings``."""

    model: ModelName
    input: EmbedInputs
    encoding_format: Annotated[
        Literal["float", "base64"], WrapValidator(Expect("'float' or 'base64'"))
    ] = "float"
    dimensions: Dimensions | None = None
    keep_alive: KeepAlive | None = None


class EmbeddingData(BaseModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str
    """The vector, or its little-endian float32 bytes in base64 (``encoding_format``)."""


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"]
    data: list[EmbeddingData]
    model: str
    usage: EmbeddingUsage


class OllamaEmbedResponse(BaseModel):
    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int
    prompt_eval_count: int


class OllamaEmbeddingsResponse(BaseModel):
    embedding: list[float]
