"""The cortex engines that turn a prompt into events, and choosing one.

:class:`PinkyEngine` needs no weights; :class:`LlamaEngine` runs GGUF files through
llama-cpp-python; :class:`RemoteEngine` forwards to an OpenAI-compatible server (imported on
first use: its module imports httpx). Each implements :class:`Engine` and is stopped through
a :class:`StopSignal`; :func:`create_engine` builds one by :data:`Backend` name and
:func:`choose_backend` picks ``pinky`` or ``llama`` for ``"auto"``. The text pipeline
(:class:`TokenPipeline`, :class:`StopMatcher`, :class:`ThinkParser`, :class:`UsageMeter`) and
the GGUF reader (:func:`read_gguf_info`) and the LoRA adapter check (:func:`check_adapters`)
are here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rusty_genius_core._lazy import lazy_exports as _lazy_exports
from rusty_genius_core._public import export_order as _export_order
from rusty_genius_core._public import publish as _publish
from rusty_genius_cortex import ANY_JSON_OBJECT as ANY_JSON_OBJECT
from rusty_genius_cortex import BACKEND_AUTO as BACKEND_AUTO
from rusty_genius_cortex import BACKEND_LLAMA as BACKEND_LLAMA
from rusty_genius_cortex import BACKEND_PINKY as BACKEND_PINKY
from rusty_genius_cortex import BACKEND_REMOTE as BACKEND_REMOTE
from rusty_genius_cortex import GGUF_FILE_TYPES as GGUF_FILE_TYPES
from rusty_genius_cortex import PINKY_THOUGHT as PINKY_THOUGHT
from rusty_genius_cortex import REAL_ENGINE_HINT as REAL_ENGINE_HINT
from rusty_genius_cortex import THINK_CLOSE as THINK_CLOSE
from rusty_genius_cortex import THINK_OPEN as THINK_OPEN
from rusty_genius_cortex import AdapterError as AdapterError
from rusty_genius_cortex import Backend as Backend
from rusty_genius_cortex import CallStyle as CallStyle
from rusty_genius_cortex import EmbedRequest as EmbedRequest
from rusty_genius_cortex import Engine as Engine
from rusty_genius_cortex import EngineBase as EngineBase
from rusty_genius_cortex import EngineRequest as EngineRequest
from rusty_genius_cortex import GgufArray as GgufArray
from rusty_genius_cortex import GgufInfo as GgufInfo
from rusty_genius_cortex import GgufValue as GgufValue
from rusty_genius_cortex import GgufValueType as GgufValueType
from rusty_genius_cortex import LlamaEngine as LlamaEngine
from rusty_genius_cortex import ParsedCall as ParsedCall
from rusty_genius_cortex import PinkyEngine as PinkyEngine
from rusty_genius_cortex import RawEmbeddings as RawEmbeddings
from rusty_genius_cortex import SchemaError as SchemaError
from rusty_genius_cortex import StopMatcher as StopMatcher
from rusty_genius_cortex import StopSignal as StopSignal
from rusty_genius_cortex import ThinkParser as ThinkParser
from rusty_genius_cortex import TokenPipeline as TokenPipeline
from rusty_genius_cortex import UsageMeter as UsageMeter
from rusty_genius_cortex import __all__ as _cortex_names
from rusty_genius_cortex import available_backends as available_backends
from rusty_genius_cortex import check_adapters as check_adapters
from rusty_genius_cortex import check_lora_adapter as check_lora_adapter
from rusty_genius_cortex import create_engine as create_engine
from rusty_genius_cortex import finish_vectors as finish_vectors
from rusty_genius_cortex import parse_calls as parse_calls
from rusty_genius_cortex import pinky_tokens as pinky_tokens
from rusty_genius_cortex import prompt_opens_thinking as prompt_opens_thinking
from rusty_genius_cortex import read_gguf_info as read_gguf_info
from rusty_genius_cortex import schema_to_grammar as schema_to_grammar

from ._backend import DEFAULT_PROBE_TIMEOUT as DEFAULT_PROBE_TIMEOUT
from ._backend import BackendChoice as BackendChoice
from ._backend import BackendName as BackendName
from ._backend import choose_backend as choose_backend
from ._backend import hub_reachable as hub_reachable

if TYPE_CHECKING:
    from rusty_genius_cortex import RemoteEngine as RemoteEngine
else:  # PEP 562; hidden from type checkers, which would otherwise accept any name here
    __getattr__, __dir__ = _lazy_exports(__name__, {"RemoteEngine": "rusty_genius_cortex"})

__all__ = _export_order(
    [
        *_cortex_names,
        "DEFAULT_PROBE_TIMEOUT",
        "BackendChoice",
        "BackendName",
        "choose_backend",
        "hub_reachable",
    ]
)

_publish(__name__)
