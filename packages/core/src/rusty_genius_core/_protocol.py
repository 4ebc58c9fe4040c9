"""The brainstem's wire protocol: one input stream, one output stream, ids to correlate.

Every client request is a :class:`BrainstemInput` carrying a ``request_id`` the
client chooses; every answer is a :class:`BrainstemOutput` with the same id.
Each request ends with exactly one final body (see :func:`is_final`).
"""

from __future__ import annotations

import enum
import re
from typing import Any, Final

import attrs

from ._config import InferenceConfig, LoadOptions
from ._converter import enums
from ._embed import Embed, Embeddings
from ._errors import GeniusError, ProtocolError
from ._events import (
    AssetEvent,
    Complete,
    InferenceEvent,
)
from ._limits import BYTE_SIZE, DURATION, KEEP_ALIVE, MAX_TOOLS, REQUEST_ID_MAX_LENGTH
from ._record import Record
from ._tools import ResponseFormat, Tool, ToolCall, ToolChoice
from ._tools import _check_tool_choice as check_tool_choice
from ._validators import (
    Refusal,
    as_tuple,
    as_validator,
    at_most,
    decoded,
    each_is,
    enum_converter,
    non_empty,
    non_empty_str,
    number,
    number_in,
    typed,
)

__all__ = [
    "Ack",
    "BrainstemInput",
    "BrainstemOutput",
    "Cancel",
    "ChatMessage",
    "Command",
    "ErrorReport",
    "Infer",
    "ListModels",
    "LoadModel",
    "ModelList",
    "ModelLoaded",
    "ModelStatus",
    "OutputBody",
    "Role",
    "Shutdown",
    "Unload",
    "is_final",
]

_REQUEST_ID: Final = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_MAX_LENGTH}}}")


def _request_id_check(value: Any) -> Any:
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise Refusal(
            f"must be 1-{REQUEST_ID_MAX_LENGTH} characters of "
            f"letters, digits, '.', '_', ':' or '-', got {value!r}"
        )
    return value


_request_id: Final = as_validator(_request_id_check, ProtocolError)


