"""rusty-genius: local-first, async, actor-based orchestration for LLM inference.

``async with Genius() as genius: answer = await genius.complete(model, "Hi")`` runs a
brainstem over facecrab's asset authority and a cortex engine. This package also
re-exports the public names of ``rusty_genius_core``, ``facecrab``,
``rusty_genius_cortex`` and ``rusty_genius_stem``, so one import is enough.
``genius`` on the command line is :mod:`rusty_genius._cli`; ``genius serve`` is
:func:`create_app` (an ASGI app over a running Genius) served by :func:`open_server`.

:class:`RemoteEngine`, :func:`create_app`, :class:`GeniusApp` and
:class:`ServerStatistics` are imported on first use: their modules import httpx or
Starlette, which ``genius run`` with a downloaded model never needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

from facecrab import APP_NAME as APP_NAME
from facecrab import DEFAULT_ENDPOINT as DEFAULT_ENDPOINT
from facecrab import DEFAULT_MODEL as DEFAULT_MODEL
from facecrab import REGISTRY_VERSION as REGISTRY_VERSION
from facecrab import AmbiguousQuantizationError as AmbiguousQuantizationError
from facecrab import AssetAuthority as AssetAuthority
from facecrab import DownloadError as DownloadError
from facecrab import FetchResult as FetchResult
from facecrab import GeniusPaths as GeniusPaths
from facecrab import IntegrityError as IntegrityError
from facecrab import LocalModel as LocalModel
from facecrab import ModelNotFoundError as ModelNotFoundError
from facecrab import OfflineError as OfflineError
from facecrab import ProgressCallback as ProgressCallback
from facecrab import ProgressThrottle as ProgressThrottle
from facecrab import QuantizationNotFoundError as QuantizationNotFoundError
from facecrab import Registry as Registry
from facecrab import RegistryEntry as RegistryEntry
from facecrab import RegistryError as RegistryError
from facecrab import RegistryPart as RegistryPart
from facecrab import RemoteFile as RemoteFile
from facecrab import RepoNotFoundError as RepoNotFoundError
from facecrab import Resolution as Resolution
from facecrab import RetryPolicy as RetryPolicy
from facecrab import RevisionNotFoundError as RevisionNotFoundError
from facecrab import Sleep as Sleep
from facecrab import Wanted as Wanted
from facecrab import embedded_manifest as embedded_manifest
from facecrab import fetch_file as fetch_file
from facecrab import load_manifest as load_manifest
from facecrab import quantization_of as quantization_of
from facecrab import select_gguf as select_gguf
from rusty_genius_core import DEFAULT_REVISION as DEFAULT_REVISION
from rusty_genius_core import Ack as Ack
from rusty_genius_core import AssetComplete as AssetComplete
from rusty_genius_core import AssetError as AssetError
from rusty_genius_core import AssetEvent as AssetEvent
from rusty_genius_core import AssetFailed as AssetFailed
from rusty_genius_core import AssetProgress as AssetProgress
from rusty_genius_core import AssetStarted as AssetStarted
from rusty_genius_core import BrainstemInput as BrainstemInput
from rusty_genius_core import BrainstemOutput as BrainstemOutput
from rusty_genius_core import BusyError as BusyError
from rusty_genius_core import Cancel as Cancel
from rusty_genius_core import ChatMessage as ChatMessage
from rusty_genius_core import Command as Command
from rusty_genius_core import Complete as Complete
from rusty_genius_core import ConfigError as ConfigError
from rusty_genius_core import Content as Content
from rusty_genius_core import EngineError as EngineError
from rusty_genius_core import ErrorReport as ErrorReport
from rusty_genius_core import FinishReason as FinishReason
from rusty_genius_core import GeniusError as GeniusError
from rusty_genius_core import Infer as Infer
from rusty_genius_core import InferenceConfig as InferenceConfig
from rusty_genius_core import InferenceEvent as InferenceEvent
from rusty_genius_core import ListModels as ListModels
from rusty_genius_core import LoadModel as LoadModel
from rusty_genius_core import LoadOptions as LoadOptions
from rusty_genius_core import ManifestError as ManifestError
from rusty_genius_core import ModelEntry as ModelEntry
from rusty_genius_core import ModelList as ModelList
from rusty_genius_core import ModelLoaded as ModelLoaded
from rusty_genius_core import ModelReference as ModelReference
from rusty_genius_core import ModelSpec as ModelSpec
from rusty_genius_core import ModelStatus as ModelStatus
from rusty_genius_core import OutputBody as OutputBody
from rusty_genius_core import ProcessStart as ProcessStart
from rusty_genius_core import ProtocolError as ProtocolError
from rusty_genius_core import Purpose as Purpose
from rusty_genius_core import RequestCancelledError as RequestCancelledError
from rusty_genius_core import Role as Role
from rusty_genius_core import Sampling as Sampling
from rusty_genius_core import Shutdown as Shutdown
from rusty_genius_core import Thought as Thought
from rusty_genius_core import ThoughtDelta as ThoughtDelta
from rusty_genius_core import ThoughtEvent as ThoughtEvent
from rusty_genius_core import ThoughtStart as ThoughtStart
from rusty_genius_core import ThoughtStop as ThoughtStop
from rusty_genius_core import Unload as Unload
from rusty_genius_core import Usage as Usage
from rusty_genius_core import UserManifest as UserManifest
from rusty_genius_core import background_tasks as background_tasks
from rusty_genius_core import error_class as error_class
from rusty_genius_core import exception_leaves as exception_leaves
from rusty_genius_core import filename_matches_quant as filename_matches_quant
from rusty_genius_core import from_dict as from_dict
from rusty_genius_core import from_json as from_json
from rusty_genius_core import is_final as is_final
from rusty_genius_core import merge_manifests as merge_manifests
from rusty_genius_core import message_types as message_types
from rusty_genius_core import to_dict as to_dict
from rusty_genius_core import to_json as to_json
from rusty_genius_core import unwrap_exception_groups as unwrap_exception_groups
from rusty_genius_cortex import BACKEND_AUTO as BACKEND_AUTO
from rusty_genius_cortex import BACKEND_LLAMA as BACKEND_LLAMA
from rusty_genius_cortex import BACKEND_PINKY as BACKEND_PINKY
from rusty_genius_cortex import BACKEND_REMOTE as BACKEND_REMOTE
from rusty_genius_cortex import GGUF_FILE_TYPES as GGUF_FILE_TYPES
from rusty_genius_cortex import PINKY_THOUGHT as PINKY_THOUGHT
from rusty_genius_cortex import THINK_CLOSE as THINK_CLOSE
from rusty_genius_cortex import THINK_OPEN as THINK_OPEN
from rusty_genius_cortex import Backend as Backend
from rusty_genius_cortex import Engine as Engine
from rusty_genius_cortex import EngineBase as EngineBase
from rusty_genius_cortex import EngineRequest as EngineRequest
from rusty_genius_cortex import GgufArray as GgufArray
from rusty_genius_cortex import GgufInfo as GgufInfo
from rusty_genius_cortex import GgufValue as GgufValue
from rusty_genius_cortex import GgufValueType as GgufValueType
from rusty_genius_cortex import LlamaEngine as LlamaEngine
from rusty_genius_cortex import PinkyEngine as PinkyEngine
from rusty_genius_cortex import StopMatcher as StopMatcher
from rusty_genius_cortex import StopSignal as StopSignal
from rusty_genius_cortex import ThinkParser as ThinkParser
from rusty_genius_cortex import TokenPipeline as TokenPipeline
from rusty_genius_cortex import UsageMeter as UsageMeter
from rusty_genius_cortex import available_backends as available_backends
from rusty_genius_cortex import create_engine as create_engine
from rusty_genius_cortex import pinky_tokens as pinky_tokens
from rusty_genius_cortex import prompt_opens_thinking as prompt_opens_thinking
from rusty_genius_cortex import read_gguf_info as read_gguf_info
from rusty_genius_stem import DEFAULT_HIBERNATE_AFTER as DEFAULT_HIBERNATE_AFTER
from rusty_genius_stem import DEFAULT_MAX_QUEUE as DEFAULT_MAX_QUEUE
from rusty_genius_stem import AssetSource as AssetSource
from rusty_genius_stem import BrainstemClient as BrainstemClient
from rusty_genius_stem import CortexStrategy as CortexStrategy
from rusty_genius_stem import HibernateAfter as HibernateAfter
from rusty_genius_stem import Immediate as Immediate
from rusty_genius_stem import KeepAlive as KeepAlive
from rusty_genius_stem import LocalModelInfo as LocalModelInfo
from rusty_genius_stem import Orchestrator as Orchestrator
from rusty_genius_stem import RegistryRecord as RegistryRecord
from rusty_genius_stem import default_engine_factory as default_engine_factory
from rusty_genius_stem import open_brainstem as open_brainstem

from ._answer import Answer as Answer
from ._answer import AnswerBuilder as AnswerBuilder
from ._backend import DEFAULT_PROBE_TIMEOUT as DEFAULT_PROBE_TIMEOUT
from ._backend import BackendChoice as BackendChoice
from ._backend import BackendName as BackendName
from ._backend import choose_backend as choose_backend
from ._backend import hub_reachable as hub_reachable
from ._errors import error_from_report as error_from_report
from ._genius import EventStream as EventStream
from ._genius import Genius as Genius
from ._genius import InferenceStream as InferenceStream
from ._genius import MessageLike as MessageLike
from ._genius import RequestEvent as RequestEvent
from ._serve import ServerAddress as ServerAddress
from ._serve import open_server as open_server
from ._serve import parse_keep_alive as parse_keep_alive

if TYPE_CHECKING:
    from rusty_genius_cortex import RemoteEngine as RemoteEngine

    from ._serve import GeniusApp as GeniusApp
    from ._serve import ServerStatistics as ServerStatistics
    from ._serve import create_app as create_app

__all__ = [
    "APP_NAME",
    "BACKEND_AUTO",
    "BACKEND_LLAMA",
    "BACKEND_PINKY",
    "BACKEND_REMOTE",
    "DEFAULT_ENDPOINT",
    "DEFAULT_HIBERNATE_AFTER",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_MODEL",
    "DEFAULT_PROBE_TIMEOUT",
    "DEFAULT_REVISION",
    "GGUF_FILE_TYPES",
    "PINKY_THOUGHT",
    "REGISTRY_VERSION",
    "THINK_CLOSE",
    "THINK_OPEN",
    "Ack",
    "AmbiguousQuantizationError",
    "Answer",
    "AnswerBuilder",
    "AssetAuthority",
    "AssetComplete",
    "AssetError",
    "AssetEvent",
    "AssetFailed",
    "AssetProgress",
    "AssetSource",
    "AssetStarted",
    "Backend",
    "BackendChoice",
    "BackendName",
    "BrainstemClient",
    "BrainstemInput",
    "BrainstemOutput",
    "BusyError",
    "Cancel",
    "ChatMessage",
    "Command",
    "Complete",
    "ConfigError",
    "Content",
    "CortexStrategy",
    "DownloadError",
    "Engine",
    "EngineBase",
    "EngineError",
    "EngineRequest",
    "ErrorReport",
    "EventStream",
    "FetchResult",
    "FinishReason",
    "Genius",
    "GeniusApp",
    "GeniusError",
    "GeniusPaths",
    "GgufArray",
    "GgufInfo",
    "GgufValue",
    "GgufValueType",
    "HibernateAfter",
    "Immediate",
    "Infer",
    "InferenceConfig",
    "InferenceEvent",
    "InferenceStream",
    "IntegrityError",
    "KeepAlive",
    "ListModels",
    "LlamaEngine",
    "LoadModel",
    "LoadOptions",
    "LocalModel",
    "LocalModelInfo",
    "ManifestError",
    "MessageLike",
    "ModelEntry",
    "ModelList",
    "ModelLoaded",
    "ModelNotFoundError",
    "ModelReference",
    "ModelSpec",
    "ModelStatus",
    "OfflineError",
    "Orchestrator",
    "OutputBody",
    "PinkyEngine",
    "ProcessStart",
    "ProgressCallback",
    "ProgressThrottle",
    "ProtocolError",
    "Purpose",
    "QuantizationNotFoundError",
    "Registry",
    "RegistryEntry",
    "RegistryError",
    "RegistryPart",
    "RegistryRecord",
    "RemoteEngine",
    "RemoteFile",
    "RepoNotFoundError",
    "RequestCancelledError",
    "RequestEvent",
    "Resolution",
    "RetryPolicy",
    "RevisionNotFoundError",
    "Role",
    "Sampling",
    "ServerAddress",
    "ServerStatistics",
    "Shutdown",
    "Sleep",
    "StopMatcher",
    "StopSignal",
    "ThinkParser",
    "Thought",
    "ThoughtDelta",
    "ThoughtEvent",
    "ThoughtStart",
    "ThoughtStop",
    "TokenPipeline",
    "Unload",
    "Usage",
    "UsageMeter",
    "UserManifest",
    "Wanted",
    "available_backends",
    "background_tasks",
    "choose_backend",
    "create_app",
    "create_engine",
    "default_engine_factory",
    "embedded_manifest",
    "error_class",
    "error_from_report",
    "exception_leaves",
    "fetch_file",
    "filename_matches_quant",
    "from_dict",
    "from_json",
    "hub_reachable",
    "is_final",
    "load_manifest",
    "merge_manifests",
    "message_types",
    "open_brainstem",
    "open_server",
    "parse_keep_alive",
    "pinky_tokens",
    "prompt_opens_thinking",
    "quantization_of",
    "read_gguf_info",
    "select_gguf",
    "to_dict",
    "to_json",
    "unwrap_exception_groups",
]

# name -> the module it comes from, imported on first use (see the docstring)
_LAZY: Final = {
    "GeniusApp": "rusty_genius._serve",
    "RemoteEngine": "rusty_genius_cortex",
    "ServerStatistics": "rusty_genius._serve",
    "create_app": "rusty_genius._serve",
}

if not TYPE_CHECKING:  # PEP 562; hidden from type checkers, which would accept any name here

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})
