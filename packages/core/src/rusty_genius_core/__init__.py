"""rusty-genius core: the shared vocabulary every other package speaks.

Protocol messages, manifests, :class:`InferenceConfig` and the error tree.
No I/O, and no dependency on any other rusty-genius package.
"""

from __future__ import annotations

from ._adapter import Adapter as Adapter
from ._adapter import AdapterFile as AdapterFile
from ._adapter import AdapterSet as AdapterSet
from ._adapter import adapter_set_key as adapter_set_key
from ._concurrency import background_tasks as background_tasks
from ._concurrency import exception_leaves as exception_leaves
from ._concurrency import loop_checkpoint as loop_checkpoint
from ._concurrency import loop_clock as loop_clock
from ._concurrency import running_on_trio as running_on_trio
from ._concurrency import unwrap_exception_groups as unwrap_exception_groups
from ._config import InferenceConfig as InferenceConfig
from ._config import LoadOptions as LoadOptions
from ._config import Sampling as Sampling
from ._created import GO_TEMPLATE_REFUSAL as GO_TEMPLATE_REFUSAL
from ._created import is_go_template as is_go_template
from ._embed import Embed as Embed
from ._embed import Embeddings as Embeddings
from ._errors import AssetError as AssetError
from ._errors import BusyError as BusyError
from ._errors import ConfigError as ConfigError
from ._errors import ContextLengthError as ContextLengthError
from ._errors import EngineError as EngineError
from ._errors import GeniusError as GeniusError
from ._errors import ManifestError as ManifestError
from ._errors import ProtocolError as ProtocolError
from ._errors import RequestCancelledError as RequestCancelledError
from ._errors import UnsupportedError as UnsupportedError
from ._errors import error_class as error_class
from ._events import AssetComplete as AssetComplete
from ._events import AssetEvent as AssetEvent
from ._events import AssetFailed as AssetFailed
from ._events import AssetProgress as AssetProgress
from ._events import AssetStarted as AssetStarted
from ._events import Complete as Complete
from ._events import Content as Content
from ._events import FinishReason as FinishReason
from ._events import InferenceEvent as InferenceEvent
from ._events import ProcessStart as ProcessStart
from ._events import Thought as Thought
from ._events import ThoughtDelta as ThoughtDelta
from ._events import ThoughtEvent as ThoughtEvent
from ._events import ThoughtStart as ThoughtStart
from ._events import ThoughtStop as ThoughtStop
from ._events import ToolCallDelta as ToolCallDelta
from ._events import Usage as Usage
from ._manifest import DEFAULT_REVISION as DEFAULT_REVISION
from ._manifest import ModelEntry as ModelEntry
from ._manifest import ModelReference as ModelReference
from ._manifest import ModelSpec as ModelSpec
from ._manifest import Purpose as Purpose
from ._manifest import UserManifest as UserManifest
from ._manifest import filename_matches_quant as filename_matches_quant
from ._manifest import merge_manifests as merge_manifests
from ._mirror import Mirror as Mirror
from ._parameters import OLLAMA_NAMES as OLLAMA_NAMES
from ._parameters import PARAMETER_LIMITS as PARAMETER_LIMITS
from ._parameters import SAMPLING_FIELDS as SAMPLING_FIELDS
from ._parameters import Parameters as Parameters
from ._protocol import Ack as Ack
from ._protocol import BrainstemInput as BrainstemInput
from ._protocol import BrainstemOutput as BrainstemOutput
from ._protocol import Cancel as Cancel
from ._protocol import ChatMessage as ChatMessage
from ._protocol import Command as Command
from ._protocol import ErrorReport as ErrorReport
from ._protocol import Infer as Infer
from ._protocol import ListModels as ListModels
from ._protocol import LoadModel as LoadModel
from ._protocol import ModelList as ModelList
from ._protocol import ModelLoaded as ModelLoaded
from ._protocol import ModelStatus as ModelStatus
from ._protocol import OutputBody as OutputBody
from ._protocol import Role as Role
from ._protocol import Shutdown as Shutdown
from ._protocol import Unload as Unload
from ._protocol import is_final as is_final
from ._public import publish as _publish
from ._tools import JsonObject as JsonObject
from ._tools import ResponseFormat as ResponseFormat
from ._tools import ResponseKind as ResponseKind
from ._tools import Tool as Tool
from ._tools import ToolCall as ToolCall
from ._tools import ToolCallCollector as ToolCallCollector
from ._tools import ToolChoice as ToolChoice
from ._tools import ToolChoiceMode as ToolChoiceMode
from ._wire import from_dict as from_dict
from ._wire import from_json as from_json
from ._wire import message_types as message_types
from ._wire import to_dict as to_dict
from ._wire import to_json as to_json

__all__ = [
    "DEFAULT_REVISION",
    "GO_TEMPLATE_REFUSAL",
    "OLLAMA_NAMES",
    "PARAMETER_LIMITS",
    "SAMPLING_FIELDS",
    "Ack",
    "Adapter",
    "AdapterFile",
    "AdapterSet",
    "AssetComplete",
    "AssetError",
    "AssetEvent",
    "AssetFailed",
    "AssetProgress",
    "AssetStarted",
    "BrainstemInput",
    "BrainstemOutput",
    "BusyError",
    "Cancel",
    "ChatMessage",
    "Command",
    "Complete",
    "ConfigError",
    "Content",
    "ContextLengthError",
    "Embed",
    "Embeddings",
    "EngineError",
    "ErrorReport",
    "FinishReason",
    "GeniusError",
    "Infer",
    "InferenceConfig",
    "InferenceEvent",
    "JsonObject",
    "ListModels",
    "LoadModel",
    "LoadOptions",
    "ManifestError",
    "Mirror",
    "ModelEntry",
    "ModelList",
    "ModelLoaded",
    "ModelReference",
    "ModelSpec",
    "ModelStatus",
    "OutputBody",
    "Parameters",
    "ProcessStart",
    "ProtocolError",
    "Purpose",
    "RequestCancelledError",
    "ResponseFormat",
    "ResponseKind",
    "Role",
    "Sampling",
    "Shutdown",
    "Thought",
    "ThoughtDelta",
    "ThoughtEvent",
    "ThoughtStart",
    "ThoughtStop",
    "Tool",
    "ToolCall",
    "ToolCallCollector",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceMode",
    "Unload",
    "UnsupportedError",
    "Usage",
    "UserManifest",
    "adapter_set_key",
    "background_tasks",
    "error_class",
    "exception_leaves",
    "filename_matches_quant",
    "from_dict",
    "from_json",
    "is_final",
    "is_go_template",
    "loop_checkpoint",
    "loop_clock",
    "merge_manifests",
    "message_types",
    "running_on_trio",
    "to_dict",
    "to_json",
    "unwrap_exception_groups",
]

_publish(__name__)  # reprs, pickles and docs say rusty_genius_core.Content, not ._events
