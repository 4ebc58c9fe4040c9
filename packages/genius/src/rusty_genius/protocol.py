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
from rusty_genius_core import ErrorReport as ErrorReport
from rusty_genius_core import Infer as Infer
from rusty_genius_core import ListModels as ListModels
from rusty_genius_core import LoadModel as LoadModel
from rusty_genius_core import ModelList as ModelList
from rusty_genius_core import ModelLoaded as ModelLoaded
from rusty_genius_core import ModelStatus as ModelStatus
from rusty_genius_core import OutputBody as OutputBody
from rusty_genius_core import Shutdown as Shutdown
from rusty_genius_core import Unload as Unload
from rusty_genius_core import from_dict as from_dict
from rusty_genius_core import from_json as from_json
from rusty_genius_core import is_final as is_final
from rusty_genius_core import message_types as message_types
from rusty_genius_core import to_dict as to_dict
from rusty_genius_core import to_json as to_json
from rusty_genius_core._protocol import __all__ as _protocol_names
from rusty_genius_core._public import export_order as _export_order
from rusty_genius_core._public import publish as _publish
from rusty_genius_core._wire import __all__ as _wire_names

from ._answer import AnswerBuilder as AnswerBuilder

# Core's protocol module and wire codec, but the two names the top level holds, and the builder.
__all__ = _export_order(
    [
        *(name for name in _protocol_names if name not in {"ChatMessage", "Role"}),
        *_wire_names,
        "AnswerBuilder",
    ]
)

_publish(__name__)
