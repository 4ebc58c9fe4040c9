"""The brainstem's wire protocol: commands in, output bodies out, and their JSON codec.

``BrainstemInput`` wraps a :data:`Command` (``Infer``, ``LoadModel``, ``Cancel``...) with a
request id; the brainstem answers with ``BrainstemOutput`` bodies (the events, ``Ack``,
``ModelList``, ``ErrorReport``...) until :func:`is_final` says a request is done.
:func:`to_json` / :func:`from_json` (and the ``dict`` pair) encode every message type
:func:`message_types` lists. :class:`AnswerBuilder` folds a request's events into an
:class:`~rusty_genius.Answer`. The events and ``ChatMessage`` are in :mod:`rusty_genius`.
"""

from __future__ import annotations

from rusty_genius_core import Ack as Ack
from rusty_genius_core import BrainstemInput as BrainstemInput
from rusty_genius_core import BrainstemOutput as BrainstemOutput
from rusty_genius_core import Cancel as Cancel
from rusty_genius_core import Command as Command
from rusty_genius_core import Embed as Embed
from rusty_genius_core import Embeddings as Embeddings
from rusty_genius_core import ErrorReport as ErrorReport
from rusty_genius_core import Infer as Infer
from rusty_genius_core import JsonObject as JsonObject
from rusty_genius_core import ListModels as ListModels
from rusty_genius_core import LoadModel as LoadModel
from rusty_genius_core import ModelList as ModelList
from rusty_genius_core import ModelLoaded as ModelLoaded
from rusty_genius_core import ModelStatus as ModelStatus
from rusty_genius_core import OutputBody as OutputBody
from rusty_genius_core import ResponseKind as ResponseKind
from rusty_genius_core import Shutdown as Shutdown
from rusty_genius_core import ToolCallCollector as ToolCallCollector
from rusty_genius_core import ToolCallDelta as ToolCallDelta
from rusty_genius_core import ToolChoice as ToolChoice
from rusty_genius_core import ToolChoiceMode as ToolChoiceMode
from rusty_genius_core import Unload as Unload
from rusty_genius_core import from_dict as from_dict
from rusty_genius_core import from_json as from_json
from rusty_genius_core import is_final as is_final
from rusty_genius_core import message_types as message_types
from rusty_genius_core import to_dict as to_dict
from rusty_genius_core import to_json as to_json
from rusty_genius_core._public import publish as _publish

from ._agent_args import FormatLike as FormatLike
from ._agent_args import ToolChoiceLike as ToolChoiceLike
from ._agent_args import ToolLike as ToolLike
from ._answer import AnswerBuilder as AnswerBuilder

__all__ = [
    "Ack",
    "AnswerBuilder",
    "BrainstemInput",
    "BrainstemOutput",
    "Cancel",
    "Command",
    "Embed",
    "Embeddings",
    "ErrorReport",
    "FormatLike",
    "Infer",
    "JsonObject",
    "ListModels",
    "LoadModel",
    "ModelList",
    "ModelLoaded",
    "ModelStatus",
    "OutputBody",
    "ResponseKind",
    "Shutdown",
    "ToolCallCollector",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceLike",
    "ToolChoiceMode",
    "ToolLike",
    "Unload",
    "from_dict",
    "from_json",
    "is_final",
    "message_types",
    "to_dict",
    "to_json",
]

_publish(__name__)
