"""The wire shapes of Ollama's model management: ``/api/create``, ``/api/copy``, blobs.

``POST /api/create`` takes today's Ollama fields: ``model``, ``from`` (an alias or
``org/repo[:QUANT]``), ``adapters`` (file name to the ``sha256:…`` digest of a blob
uploaded first through ``/api/blobs``), ``system``, ``template`` (Jinja only),
``parameters`` (Ollama's names, bounded by core's limits), ``messages``, ``license``
and ``stream``. What this server cannot do is refused by field: ``files`` (weights
uploaded as blobs), ``quantize``, and the legacy ``modelfile`` text (``genius create``
parses a Modelfile on the client, as Ollama's CLI does).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, WrapValidator

from rusty_genius_core import (
    GO_TEMPLATE_REFUSAL,
    ChatMessage,
    ConfigError,
    Parameters,
    is_go_template,
)

from ._wire import Expect, Flag, ModelName, Text, invalid, refuse

__all__ = [
    "BlobDigest",
    "CopyRequest",
    "CreateMessage",
    "CreateRequest",
    "CreateStatus",
]

_DIGEST: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
_Model = Annotated[ModelName, Field(validation_alias=AliasChoices("model", "name"))]


def _digest(value: object, handler: Any) -> Any:
    text = handler(value)
    if not _DIGEST.fullmatch(text):
        raise invalid(f"{text!r} is not 'sha256:' followed by 64 lowercase hex digits")
    return text


BlobDigest = Annotated[str, WrapValidator(Expect("a string")), WrapValidator(_digest)]


def _template(value: object, handler: Any) -> Any:
    text = handler(value)
    if not text.strip():
        raise invalid("must be a non-empty Jinja chat template")
    if is_go_template(text):
        raise invalid(GO_TEMPLATE_REFUSAL)
    return text


def _parameters(value: object, handler: Any) -> Any:
    given = handler(value)
    try:
        Parameters.from_ollama(given)
    except ConfigError as exc:
        raise invalid(exc.message) from None
    return given


class CreateMessage(BaseModel):
    """One of the turns every request to the created model follows."""

    model_config = ConfigDict(extra="ignore")

    role: Annotated[
        Literal["system", "user", "assistant"],
        WrapValidator(Expect("one of system, user, assistant")),
    ]
    content: Text

    def message(self) -> ChatMessage:
        return ChatMessage(role=self.role, content=self.content)


class CreateRequest(BaseModel):
    """``POST /api/create``: a model over ``from`` with its own settings."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model: _Model
    from_: Annotated[ModelName | None, Field(alias="from")] = None
    adapters: dict[str, BlobDigest] | None = None
    """Adapter file name to the digest of its uploaded blob."""
    system: Text | None = None
    template: Annotated[Text, WrapValidator(_template)] | None = None
    parameters: Annotated[dict[str, Any], WrapValidator(_parameters)] | None = None
    """Ollama's parameter names (``temperature``, ``num_ctx``, ``stop``, …)."""
    messages: list[CreateMessage] | None = None
    license: Text | list[Text] | None = None
    stream: Flag | None = None
    files: Annotated[
        Any,
        refuse(
            None,
            {},
            reason="is not supported: a model is created over a base named in 'from', "
            "not from uploaded weights",
        ),
    ] = None
    quantize: Annotated[Any, refuse(None, "", reason="is not supported")] = None
    modelfile: Annotated[
        Any,
        refuse(
            None,
            "",
            reason="is not supported: a Modelfile is parsed by the client (genius create "
            "-f Modelfile), which sends from, system, template, parameters, messages",
        ),
    ] = None


class CopyRequest(BaseModel):
    """``POST /api/copy``: ``destination`` becomes a model that runs as ``source`` does."""

    model_config = ConfigDict(extra="ignore")

    source: ModelName
    destination: ModelName


class CreateStatus(BaseModel):
    """One line of ``/api/create``'s progress (``{"status": "success"}`` last)."""

    status: str
