"""The brainstem's wire protocol: one input stream, one output stream, ids to correlate.

Every client request is a :class:`BrainstemInput` carrying a ``request_id`` the
client chooses; every answer is a :class:`BrainstemOutput` with the same id.
Each request ends with exactly one final body (see :func:`is_final`).
"""

from __future__ import annotations

import enum
import re
from typing import Final

import attrs

from ._config import InferenceConfig, LoadOptions
from ._errors import ProtocolError
from ._events import (
    AssetComplete,
    AssetEvent,
    AssetFailed,
    AssetProgress,
    AssetStarted,
    Complete,
    Content,
    InferenceEvent,
    ProcessStart,
    Thought,
)
from ._limits import BYTE_SIZE, DURATION, KEEP_ALIVE, REQUEST_ID_MAX_LENGTH
from ._validators import as_tuple, enum_converter, non_empty_str, number_in, typed

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
_CHECKED_IDS: Final[set[str]] = set()
"""Request ids that passed the check. Every output of a request carries its id again, so
the check runs once per id, not once per token; cleared when it grows past a bound."""
_CHECKED_IDS_MAX: Final = 4096


def _request_id(inst: object, attribute: attrs.Attribute[str], value: object) -> None:
    exact = type(value) is str  # a subclass may redefine == and hash: never cached
    if exact and value in _CHECKED_IDS:
        return
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise ProtocolError(
            f"{type(inst).__name__}.{attribute.name} must be 1-{REQUEST_ID_MAX_LENGTH} characters of "
            f"letters, digits, '.', '_', ':' or '-', got {value!r}"
        )
    if exact:
        if len(_CHECKED_IDS) >= _CHECKED_IDS_MAX:
            _CHECKED_IDS.clear()
        _CHECKED_IDS.add(value)


class Role(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


def _role(value: object) -> Role:
    return enum_converter(Role, ProtocolError, "ChatMessage.role")(value)


@attrs.frozen(kw_only=True)
class ChatMessage:
    role: Role = attrs.field(converter=_role)
    content: str = attrs.field(validator=typed(str, ProtocolError))


_KEEP_ALIVE: Final = number_in(KEEP_ALIVE, ProtocolError, optional=True)


@attrs.frozen(kw_only=True)
class LoadModel:
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


@attrs.frozen(kw_only=True)
class Infer:
    """Run ``model`` on a raw ``prompt`` or on chat ``messages`` (exactly one of them).

    ``keep_alive`` overrides the lifecycle for this request, in seconds, like
    Ollama's: ``0`` unloads after it, a negative value keeps the model forever.
    """

    model: str = attrs.field(validator=non_empty_str(ProtocolError))
    prompt: str | None = attrs.field(
        default=None, validator=typed((str, type(None)), ProtocolError)
    )
    messages: tuple[ChatMessage, ...] | None = attrs.field(default=None, converter=as_tuple)
    config: InferenceConfig = attrs.field(
        factory=InferenceConfig, validator=typed(InferenceConfig, ProtocolError)
    )
    keep_alive: float | None = attrs.field(default=None, validator=_KEEP_ALIVE)

    def __attrs_post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ProtocolError("Infer needs exactly one of 'prompt' or 'messages'")
        if self.messages is not None:
            if not isinstance(self.messages, tuple) or not self.messages:
                raise ProtocolError("Infer.messages must be a non-empty sequence of ChatMessage")
            for i, m in enumerate(self.messages):
                if not isinstance(m, ChatMessage):
                    raise ProtocolError(f"Infer.messages[{i}] must be a ChatMessage, got {m!r}")


@attrs.frozen(kw_only=True)
class Unload:
    model: str = attrs.field(validator=non_empty_str(ProtocolError))


@attrs.frozen(kw_only=True)
class Cancel:
    """Stop request ``target``, queued or running; it still ends with its final event."""

    target: str = attrs.field(validator=_request_id)


@attrs.frozen
class ListModels:
    """Ask for the registry's models with their loaded state and expiry (Ollama's ``ps``)."""


@attrs.frozen(kw_only=True)
class Shutdown:
    """Stop the loop; ``drain`` lets running requests finish, otherwise they are cancelled."""

    drain: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))


Command = LoadModel | Infer | Unload | Cancel | ListModels | Shutdown
_COMMANDS: Final = (LoadModel, Infer, Unload, Cancel, ListModels, Shutdown)


@attrs.frozen(kw_only=True)
class BrainstemInput:
    request_id: str = attrs.field(validator=_request_id)
    command: Command = attrs.field(validator=typed(_COMMANDS, ProtocolError))


@attrs.frozen(kw_only=True)
class ModelStatus:
    """One row of :class:`ModelList`. ``expires_at`` is a Unix time, ``None`` for never."""

    name: str = attrs.field(validator=non_empty_str(ProtocolError))
    repo: str = attrs.field(default="", validator=typed(str, ProtocolError))
    filename: str = attrs.field(default="", validator=typed(str, ProtocolError))
    quantization: str = attrs.field(default="", validator=typed(str, ProtocolError))
    size: int | None = attrs.field(
        default=None, validator=number_in(BYTE_SIZE, ProtocolError, optional=True)
    )
    path: str | None = attrs.field(default=None, validator=typed((str, type(None)), ProtocolError))
    downloaded: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))
    loaded: bool = attrs.field(default=False, validator=typed(bool, ProtocolError))
    expires_at: float | None = attrs.field(
        default=None, validator=number_in(DURATION, ProtocolError, optional=True)
    )


@attrs.frozen(kw_only=True)
class ModelList:
    models: tuple[ModelStatus, ...] = attrs.field(default=(), converter=as_tuple)

    @models.validator
    def _check(self, _a: attrs.Attribute[tuple[ModelStatus, ...]], value: object) -> None:
        if not isinstance(value, tuple) or not all(isinstance(m, ModelStatus) for m in value):
            raise ProtocolError("ModelList.models must be a sequence of ModelStatus")


@attrs.frozen(kw_only=True)
class ModelLoaded:
    """Final answer to :class:`LoadModel`."""

    model: str = attrs.field(validator=non_empty_str(ProtocolError))
    load_duration: float = attrs.field(default=0.0, validator=number_in(DURATION, ProtocolError))


@attrs.frozen(kw_only=True)
class Ack:
    """Final answer to :class:`Unload`, :class:`Cancel` and :class:`Shutdown`."""

    detail: str = attrs.field(default="", validator=typed(str, ProtocolError))


@attrs.frozen(kw_only=True)
class ErrorReport:
    """A request failed. ``kind`` is the error class name (``AssetError``, ``BusyError``…)."""

    kind: str = attrs.field(validator=non_empty_str(ProtocolError))
    message: str = attrs.field(validator=non_empty_str(ProtocolError))


OutputBody = InferenceEvent | AssetEvent | ModelList | ModelLoaded | Ack | ErrorReport
_BODIES: Final = (
    ProcessStart, Thought, Content, Complete,
    AssetStarted, AssetProgress, AssetComplete, AssetFailed,
    ModelList, ModelLoaded, Ack, ErrorReport,
)  # fmt: skip


@attrs.frozen(kw_only=True)
class BrainstemOutput:
    request_id: str = attrs.field(validator=_request_id)
    body: OutputBody = attrs.field(validator=typed(_BODIES, ProtocolError))


def is_final(body: OutputBody) -> bool:
    """True for the one body that ends a request: nothing follows it for that id."""
    return isinstance(body, Complete | ModelList | ModelLoaded | Ack | ErrorReport)
