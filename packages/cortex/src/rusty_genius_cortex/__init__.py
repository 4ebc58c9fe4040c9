"""rusty-genius cortex: engines that turn a prompt into a stream of inference events.

:class:`PinkyEngine` is the stub that needs no weights; :class:`LlamaEngine` runs
GGUF models through llama-cpp-python (extra ``llama``, imported only when a
model loads); :class:`RemoteEngine` forwards to an OpenAI-compatible server
(imported on first use: its module imports httpx, which a local run never needs);
:func:`create_engine` picks one. All three are :class:`EngineBase` subclasses
(the turn, the request checks and the cold-load bookkeeping live there), and
all three push their text through the same :class:`TokenPipeline` (stop strings,
the :class:`ThinkParser`, the :class:`UsageMeter`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rusty_genius_core._lazy import lazy_exports as _lazy_exports
from rusty_genius_core._public import publish as _publish

from ._base import EngineBase as EngineBase
from ._base import EngineRequest as EngineRequest
from ._embedding import EmbedRequest as EmbedRequest
from ._embedding import RawEmbeddings as RawEmbeddings
from ._embedding import finish_vectors as finish_vectors
from ._engine import BACKEND_AUTO as BACKEND_AUTO
from ._engine import BACKEND_LLAMA as BACKEND_LLAMA
from ._engine import BACKEND_PINKY as BACKEND_PINKY
from ._engine import BACKEND_REMOTE as BACKEND_REMOTE
from ._engine import REAL_ENGINE_HINT as REAL_ENGINE_HINT
from ._engine import Backend as Backend
from ._engine import Engine as Engine
from ._engine import StopSignal as StopSignal
from ._factory import available_backends as available_backends
from ._factory import create_engine as create_engine
from ._gguf import GGUF_FILE_TYPES as GGUF_FILE_TYPES
from ._gguf import GgufArray as GgufArray
from ._gguf import GgufInfo as GgufInfo
from ._gguf import GgufValue as GgufValue
from ._gguf import GgufValueType as GgufValueType
from ._gguf import read_gguf_info as read_gguf_info
from ._gguf_adapter import AdapterError as AdapterError
from ._gguf_adapter import check_adapters as check_adapters
from ._gguf_adapter import check_lora_adapter as check_lora_adapter
from ._json_grammar import ANY_JSON_OBJECT as ANY_JSON_OBJECT
from ._json_grammar import SchemaError as SchemaError
from ._json_grammar import schema_to_grammar as schema_to_grammar
from ._llama import LlamaEngine as LlamaEngine
from ._pinky import PINKY_THOUGHT as PINKY_THOUGHT
from ._pinky import PinkyEngine as PinkyEngine
from ._pinky import pinky_tokens as pinky_tokens
from ._pipeline import StopMatcher as StopMatcher
from ._pipeline import TokenPipeline as TokenPipeline
from ._think import THINK_CLOSE as THINK_CLOSE
from ._think import THINK_OPEN as THINK_OPEN
from ._think import ThinkParser as ThinkParser
from ._think import prompt_opens_thinking as prompt_opens_thinking
from ._tool_parse import CallStyle as CallStyle
from ._tool_parse import ParsedCall as ParsedCall
from ._tool_parse import parse_calls as parse_calls
from ._usage import UsageMeter as UsageMeter

if TYPE_CHECKING:
    from ._remote import RemoteEngine as RemoteEngine
else:  # PEP 562; hidden from type checkers, which would otherwise accept any name here
    __getattr__, __dir__ = _lazy_exports(__name__, {"RemoteEngine": "._remote"})

__all__ = [
    "ANY_JSON_OBJECT",
    "BACKEND_AUTO",
    "BACKEND_LLAMA",
    "BACKEND_PINKY",
    "BACKEND_REMOTE",
    "GGUF_FILE_TYPES",
    "PINKY_THOUGHT",
    "REAL_ENGINE_HINT",
    "THINK_CLOSE",
    "THINK_OPEN",
    "AdapterError",
    "Backend",
    "CallStyle",
    "EmbedRequest",
    "Engine",
    "EngineBase",
    "EngineRequest",
    "GgufArray",
    "GgufInfo",
    "GgufValue",
    "GgufValueType",
    "LlamaEngine",
    "ParsedCall",
    "PinkyEngine",
    "RawEmbeddings",
    "RemoteEngine",
    "SchemaError",
    "StopMatcher",
    "StopSignal",
    "ThinkParser",
    "TokenPipeline",
    "UsageMeter",
    "available_backends",
    "check_adapters",
    "check_lora_adapter",
    "create_engine",
    "finish_vectors",
    "parse_calls",
    "pinky_tokens",
    "prompt_opens_thinking",
    "read_gguf_info",
    "schema_to_grammar",
]

_publish(__name__)  # reprs and pickles name this package, not its private modules
