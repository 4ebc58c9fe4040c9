"""The Ollama wire shapes under ``/api``: request models (validation, schema) and responses.

As with :mod:`._models_openai`, requests are validated by these models and the
response models describe the replies (the tests check every reply against them);
streamed lines are built as plain dicts. ``model`` may also be sent as ``name``, as
older Ollama clients do. Unknown fields and unknown ``options`` are ignored, as
Ollama ignores the options a runner does not know.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import annotated_types
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, WithJsonSchema, WrapValidator

from rusty_genius_core import Role
from rusty_genius_core import limits as _limits
from rusty_genius_core.limits import Limit

from ._models_tools import (  # noqa: TC001  # pydantic reads them
    Dimensions,
    EmbedInputs,
    OllamaToolCall,
    ToolDef,
)
from ._wire import (
    Bounded,
    ContextSize,
    Expect,
    Flag,
    KeepAlive,
    MinP,
    ModelName,
    RepeatPenalty,
    Stop,
    Temperature,
    Text,
    Think,
    TopK,
    TopP,
    invalid,
    refuse,
)

__all__ = [
    "NUM_PREDICT",
    "OLLAMA_SEED",
    "OWN_INFO",
    "GenerateRequest",
    "GenerateResponse",
    "OllamaChatRequest",
    "OllamaChatResponse",
    "OllamaEmbedRequest",
    "OllamaEmbeddingsRequest",
    "OllamaErrorResponse",
    "OllamaMessage",
    "Options",
    "PullRequest",
    "PullStatus",
    "RunningModels",
    "ShowRequest",
    "ShowResponse",
    "Tags",
    "Version",
]

OLLAMA_SEED: Final = Limit(None, _limits.SEED.hi, integer=True)
"""Ollama's ``seed``: the library's range, and any negative value asks for a random one."""
NUM_PREDICT: Final = Limit(None, _limits.MAX_TOKENS.hi, integer=True)
"""Ollama's ``num_predict``: up to the library's ``max_tokens``; negative is no limit, 0 refused."""


def _num_predict(value: object, handler: Any) -> Any:
    number = handler(value)
    if number == 0:
        raise invalid("must be positive, or negative for no limit")
    return number


class Options(BaseModel):
    """The runner options this server reads; ``num_ctx`` loads the model with that context."""

    model_config = ConfigDict(extra="ignore")

    temperature: Temperature | None = None
    top_p: TopP | None = None
    top_k: TopK | None = None
    min_p: MinP | None = None
    repeat_penalty: RepeatPenalty | None = None
    seed: Annotated[int, Bounded(OLLAMA_SEED)] | None = None
    num_predict: Annotated[int, Bounded(NUM_PREDICT), WrapValidator(_num_predict)] | None = None
    stop: Stop | None = None
    num_ctx: ContextSize | None = None


_ROLES: Final = tuple(role.value for role in Role)

_Model = Annotated[ModelName, Field(validation_alias=AliasChoices("model", "name"))]


def _format(value: object, handler: Any) -> Any:
    if value is None or value in ("", "json") or isinstance(value, dict):
        return handler(value)
    raise invalid('must be "json" or a JSON Schema object')


Format = Annotated[
    Literal["", "json"] | dict[str, Any],
    WrapValidator(_format),
    WithJsonSchema({"anyOf": [{"type": "string", "enum": ["", "json"]}, {"type": "object"}]}),
]


class OllamaRequestBase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Format | None = None
    """``"json"`` for any JSON object, or a JSON Schema the answer must satisfy."""
    images: Annotated[Any, refuse(None, "", [], {})] = None
    suffix: Annotated[Any, refuse(None, "", [], {})] = None
    model: _Model
    options: Options | None = None
    think: Think | None = None
    keep_alive: KeepAlive | None = None
    stream: Flag | None = None
    truncate: Flag | None = None
    """Cut a chat or prompt longer than the context to fit (the default), or refuse it."""

    @property
    def show_thinking(self) -> bool:
        """``think`` unset, true or a level shows the model's thoughts; ``false`` drops them."""
        return self.think is not False


class OllamaMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Annotated[
        Literal["system", "user", "assistant", "tool"],
        WrapValidator(Expect(f"one of {', '.join(_ROLES)}")),
    ]
    content: Text | None = None
    images: Annotated[Any, refuse(None, "", [], {})] = None
    tool_calls: list[OllamaToolCall] | None = None
    """The calls an assistant message made (arguments as an object, as Ollama sends them)."""
    tool_name: Text | None = None
    """Which tool a ``tool`` message answers for."""


