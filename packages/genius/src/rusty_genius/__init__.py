"""rusty-genius: local-first, async, actor-based orchestration for LLM inference.

``async with Genius() as genius: answer = await genius.complete(model, "Hi")`` runs a
brainstem over facecrab's asset authority and a cortex engine. This module holds what a
user of :class:`Genius` needs: the facade and its streams, the configs
(:class:`InferenceConfig`, :class:`Sampling`, :class:`LoadOptions`), :class:`ChatMessage`,
the inference and asset events, and the errors one usually catches. The rest lives in
topic modules, as ``trio.lowlevel`` and ``anyio.abc`` do:

=============================  ==============================================================
:mod:`rusty_genius.protocol`   brainstem commands and output bodies, ``BrainstemInput`` /
                               ``BrainstemOutput``, ``is_final``, the JSON codec
                               (``to_json``, ``from_json``, ``to_dict``, ``from_dict``),
                               ``AnswerBuilder``
:mod:`rusty_genius.brainstem`  the actor: ``Orchestrator``, ``open_brainstem``,
                               ``BrainstemClient``, unload strategies (``HibernateAfter``...)
:mod:`rusty_genius.engines`    cortex engines (``PinkyEngine``, ``LlamaEngine``,
                               ``RemoteEngine``, ``Engine``, ``StopSignal``,
                               ``create_engine``), ``choose_backend``, the token pipeline,
                               the GGUF reader
:mod:`rusty_genius.assets`     facecrab's ``AssetAuthority``, ``Registry``, downloads
                               (``fetch_file``, ``RetryPolicy``), manifests, ``GeniusPaths``
:mod:`rusty_genius.server`     ``genius serve``: ``create_app``, ``GeniusApp``,
                               ``ServerStatistics``, ``open_server``
:mod:`rusty_genius.errors`     the whole error tree (``DownloadError``, ``IntegrityError``...)
                               and ``error_from_report``, ``unwrap_exception_groups``
=============================  ==============================================================

The lower distributions (``rusty_genius_core``, ``facecrab``, ``rusty_genius_cortex``,
``rusty_genius_stem``) export the same objects under their own names; ``repr`` and pickles
name the distribution that defines a class (``rusty_genius_core.Content``). ``genius`` on
the command line is :mod:`rusty_genius._cli`. ``import rusty_genius`` imports no HTTP client
or server: :mod:`rusty_genius.server` and ``RemoteEngine`` load theirs on first use.
"""

from __future__ import annotations

from facecrab import ModelNotFoundError as ModelNotFoundError
from facecrab import OfflineError as OfflineError
from rusty_genius_core import AssetComplete as AssetComplete
from rusty_genius_core import AssetError as AssetError
from rusty_genius_core import AssetEvent as AssetEvent
from rusty_genius_core import AssetFailed as AssetFailed
from rusty_genius_core import AssetProgress as AssetProgress
from rusty_genius_core import AssetStarted as AssetStarted
from rusty_genius_core import BusyError as BusyError
from rusty_genius_core import ChatMessage as ChatMessage
from rusty_genius_core import Complete as Complete
from rusty_genius_core import ConfigError as ConfigError
from rusty_genius_core import Content as Content
from rusty_genius_core import EngineError as EngineError
from rusty_genius_core import FinishReason as FinishReason
from rusty_genius_core import GeniusError as GeniusError
from rusty_genius_core import InferenceConfig as InferenceConfig
from rusty_genius_core import InferenceEvent as InferenceEvent
from rusty_genius_core import LoadOptions as LoadOptions
from rusty_genius_core import ManifestError as ManifestError
from rusty_genius_core import ProcessStart as ProcessStart
from rusty_genius_core import ProtocolError as ProtocolError
from rusty_genius_core import RequestCancelledError as RequestCancelledError
from rusty_genius_core import ResponseFormat as ResponseFormat
from rusty_genius_core import Role as Role
from rusty_genius_core import Sampling as Sampling
from rusty_genius_core import Thought as Thought
from rusty_genius_core import ThoughtDelta as ThoughtDelta
from rusty_genius_core import ThoughtEvent as ThoughtEvent
from rusty_genius_core import ThoughtStart as ThoughtStart
from rusty_genius_core import ThoughtStop as ThoughtStop
from rusty_genius_core import Tool as Tool
from rusty_genius_core import ToolCall as ToolCall
from rusty_genius_core import Usage as Usage
from rusty_genius_core._public import publish as _publish

# The topic modules, so that ``rusty_genius.engines.PinkyEngine`` works after ``import
# rusty_genius``; each is cheap (the HTTP stack stays behind names loaded on first use).
from . import assets as assets
from . import brainstem as brainstem
from . import engines as engines
from . import errors as errors
from . import protocol as protocol
from . import server as server
from ._agent_args import MessageLike as MessageLike
from ._answer import Answer as Answer
from ._genius import Genius as Genius
from ._streams import EventStream as EventStream
from ._streams import InferenceStream as InferenceStream
from ._streams import RequestEvent as RequestEvent

__all__ = [
    "Answer",
    "AssetComplete",
    "AssetError",
    "AssetEvent",
    "AssetFailed",
    "AssetProgress",
    "AssetStarted",
    "BusyError",
    "ChatMessage",
    "Complete",
    "ConfigError",
    "Content",
    "EngineError",
    "EventStream",
    "FinishReason",
    "Genius",
    "GeniusError",
    "InferenceConfig",
    "InferenceEvent",
    "InferenceStream",
    "LoadOptions",
    "ManifestError",
    "MessageLike",
    "ModelNotFoundError",
    "OfflineError",
    "ProcessStart",
    "ProtocolError",
    "RequestCancelledError",
    "RequestEvent",
    "ResponseFormat",
    "Role",
    "Sampling",
    "Thought",
    "ThoughtDelta",
    "ThoughtEvent",
    "ThoughtStart",
    "ThoughtStop",
    "Tool",
    "ToolCall",
    "Usage",
]

_publish(__name__)