class Role(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


enums(Role)


def _role(value: object) -> Role:
    return enum_converter(Role, ProtocolError, "ChatMessage.role")(value)


def _tool_calls(value: Any) -> Any:
    if not isinstance(value, tuple):
        raise Refusal(f"must be a sequence of ToolCall, got {value!r}")
    each_is(value, ToolCall, "a ToolCall")
    return value


_optional_name: Final = as_validator(non_empty(optional=True), ProtocolError)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ChatMessage(Record):
    """One turn of a chat.

    An ``assistant`` message may carry the ``tool_calls`` it made (its ``content`` then
    often empty); a ``tool`` message answers one of them: ``tool_call_id`` is the call's
    id (OpenAI) and ``name`` the tool's name (Ollama's ``tool_name``), either or both.
    """

    role: Role = attrs.field(converter=_role)
    content: str = attrs.field(validator=typed(str, ProtocolError))
    tool_calls: tuple[ToolCall, ...] = attrs.field(
        default=(), converter=as_tuple, validator=as_validator(_tool_calls, ProtocolError)
    )
    tool_call_id: str | None = attrs.field(default=None, validator=_optional_name)
    name: str | None = attrs.field(default=None, validator=_optional_name)

    def __attrs_post_init__(self) -> None:
        if self.tool_calls and self.role is not Role.ASSISTANT:
            raise ProtocolError(
                f"ChatMessage.tool_calls belong to an assistant message, not {self.role.value!r}"
            )
        if self.tool_call_id is not None and self.role is not Role.TOOL:
            raise ProtocolError(
                f"ChatMessage.tool_call_id belongs to a tool message, not {self.role.value!r}"
            )


_KEEP_ALIVE: Final = number_in(KEEP_ALIVE, ProtocolError, optional=True)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LoadModel(Record):
    """Fetch (through facecrab) and load ``model`` so later requests start warm.

    ``keep_alive`` sets how long the model stays loaded once idle, in seconds, as
    :attr:`Infer.keep_alive` does (Ollama's load-only request): ``0`` unloads it as
    soon as nothing runs or waits on it, a negative value keeps it forever, ``None``
    leaves it to the brainstem's strategy (which keeps a preloaded model until its
    first request).
    """

    model: str = attrs.field(validator=non_empty_str(ProtocolError))
    options: LoadOptions = attrs.field(
        factory=LoadOptions, validator=typed(LoadOptions, ProtocolError)
    )
    keep_alive: float | None = attrs.field(default=None, validator=_KEEP_ALIVE)


def _chat(value: Any) -> Any:
    if value is None:
        return value
    if not isinstance(value, tuple) or not value:
        raise Refusal("must be a non-empty sequence of ChatMessage")
    each_is(value, ChatMessage, "a ChatMessage")
    return value


def _tools(value: Any) -> Any:
    if not isinstance(value, tuple):
        raise Refusal(f"must be a sequence of Tool, got {value!r}")
    at_most(value, MAX_TOOLS, "tools")
    each_is(value, Tool, "a Tool")
    return value


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Infer(Record):
    """Run ``model`` on a raw ``prompt`` or on chat ``messages`` (exactly one of them).

    ``keep_alive`` overrides the lifecycle for this request, in seconds, like
    Ollama's: ``0`` unloads after it, a negative value keeps the model forever.
    ``tools`` the model may call as ``tool_choice`` allows (calls stream as
    :class:`~rusty_genius_core.ToolCallDelta`); ``response_format`` constrains the text.
    """

    model: str = attrs.field(validator=non_empty_str(ProtocolError))
    prompt: str | None = attrs.field(
        default=None, validator=typed((str, type(None)), ProtocolError)
    )
    messages: tuple[ChatMessage, ...] | None = attrs.field(
        default=None, converter=as_tuple, validator=as_validator(_chat, ProtocolError)
    )
    config: InferenceConfig = attrs.field(
        factory=InferenceConfig, validator=typed(InferenceConfig, ProtocolError)
    )
    keep_alive: float | None = attrs.field(default=None, validator=_KEEP_ALIVE)
    tools: tuple[Tool, ...] = attrs.field(
        default=(), converter=as_tuple, validator=as_validator(_tools, ProtocolError)
    )
    tool_choice: ToolChoice = attrs.field(
        factory=ToolChoice, validator=typed(ToolChoice, ProtocolError)
    )
    response_format: ResponseFormat = attrs.field(
        factory=ResponseFormat, validator=typed(ResponseFormat, ProtocolError)
    )

    def __attrs_post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ProtocolError("Infer needs exactly one of 'prompt' or 'messages'")
        check_tool_choice(self.tools, self.tool_choice, "Infer")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Unload(Record):
    model: str = attrs.field(validator=non_empty_str(ProtocolError))


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Cancel(Record):
    """Stop request ``target``, queued or running; it still ends with its final event."""

    target: str = attrs.field(validator=_request_id)


@attrs.frozen(repr=False, eq=False)
class ListModels(Record):
    """Ask for the registry's models with their loaded state and expiry (Ollama's ``ps``)."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Shutdown(Record):
    """Stop the loop; ``drain`` lets running requests finish, otherwise they are cancelled."""

    drain: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))


Command = LoadModel | Infer | Embed | Unload | Cancel | ListModels | Shutdown
_COMMANDS: Final = (LoadModel, Infer, Embed, Unload, Cancel, ListModels, Shutdown)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class BrainstemInput(Record):
    request_id: str = attrs.field(validator=_request_id)
    command: Command = attrs.field(validator=typed(_COMMANDS, ProtocolError))


# Outputs: the brainstem builds them, mypy types them; decoding runs the ``decoded`` checks.

_named: Final = decoded(non_empty())


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ModelStatus(Record):
    """One row of :class:`ModelList`. ``expires_at`` is a Unix time, ``None`` for never."""

    name: str = attrs.field(metadata=_named)
    repo: str = ""
    filename: str = ""
    quantization: str = ""
    size: int | None = attrs.field(default=None, metadata=decoded(number(BYTE_SIZE, optional=True)))
    path: str | None = None
    downloaded: bool = False
    loaded: bool = False
    expires_at: float | None = attrs.field(
        default=None, metadata=decoded(number(DURATION, optional=True))
    )


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ModelList(Record):
    models: tuple[ModelStatus, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ModelLoaded(Record):
    """Final answer to :class:`LoadModel`."""

    model: str = attrs.field(metadata=_named)
    load_duration: float = attrs.field(default=0.0, metadata=decoded(number(DURATION)))


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Ack(Record):
    """Final answer to :class:`Unload`, :class:`Cancel` and :class:`Shutdown`."""

    detail: str = ""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ErrorReport(Record):
    """A request failed with an ``error`` of this class (``AssetError``, ``BusyError``…).

    On the wire the class is its name, looked up again with
    :func:`~rusty_genius_core.error_class` when decoded.
    """

    error: type[GeniusError]
    message: str = attrs.field(metadata=_named)

    @property
    def kind(self) -> str:
        """The error class's name, as the CLI and the servers print it."""
        return self.error.__name__


OutputBody = InferenceEvent | AssetEvent | ModelList | ModelLoaded | Embeddings | Ack | ErrorReport


@attrs.frozen(kw_only=True, repr=False, eq=False)
class BrainstemOutput(Record):
    request_id: str = attrs.field(metadata=decoded(_request_id_check))
    body: OutputBody


_FINAL_BODIES = (Complete, ModelList, ModelLoaded, Embeddings, Ack, ErrorReport)


def is_final(body: OutputBody) -> bool:
    """True for the one body that ends a request: nothing follows it for that id."""
    return isinstance(body, _FINAL_BODIES)  # a tuple: a union would be built on each call