class OllamaChatRequest(OllamaRequestBase):
    """``POST /api/chat``; no messages only loads the model (or unloads it, ``keep_alive`` 0)."""

    messages: list[OllamaMessage] | None = None
    tools: Annotated[list[ToolDef], annotated_types.MaxLen(_limits.MAX_TOOLS)] | None = None


class GenerateRequest(OllamaRequestBase):
    """``POST /api/generate``; an empty prompt only loads the model (or unloads it)."""

    tools: Annotated[Any, refuse(None, "", [], {}, reason="are supported on /api/chat only")] = None

    prompt: Text | None = None
    system: Text | None = None
    raw: Flag | None = None
    template: Text | None = None
    """Accepted and ignored: the model's own template applies."""


class OllamaEmbedRequest(BaseModel):
    """``POST /api/embed``: ``truncate`` (default true) cuts texts to the context."""

    model_config = ConfigDict(extra="ignore")

    model: _Model
    input: EmbedInputs
    truncate: Flag | None = None
    dimensions: Dimensions | None = None
    keep_alive: KeepAlive | None = None
    options: Options | None = None


class OllamaEmbeddingsRequest(BaseModel):
    """``POST /api/embeddings`` (legacy): one ``prompt``, one vector."""

    model_config = ConfigDict(extra="ignore")

    model: _Model
    prompt: Text
    keep_alive: KeepAlive | None = None
    options: Options | None = None


class PullRequest(BaseModel):
    """``POST /api/pull``: download a model, progress streamed unless ``stream`` is false."""

    model_config = ConfigDict(extra="ignore")

    model: _Model
    stream: Flag | None = None
    insecure: Flag | None = None
    """Accepted; the hub's TLS settings come from the environment."""


class DeleteRequest(BaseModel):
    """``DELETE /api/delete``: remove a downloaded model."""

    model_config = ConfigDict(extra="ignore")

    model: _Model


# -- responses ------------------------------------------------------------------------------

DoneReason = Literal["stop", "length", "cancelled", "load", "unload"]


class OllamaMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str
    thinking: str | None = None
    tool_calls: list[OllamaToolCall] | None = None


class _Timings(BaseModel):
    """On the last object: Ollama's timings in nanoseconds."""

    done: bool
    done_reason: DoneReason | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None


class OllamaChatResponse(_Timings):
    """One NDJSON line of ``/api/chat`` (or the whole answer with ``stream`` false)."""

    model: str
    created_at: str
    message: OllamaMessageOut


class GenerateResponse(_Timings):
    """One NDJSON line of ``/api/generate`` (or the whole answer with ``stream`` false)."""

    model: str
    created_at: str
    response: str
    thinking: str | None = None


class PullStatus(BaseModel):
    """One NDJSON line of ``/api/pull``."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


class ModelDetails(BaseModel):
    parent_model: str
    format: str
    family: str
    families: list[str] | None
    parameter_size: str
    quantization_level: str


class Tag(BaseModel):
    name: str
    model: str
    modified_at: str
    size: int
    digest: str
    details: ModelDetails


class Tags(BaseModel):
    models: list[Tag]


class RunningModel(BaseModel):
    name: str
    model: str
    size: int
    digest: str
    details: ModelDetails
    expires_at: str
    size_vram: int


class RunningModels(BaseModel):
    models: list[RunningModel]


OWN_INFO: Final = "rusty_genius."
"""The prefix of this server's own ``model_info`` keys in ``/api/show``: ``reference``,
``path``, ``size``, ``quantization``, ``gguf_version``, ``tensor_count``."""


class Version(BaseModel):
    version: str


class Health(BaseModel):
    status: Literal["ok", "stopped"]
    backend: str
    waiting: int
    streaming: int


class OllamaErrorResponse(BaseModel):
    """Every error outside ``/v1``: the message names the offending field."""

    error: str


# -- /api/show --------------------------------------------------------------------------------


class ShowRequest(BaseModel):
    """``POST /api/show``."""

    model_config = ConfigDict(extra="ignore")

    model: _Model
    verbose: Flag | None = None


class ShowResponse(BaseModel):
    """``/api/show``'s answer. ``model_info`` holds GGUF keys (``general.architecture``,
    ``ARCH.context_length``, …) and this server's own, under ``rusty_genius.`` (the file's
    path and size, GGUF version, tensor count, quantization)."""

    modelfile: str
    parameters: str
    template: str
    details: ModelDetails
    model_info: dict[str, Any]
    capabilities: list[Literal["completion", "tools", "embedding", "thinking", "vision", "insert"]]
    modified_at: str
    system: str | None = None
    """A created model's system prompt (as are the fields below)."""
    messages: list[dict[str, str]] | None = None
    license: str | None = None
    adapters: list[dict[str, Any]] | None = None
